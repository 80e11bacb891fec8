"""The incident list at national scale (issue 8): a keyset page of what the member may see, in a
constant number of queries, with a count that stops at a cap and never a statement that counts
the whole visible set."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cert_portal.pagination import Direction, Position, decode_cursor, encode_cursor
from incidents import access
from incidents.access import count_visible_incidents, visible_incident_page, visible_incidents
from incidents.grants import sync_grants
from incidents.models import Incident, Observable, OwnershipPeriod, Status
from organizations import services as registry
from tests.factories import make_incident
from tests.incidents.support import T0
from tests.twofactor import sign_in


def incidents_at(owner, times, *, tag: str, tlp: str = "TLP:AMBER",
                 status: str = Status.NEW, assignee=None) -> list[int]:
    """Incidents owned by `owner`, reported at `times`, in bulk with their ownership records and
    grants as the services leave them. Returns their ids in the order of `times`."""
    rows = Incident.objects.bulk_create([
        Incident(reference=f"TEST-{tag}-{n:06d}", title=f"List {tag} {n}", classification="fraud",
                 incident_type="phishing", severity=2, tlp=tlp, status=status, owner_cert=owner,
                 reported_at=at, owner_since=at, ack_due_at=at + timedelta(hours=4),
                 resolve_due_at=at + timedelta(days=7), assignee=assignee)
        for n, at in enumerate(times)])
    OwnershipPeriod.objects.bulk_create([
        OwnershipPeriod(incident=row, cert=owner, started_at=row.reported_at) for row in rows])
    ids = [row.pk for row in rows]
    sync_grants(ids)
    return ids


def newest_first(ids_and_times) -> list[int]:
    return [pk for pk, at in sorted(ids_and_times, key=lambda pair: (pair[1], pair[0]),
                                    reverse=True)]


def walk_pages(user, *, size, within=None) -> list[list[int]]:
    """Every page from the first, following the older cursors."""
    pages, cursor = [], None
    while True:
        page = visible_incident_page(user, size=size, cursor=cursor, within=within)
        pages.append([incident.pk for incident in page.incidents])
        if page.older_cursor is None:
            return pages
        cursor = decode_cursor(page.older_cursor)


@pytest.fixture
def lahore_many(certs):
    """23 Lahore incidents, several reported at the same moment (the order breaks ties by id)."""
    times = [T0 - timedelta(hours=n // 3) for n in range(23)]
    ids = incidents_at(certs["lahore"], times, tag="LHR")
    return newest_first(zip(ids, times, strict=True))


# --- The page and its cursors -----------------------------------------------------------------

def test_pages_walk_every_visible_incident_once_newest_first(certs, member, lahore_many):
    hidden = incidents_at(certs["sindh"], [T0 + timedelta(hours=1)], tag="SND")
    pages = walk_pages(member("lahore", "handler"), size=5)

    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [pk for page in pages for pk in page] == lahore_many
    assert not set(hidden) & {pk for page in pages for pk in page}


def test_newer_cursor_leads_back_to_the_page_before(certs, member, lahore_many):
    user = member("lahore", "handler")
    first = visible_incident_page(user, size=5)
    assert first.newer_cursor is None  # nothing newer than the first page
    second = visible_incident_page(user, size=5, cursor=decode_cursor(first.older_cursor))
    third = visible_incident_page(user, size=5, cursor=decode_cursor(second.older_cursor))

    back = visible_incident_page(user, size=5, cursor=decode_cursor(third.newer_cursor))
    assert [i.pk for i in back.incidents] == [i.pk for i in second.incidents] == lahore_many[5:10]
    back_to_first = visible_incident_page(user, size=5, cursor=decode_cursor(back.newer_cursor))
    assert [i.pk for i in back_to_first.incidents] == lahore_many[:5]
    assert back_to_first.newer_cursor is None
    assert back_to_first.older_cursor is not None


def test_incidents_reported_meanwhile_do_not_shift_the_next_page(certs, member, lahore_many):
    user = member("lahore", "handler")
    first = visible_incident_page(user, size=5)

    incidents_at(certs["lahore"], [T0 + timedelta(minutes=n) for n in range(1, 4)], tag="NEW")
    second = visible_incident_page(user, size=5, cursor=decode_cursor(first.older_cursor))

    assert [i.pk for i in second.incidents] == lahore_many[5:10]


def test_a_member_of_two_certs_sees_each_incident_once_in_order(certs, member, lahore_many):
    user = member("lahore", "handler")
    registry.membership_add(cert=certs["punjab"], user=user, role="analyst", actor=None)
    user = type(user).objects.get(pk=user.pk)  # roles are cached per user object
    punjab_times = [T0 - timedelta(minutes=30 + 60 * n) for n in range(4)]
    punjab_ids = incidents_at(certs["punjab"], punjab_times, tag="PB")
    # Lahore's incidents are visible to the member through Lahore and, as an ancestor, Punjab.
    expected = newest_first(
        [(pk, Incident.objects.get(pk=pk).reported_at) for pk in lahore_many]
        + list(zip(punjab_ids, punjab_times, strict=True)))

    pages = walk_pages(user, size=4)

    assert [pk for page in pages for pk in page] == expected
    assert count_visible_incidents(user) == (27, False)


def test_filters_narrow_the_page_and_the_count(certs, member, lahore_many):
    user = member("lahore", "handler")
    closed = incidents_at(certs["lahore"], [T0 - timedelta(days=3, hours=n) for n in range(6)],
                          tag="CLS", status=Status.CLOSED)
    within = Incident.objects.filter(status=Status.CLOSED)

    pages = walk_pages(user, size=4, within=within)

    assert [pk for page in pages for pk in page] == closed
    assert count_visible_incidents(user, within=within) == (6, False)


def test_nobody_outside_a_cert_gets_a_page(certs, outsider, lahore_many):
    page = visible_incident_page(outsider, size=25)
    assert page.incidents == [] and page.older_cursor is None
    assert count_visible_incidents(outsider) == (0, False)


def test_the_count_stops_at_the_cap(certs, member, lahore_many, monkeypatch):
    user = member("lahore", "handler")
    assert count_visible_incidents(user, cap=22) == (22, True)
    assert count_visible_incidents(user, cap=23) == (23, False)


def test_page_and_visible_incidents_decide_alike(certs, member):
    """Every TLP and relation the permission matrix covers: the page shows exactly the incidents
    `visible_incidents` lets through, for members of an owner, an ancestor and a sharer."""
    incidents = [make_incident(owner_cert=certs[owner], tlp=tlp, title=f"{owner} {tlp}")
                 for owner in ("lahore", "banking") for tlp in
                 ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")]
    for user in (member("lahore", "handler"), member("punjab", "handler"),
                 member("national", "analyst"), member("cii", "head"),
                 member("example-bank-soc", "analyst")):
        shown = [pk for page in walk_pages(user, size=3) for pk in page]
        assert sorted(shown) == sorted(visible_incidents(user).filter(
            pk__in=[i.pk for i in incidents]).values_list("pk", flat=True))
        assert len(shown) == len(set(shown))


# --- The cursor --------------------------------------------------------------------------------

def test_a_cursor_round_trips_and_a_damaged_one_is_refused():
    position = Position(at=T0, pk=42)
    cursor = decode_cursor(encode_cursor(Direction.OLDER, position))
    assert (cursor.direction, cursor.position) == (Direction.OLDER, position)
    for damaged in ("", "x", "bm90LWEtY3Vyc29y", encode_cursor(Direction.OLDER, position)[:-3],
                    "%%%", "bnwyMDI2LTEwLTAxfDA"):
        with pytest.raises(ValueError, match="damaged or out of date"):
            decode_cursor(damaged)


# --- The page in the staff dashboard (the queue's "all" tab; tests/dashboard/test_queue.py has the
# rest of the queue) ----------------------------------------------------------------------------

QUEUE = reverse("dashboard:queue")
ALL = QUEUE + "?tab=all"


def list_references(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return [row.reference for row in response.context["queue"].rows]


def next_link(response) -> str | None:
    found = re.search(r'href="(\?[^"]*)" rel="next"', response.content.decode())
    return found[1].replace("&amp;", "&") if found else None


def test_list_page_follows_older_links_to_the_end(certs, member):
    ids = incidents_at(certs["lahore"], [T0 - timedelta(minutes=n // 2) for n in range(60)],
                       tag="LNK")
    client = sign_in(Client(), member("lahore", "handler"))
    seen, url = [], ALL
    while url:
        response = client.get(url if url.startswith("/") else reverse("dashboard:queue") + url)
        seen += list_references(response)
        url = next_link(response)
    expected = list(Incident.objects.filter(pk__in=ids)
                    .order_by("-reported_at", "-pk").values_list("reference", flat=True))
    assert seen == expected
    assert 'rel="prev"' in response.content.decode()


@pytest.mark.parametrize("size", [25, 100])
def test_list_page_queries_are_the_same_at_every_size_and_depth(certs, member, size):
    analyst = member("lahore", "analyst")
    incidents_at(certs["lahore"], [T0 - timedelta(minutes=n) for n in range(230)], tag="Q",
                 assignee=analyst)
    client = sign_in(Client(), member("lahore", "handler"))

    def measured(url):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return response, queries

    measured(ALL)  # the first page of a visit also records the visit
    small, small_queries = measured(f"{ALL}&size=25")
    first, first_queries = measured(f"{ALL}&size={size}")
    assert len(list_references(first)) == size
    deeper, deeper_queries = measured(reverse("dashboard:queue") + next_link(first))
    assert len(list_references(deeper)) == size

    assert len(first_queries) == len(small_queries) == len(deeper_queries)
    for query in first_queries.captured_queries:
        sql = query["sql"].upper()
        # Every count stops at a cap: the lists' at COUNT_CAP, the header's unread notices at 100.
        assert sql.count("COUNT(") <= len(re.findall(r"LIMIT \d+\)", sql)), query["sql"]
    assert "analyst" in first.content.decode()  # assignees come with the page


def test_a_parent_finds_neither_a_red_incident_nor_its_observable(certs, member, lahore_many):
    with_ip = Incident.objects.get(pk=lahore_many[4])
    Observable.objects.create(incident=with_ip, type="ipv4", value="192.0.2.7", created_at=T0)
    red = make_incident(owner_cert=certs["lahore"], tlp="TLP:RED", title="Quiet red case")
    Observable.objects.create(incident=red, type="ipv4", value="192.0.2.7", created_at=T0)
    lahore = sign_in(Client(), member("lahore", "handler"))
    assert sorted(list_references(lahore.get(QUEUE, {"tab": "all", "q": "192.0.2[.]7"}))) == sorted(
        [with_ip.reference, red.reference])

    punjab = sign_in(Client(), member("punjab", "handler"))
    assert list_references(punjab.get(QUEUE, {"tab": "all", "q": "192.0.2.7"})) == [with_ip.reference]
    empty = punjab.get(QUEUE, {"tab": "all", "q": red.reference})
    assert list_references(empty) == []
    assert "Quiet red case" not in empty.content.decode()


def test_a_page_counts_in_its_own_statement(certs, member, lahore_many, monkeypatch):
    user = member("lahore", "handler")
    with CaptureQueriesContext(connection) as queries:
        page = visible_incident_page(user, size=5, with_count=True)
    assert (page.count, page.count_is_capped) == (23, False)
    assert len(queries) == 2  # the member's CERTs, then the page with its count
    monkeypatch.setattr(access, "COUNT_CAP", 20)
    page = visible_incident_page(user, size=5, with_count=True)
    assert (page.count, page.count_is_capped) == (20, True)
    # Past the last page the count still counts everything the list holds.
    beyond = visible_incident_page(user, size=5, with_count=True, cursor=decode_cursor(
        encode_cursor(Direction.OLDER, Position(at=T0 - timedelta(days=365), pk=1))))
    assert beyond.incidents == [] and (beyond.count, beyond.count_is_capped) == (20, True)
