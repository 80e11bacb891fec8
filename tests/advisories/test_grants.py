"""Advisory grants (advisories.grants): the pure rule on plain ids, the rows the services leave for
each label, and the sync that repairs them by difference in a constant number of queries.

The table is retyped from DOMAIN.md §2 and §5: the author CERT views and works on its advisories
in every state; once published, TLP:AMBER and AMBER+STRICT give view to each audience CERT and
TLP:RED to each named reader (a user grant); TLP:CLEAR and GREEN need no grant at all.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advisories import access
from advisories.grants import derive_advisory_grants, sync_advisory_grants
from advisories.models import (
    Advisory,
    AdvisoryGroupObjectPermission,
    AdvisoryUserObjectPermission,
)

pytestmark = pytest.mark.django_db

TLPS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
VIEW, WORK = "view_advisory", "work_advisory"
AUTHOR_ROWS = {VIEW, WORK}

# label -> (the audience gets view, the named readers get view), once published
PUBLISHED = {
    "TLP:CLEAR": (False, False),
    "TLP:GREEN": (False, False),
    "TLP:AMBER": (True, False),
    "TLP:AMBER+STRICT": (True, False),
    "TLP:RED": (False, True),
}


# --- the pure rule ------------------------------------------------------------------------------

@pytest.mark.parametrize("tlp", TLPS)
@pytest.mark.parametrize("published", [True, False])
def test_derive_advisory_grants(tlp, published):
    certs, users = derive_advisory_grants(author_cert_id=1, published=published, tlp=tlp,
                                          audience_ids=[7, 8], reader_ids=[41, 42])
    audience, readers = PUBLISHED[tlp] if published else (False, False)
    expected_certs = {1: frozenset(AUTHOR_ROWS)}
    if audience:
        expected_certs.update({7: frozenset({VIEW}), 8: frozenset({VIEW})})
    assert certs == expected_certs
    assert users == ({41: frozenset({VIEW}), 42: frozenset({VIEW})} if readers else {})


def test_the_author_cert_in_its_own_audience_keeps_its_work_grant():
    certs, _ = derive_advisory_grants(author_cert_id=1, published=True, tlp="TLP:AMBER",
                                      audience_ids=[1, 2], reader_ids=[])
    assert certs == {1: frozenset(AUTHOR_ROWS), 2: frozenset({VIEW})}


# --- the rows the services leave ----------------------------------------------------------------

def group_rows(advisory) -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    for slug, codename in (AdvisoryGroupObjectPermission.objects.filter(content_object_id=advisory.pk)
                           .values_list("group__cert__slug", "permission__codename")):
        rows.setdefault(slug, set()).add(codename)
    return rows


def user_rows(advisory) -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    for username, codename in (AdvisoryUserObjectPermission.objects.filter(
            content_object_id=advisory.pk).values_list("user__username", "permission__codename")):
        rows.setdefault(username, set()).add(codename)
    return rows


@pytest.fixture
def write(certs, member, make_advisory):
    """write(tlp, published=True) -> an advisory of the Lahore CERT for the banking and karachi
    CERTs and the telecom analyst (the services keep what the label uses)."""
    reader = member("telecom", "analyst")

    def make(tlp, published=True):
        return make_advisory(cert="lahore", tlp=tlp, published=published,
                             audience_ids=[certs["banking"].pk, certs["karachi"].pk],
                             reader_ids=[reader.pk])
    return make


@pytest.mark.parametrize("tlp", TLPS)
def test_grant_rows_of_a_published_advisory(write, tlp):
    advisory = write(tlp)
    audience, readers = PUBLISHED[tlp]
    expected = {"lahore": AUTHOR_ROWS}
    if audience:
        expected.update({"banking": {VIEW}, "karachi": {VIEW}})
    assert group_rows(advisory) == expected
    assert user_rows(advisory) == ({"telecom.analyst.test": {VIEW}} if readers else {})


@pytest.mark.parametrize("tlp", TLPS)
def test_a_draft_is_granted_to_its_author_cert_only(write, tlp):
    advisory = write(tlp, published=False)
    assert group_rows(advisory) == {"lahore": AUTHOR_ROWS}
    assert user_rows(advisory) == {}


# --- sync: idempotent, and it repairs -----------------------------------------------------------

@pytest.fixture
def amber(write):
    return write("TLP:AMBER")


@pytest.fixture
def red(write):
    return write("TLP:RED")


AMBER_ROWS = {"lahore": AUTHOR_ROWS, "banking": {VIEW}, "karachi": {VIEW}}


def test_sync_is_idempotent(amber, red):
    assert sync_advisory_grants([amber.pk, red.pk]) == (0, 0)
    assert sync_advisory_grants([]) == (0, 0)
    assert group_rows(amber) == AMBER_ROWS
    assert user_rows(red) == {"telecom.analyst.test": {VIEW}}


def test_sync_restores_deleted_rows(amber, red, member):
    AdvisoryGroupObjectPermission.objects.filter(content_object=amber, group__cert__slug="banking").delete()
    AdvisoryUserObjectPermission.objects.filter(content_object=red).delete()
    reader = member("telecom", "analyst")
    assert not access.may_read(reader, red)

    assert sync_advisory_grants([amber.pk, red.pk]) == (2, 0)
    assert group_rows(amber) == AMBER_ROWS
    assert access.may_read(reader, red)


def test_sync_removes_an_extra_row(certs, amber, member):
    AdvisoryGroupObjectPermission.objects.create(
        content_object=amber, group=certs["sindh"].group,
        permission=Permission.objects.get(content_type__app_label="advisories", codename=VIEW))
    sindh = member("sindh", "analyst")
    assert access.may_read(sindh, amber)

    assert sync_advisory_grants([amber.pk]) == (0, 1)
    assert group_rows(amber) == AMBER_ROWS
    assert not access.may_read(sindh, amber)


def test_sync_follows_a_change_made_behind_the_services_back(amber):
    Advisory.objects.filter(pk=amber.pk).update(tlp="TLP:GREEN")
    assert sync_advisory_grants([amber.pk]) == (0, 2)
    assert group_rows(amber) == {"lahore": AUTHOR_ROWS}


def _sync_queries(ids) -> int:
    with CaptureQueriesContext(connection) as captured:
        sync_advisory_grants(ids)
    return len(captured.captured_queries)


def test_sync_takes_as_many_queries_for_20_advisories_as_for_2(write):
    labels = ["TLP:AMBER", "TLP:RED", "TLP:AMBER+STRICT", "TLP:GREEN", "TLP:CLEAR"]
    made = [write(labels[n % len(labels)]) for n in range(2)]

    def measure(advisories) -> dict[str, int]:
        ids = [advisory.pk for advisory in advisories]
        counts = {"in place": _sync_queries(ids)}
        AdvisoryGroupObjectPermission.objects.filter(content_object_id__in=ids).delete()
        AdvisoryUserObjectPermission.objects.filter(content_object_id__in=ids).delete()
        counts["all missing"] = _sync_queries(ids)
        Advisory.objects.filter(pk__in=ids).update(tlp="TLP:CLEAR")
        counts["all extra"] = _sync_queries(ids)
        for advisory in advisories:  # as they were
            Advisory.objects.filter(pk=advisory.pk).update(tlp=advisory.tlp)
        sync_advisory_grants(ids)
        return counts

    two = measure(made)
    made += [write(labels[n % len(labels)]) for n in range(2, 20)]
    twenty = measure(made)
    assert twenty == two, (two, twenty)
    assert max(two.values()) <= 15, two
    # Repairs write (one DELETE or INSERT per table) on top of the reads of a pass in place, and
    # put them on the audit trail (issue 13): the names of the groups and of the users, and one
    # INSERT of PERMISSION_CHANGED events.
    assert two["all missing"] == two["all extra"] == two["in place"] + 2 + 3, two
    # Against a sync that did nothing: the grants are all back.
    assert group_rows(made[0]) == AMBER_ROWS and user_rows(made[1]) == {"telecom.analyst.test": {VIEW}}
