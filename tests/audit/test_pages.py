"""The heads' audit trail pages (issue 13, item 1): a head of the active CERT reads its trail and
who outside it viewed what it owns; every other member is refused, another CERT's head gets none
of it; filters, keyset pages that hold with equal timestamps, a number of queries that does not
grow with the page or the trail, and rendered text escaped. The CSV export: tests/audit/
test_pages_export.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from django.conf import settings
from django.http import Http404
from django.test import Client

from cert_portal.audit import access
from cert_portal.audit.models import AuditEvent, AuditKind, Channel
from cert_portal.audit.record import build, record, record_many
from cert_portal.staff import ACTIVE_CERT_SESSION_KEY
from organizations.services import membership_add
from tests.factories import UserFactory, make_incident
from tests.incidents.support import T0
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

TRAIL = "/dashboard/audit/"
OUTSIDE = "/dashboard/audit/outside/"


def client_of(user) -> Client:
    return sign_in(Client(), user)


def event(kind=AuditKind.INCIDENT_CHANGED, *, cert, actor_label="", at=None, **fields) -> AuditEvent:
    return record(kind, request=None, cert=cert, actor_label=actor_label,
                  channel=fields.pop("channel", Channel.DASHBOARD), at=at or T0, **fields)


@pytest.fixture
def two_trails(certs):
    """One marked event in the trail of Punjab and one in Sindh's."""
    punjab = event(cert=certs["punjab"], actor_label="punjab-marker", object_label="PB thing")
    sindh = event(cert=certs["sindh"], actor_label="sindh-marker", object_label="SD thing")
    return punjab, sindh


# --- Who reads what ----------------------------------------------------------------------------


def test_a_head_reads_the_trail_of_their_cert_and_nothing_of_another(member, two_trails):
    page = client_of(member("punjab", "head")).get(TRAIL)
    assert page.status_code == 200
    text = page.content.decode()
    assert "punjab-marker" in text and "PB thing" in text
    assert "sindh-marker" not in text and "SD thing" not in text
    assert [row.event.pk for row in page.context["page"].rows
            if row.event.actor_label.endswith("-marker")] == [two_trails[0].pk]

    other = client_of(member("sindh", "head")).get(TRAIL).content.decode()
    assert "sindh-marker" in other
    assert "punjab-marker" not in other


@pytest.mark.parametrize("role", ["handler", "analyst", "liaison"])
def test_members_who_are_not_heads_are_refused_the_pages_and_the_exports(member, two_trails,
                                                                          role):
    client = client_of(member("punjab", role))
    for url in (TRAIL, OUTSIDE, TRAIL + "export.csv", OUTSIDE + "export.csv"):
        response = client.get(url)
        assert response.status_code == 403, url
        text = response.content.decode()
        assert "Only a head of Punjab Government CERT reads its audit trail." in text
        assert "punjab-marker" not in text
    assert not AuditEvent.objects.filter(kind=AuditKind.AUDIT_EXPORTED).exists()


def test_no_member_no_second_factor_and_no_sign_in_get_no_trail(member, outsider, two_trails):
    refused = client_of(outsider).get(TRAIL)
    assert refused.status_code == 403
    assert "not a member of any active CERT" in refused.content.decode()
    assert "punjab-marker" not in refused.content.decode()

    half = Client()
    half.force_login(member("punjab", "head"))  # a password, no second factor
    response = half.get(TRAIL)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")

    anonymous = Client().get(TRAIL + "export.csv")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/?next=")
    assert not AuditEvent.objects.filter(kind=AuditKind.AUDIT_EXPORTED).exists()


def test_the_access_module_answers_404_for_a_cert_the_user_does_not_head(member, certs,
                                                                          outsider, two_trails):
    punjab, sindh = certs["punjab"], certs["sindh"]
    head = member("punjab", "head")
    assert list(access.cert_trail(head, punjab).filter(actor_label="punjab-marker")) == [
        two_trails[0]]
    assert access.may_read_trail(head, punjab)
    superuser = UserFactory(username="platform-admin", is_superuser=True, is_staff=True)
    for user, cert in ((head, sindh), (member("sindh", "head"), punjab),
                       (member("punjab", "handler"), punjab), (outsider, punjab),
                       (superuser, punjab)):
        assert not access.may_read_trail(user, cert)
        with pytest.raises(Http404):
            access.cert_trail(user, cert)
        with pytest.raises(Http404):
            access.outside_views(user, cert)
    head.is_active = False
    head.save(update_fields=["is_active"])
    assert not access.may_read_trail(head, punjab)


def test_a_head_of_several_certs_reads_the_trail_of_the_one_they_work_as(certs, two_trails):
    user = UserFactory(username="two.heads")
    membership_add(cert=certs["punjab"], user=user, role="head", actor=None)
    membership_add(cert=certs["sindh"], user=user, role="head", actor=None)
    membership_add(cert=certs["lahore"], user=user, role="handler", actor=None)
    client = client_of(user)
    for slug, shown, hidden in (("punjab", "punjab-marker", "sindh-marker"),
                                ("sindh", "sindh-marker", "punjab-marker")):
        session = client.session
        session[ACTIVE_CERT_SESSION_KEY] = certs[slug].pk
        session.save()
        text = client.get(TRAIL).content.decode()
        assert shown in text and hidden not in text
    # Working as a CERT where they are a handler: refused, though they head two others.
    session = client.session
    session[ACTIVE_CERT_SESSION_KEY] = certs["lahore"].pk
    session.save()
    assert client.get(TRAIL).status_code == 403


def test_the_navigation_links_the_trail_for_heads_only(member):
    assert f'href="{TRAIL}"' in client_of(member("punjab", "head")).get("/dashboard/").content.decode()
    handler_page = client_of(member("punjab", "handler")).get("/dashboard/").content.decode()
    assert f'href="{TRAIL}"' not in handler_page


# --- Outside views -----------------------------------------------------------------------------


def test_outside_views_show_who_outside_the_owner_looked_and_not_its_own_members(
        certs, member, clock):
    punjab_incident = make_incident(owner_cert=certs["punjab"], title="Punjab outage")
    karachi_incident = make_incident(owner_cert=certs["karachi"], title="Karachi outage")
    national_head, government_head = member("national", "head"), member("government", "head")
    own = member("punjab", "handler")
    seen = record(AuditKind.INCIDENT_VIEWED, request=None, actor=national_head,
                  cert=certs["national"], obj=punjab_incident)
    seen_above = record(AuditKind.ATTACHMENT_DOWNLOADED, request=None, actor=government_head,
                        cert=certs["government"], object_type="attachment", object_id="9",
                        object_label=f"{punjab_incident.reference}: logs.zip",
                        object_cert=certs["punjab"])
    by_no_cert = record(AuditKind.ADVISORY_VIEWED, request=None, actor_label="feed-reader",
                        object_type="advisory", object_id="4", object_label="PK-ADV-2026-0001",
                        object_cert=certs["punjab"])
    own_view = record(AuditKind.INCIDENT_VIEWED, request=None, actor=own, cert=certs["punjab"],
                      obj=punjab_incident)
    not_a_view = record(AuditKind.INCIDENT_CHANGED, request=None, actor=national_head,
                        cert=certs["national"], obj=punjab_incident)
    elsewhere = record(AuditKind.INCIDENT_VIEWED, request=None, actor=national_head,
                       cert=certs["national"], obj=karachi_incident)

    page = client_of(member("punjab", "head")).get(OUTSIDE)
    assert page.status_code == 200
    shown = [row.event.pk for row in page.context["page"].rows]
    assert set(shown) == {seen.pk, seen_above.pk, by_no_cert.pk}
    assert own_view.pk not in shown and not_a_view.pk not in shown and elsewhere.pk not in shown
    text = page.content.decode()
    assert "national.head.test" in text and "PK-CERT" in text
    assert karachi_incident.reference not in text

    # The Punjab handler's view is in Punjab's own trail instead.
    trail = client_of(member("punjab", "head")).get(TRAIL)
    assert own_view.pk in [row.event.pk for row in trail.context["page"].rows]
    # Karachi's head sees the view of Karachi's incident, none of Punjab's.
    karachi = client_of(member("karachi", "head")).get(OUTSIDE)
    assert [row.event.pk for row in karachi.context["page"].rows] == [elsewhere.pk]


# --- Filters -----------------------------------------------------------------------------------


def test_filters_by_kind_actor_object_and_days_in_the_portal_time_zone(certs, member):
    punjab = certs["punjab"]
    # 19:30 UTC on 10 March is 00:30 on 11 March in Karachi (UTC+5).
    late = event(AuditKind.SIGN_IN, cert=punjab, actor_label="Ayesha.Khan",
                 at=datetime(2026, 3, 10, 19, 30, tzinfo=UTC))
    early = event(AuditKind.INCIDENT_VIEWED, cert=punjab, actor_label="bilal",
                  object_label="PK-INC-2026-000123", at=datetime(2026, 3, 10, 5, 0, tzinfo=UTC))
    client = client_of(member("punjab", "head"))

    def shown(**params) -> set[int]:
        response = client.get(TRAIL, params)
        assert response.status_code == 200, response.content
        return {row.event.pk for row in response.context["page"].rows} & {late.pk, early.pk}

    assert shown() == {late.pk, early.pk}
    assert shown(kind="sign_in") == {late.pk}
    assert shown(actor="ayesha") == {late.pk}
    assert shown(object="inc-2026-000123") == {early.pk}
    assert shown(date_from="2026-03-11") == {late.pk}
    assert shown(date_to="2026-03-10") == {early.pk}
    assert shown(date_from="2026-03-10", date_to="2026-03-10") == {early.pk}
    assert shown(kind="incident_viewed", actor="ayesha") == set()
    empty = client.get(TRAIL, {"actor": "nobody-at-all"}).content.decode()
    assert "No event matches these filters." in empty


def test_times_are_shown_in_the_portal_time_zone_with_the_offset(certs, member):
    event(cert=certs["punjab"], actor_label="timed", at=T0)  # 05:00 UTC
    text = client_of(member("punjab", "head")).get(TRAIL, {"actor": "timed"}).content.decode()
    assert "2026-03-10 10:00:00 +0500" in text
    assert 'datetime="2026-03-10T10:00:00+05:00"' in text


def test_bad_filters_are_named_and_show_nothing(certs, member, two_trails):
    client = client_of(member("punjab", "head"))
    response = client.get(TRAIL, {"kind": "made_up", "date_from": "31/31/2026",
                                  "date_to": "2026-01-01", "size": "7", "actor": "x" * 151})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Choose an event from the list." in text
    assert "Give the first day as a date, e.g. 2026-01-31." in text
    assert "Choose 25, 50 or 100 events a page." in text
    assert "A name is at most 150 characters." in text
    assert "punjab-marker" not in text
    swapped = client.get(TRAIL, {"date_from": "2026-03-11", "date_to": "2026-03-10"})
    assert swapped.status_code == 400
    assert "The last day comes before the first day: swap them." in swapped.content.decode()
    # The outside views offer the three kinds of view only.
    outside = client.get(OUTSIDE, {"kind": "sign_in"})
    assert outside.status_code == 400
    assert "Choose an event from the list." in outside.content.decode()
    damaged = client.get(TRAIL, {"cursor": "not-a-cursor"})
    assert damaged.status_code == 400
    assert "This page link is damaged or out of date" in damaged.content.decode()


# --- Pages -------------------------------------------------------------------------------------


def _walk(client, url, params) -> tuple[list[int], str]:
    """Every event's id, page after page by the "older" links; and the last page's newer link."""
    seen, query = [], dict(params)
    while True:
        response = client.get(url, query)
        assert response.status_code == 200
        seen += [row.event.pk for row in response.context["page"].rows]
        older = response.context["older_query"]
        if not older:
            return seen, response.context["newer_query"]
        query = {key: values[0] for key, values in parse_qs(older).items()}


def test_keyset_pages_hold_with_equal_timestamps_both_ways(certs, member):
    punjab = certs["punjab"]
    # 60 events at one instant and 10 a minute later: the order falls back on the id.
    record_many(build(AuditKind.INCIDENT_VIEWED, request=None, cert=punjab, actor_label="pager",
                      object_label=f"PK-INC-2026-{n:06d}", at=T0) for n in range(60))
    record_many(build(AuditKind.SIGN_IN, request=None, cert=punjab, actor_label="pager",
                      at=T0 + timedelta(minutes=1)) for _ in range(10))
    expected = list(AuditEvent.objects.filter(cert=punjab, actor_label="pager")
                    .order_by("-at", "-id").values_list("pk", flat=True))
    client = client_of(member("punjab", "head"))
    seen, newer = _walk(client, TRAIL, {"actor": "pager"})
    assert seen == expected and len(seen) == 70
    # An event arriving meanwhile does not shift the pages already cut.
    first = client.get(TRAIL, {"actor": "pager"})
    assert len(first.context["page"].rows) == 25
    event(cert=punjab, actor_label="pager", at=T0 + timedelta(minutes=5))
    older = {k: v[0] for k, v in parse_qs(first.context["older_query"]).items()}
    second = client.get(TRAIL, older)
    assert [row.event.pk for row in second.context["page"].rows] == expected[25:50]
    # Back from the last page: the page before it, in the same order.
    back = client.get(TRAIL, {k: v[0] for k, v in parse_qs(newer).items()})
    assert [row.event.pk for row in back.context["page"].rows] == expected[25:50]
    # The page size is kept in the links.
    big = client.get(TRAIL, {"actor": "pager", "size": "50"})
    assert len(big.context["page"].rows) == 50 and "size=50" in big.context["older_query"]


def test_the_number_of_queries_grows_with_neither_the_page_size_nor_the_trail(
        certs, member, django_assert_max_num_queries):
    punjab, nation = certs["punjab"], certs["national"]
    client = client_of(member("punjab", "head"))
    outside_client = client_of(member("punjab", "head"))
    client.get(TRAIL)  # the first request of a session may do its own bookkeeping
    outside_client.get(OUTSIDE)
    counts = {}

    def add(n):
        record_many(build(AuditKind.INCIDENT_VIEWED, request=None, cert=punjab,
                          actor_label="many", object_label="PK-INC-2026-000001", at=T0,
                          detail={"n": i}) for i in range(n))
        record_many(build(AuditKind.INCIDENT_VIEWED, request=None, cert=nation,
                          actor_label="outsider-view", object_label="PK-INC-2026-000001",
                          object_cert=punjab, at=T0) for _ in range(n))

    for data in ("small", "large"):
        add(5 if data == "small" else 150)
        for size in ("25", "100"):
            for url, who in ((TRAIL, client), (OUTSIDE, outside_client)):
                # The session, the user, the second factor, the memberships, the head check,
                # the page, the unread notices: 7 today.
                with django_assert_max_num_queries(8) as queries:
                    response = who.get(url, {"size": size})
                assert response.status_code == 200
                counts[(url, data, size)] = len(queries)
    rows = client.get(TRAIL, {"size": "100"}).context["page"].rows
    assert len(rows) == 100
    assert len(set(counts.values())) == 1, counts


def test_rendered_text_is_escaped(certs, member):
    event(cert=certs["punjab"], actor_label="<script>alert('who')</script>",
          object_label="<img src=x onerror=alert(1)>", detail={"note": "<b>bold</b>"})
    text = client_of(member("punjab", "head")).get(TRAIL).content.decode()
    assert "<script>alert(" not in text and "<img src=x" not in text and "<b>bold" not in text
    assert "&lt;script&gt;alert(&#x27;who&#x27;)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "note: <bdi>&lt;b&gt;bold&lt;/b&gt;</bdi>" in text


def test_the_empty_trail_says_so_and_the_pages_speak_urdu(certs, member):
    client = client_of(member("gilgit-baltistan", "head"))
    text = client.get(OUTSIDE).content.decode()
    assert "No one outside your CERT has viewed its incidents" in text
    assert "What is recorded" in text
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    urdu = client.get(TRAIL).content.decode()
    assert 'lang="ur"' in urdu and 'dir="rtl"' in urdu
    assert "What is recorded" not in urdu and "Audit trail" not in urdu
