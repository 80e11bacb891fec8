"""The queue, /dashboard/ (issue 9, item 2): which incidents each tab holds for each persona, the
capped counts, every filter, keyset pages both ways, bad parameters explained, a constant number of
queries at 10 and 1,000 incidents, and "new since your last visit"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cert_portal.pagination import Direction, Position, encode_cursor
from incidents import access
from incidents.access import visible_incidents
from incidents.grants import sync_grants
from incidents.models import (
    Incident,
    IncidentShare,
    IncidentVisit,
    Observable,
    OwnershipPeriod,
    StaffPreferences,
    Status,
)
from incidents.queue import Tab
from incidents.services import (
    incident_acknowledge,
    incident_assign,
    incident_escalate,
    incident_refer,
    incident_share,
    incident_transition,
    record_dashboard_visit,
)
from organizations.models import Sector
from tests.factories import make_incident
from tests.incidents.support import T0, bulk_incidents

QUEUE = "/dashboard/"
TABS = list(Tab.LABELS)


def references(response) -> list[str]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return [row.reference for row in response.context["queue"].rows]


def tab_count(response, tab: str):
    found = next(item for item in response.context["tabs"] if item.name == tab)
    return found.count, found.count_is_capped


def content(response) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def world(certs, member, clock):
    """The incidents of the tab tests, at T0, with the services' own history:
    lahore: new, mine (assigned to its handler), overdue, red, closed; one escalated from lahore
    to punjab; one referred from punjab to lahore; one of sindh shared with lahore; one of
    banking."""
    lahore_handler = member("lahore", "handler")
    made = {
        "new": make_incident(owner_cert=certs["lahore"], title="Lahore new"),
        "mine": make_incident(owner_cert=certs["lahore"], title="Lahore mine"),
        "overdue": make_incident(owner_cert=certs["lahore"], title="Lahore overdue"),
        "red": make_incident(owner_cert=certs["lahore"], title="Lahore red", tlp="TLP:RED"),
        "closed": make_incident(owner_cert=certs["lahore"], title="Lahore closed"),
        "up": make_incident(owner_cert=certs["lahore"], title="Escalated to Punjab"),
        "down": make_incident(owner_cert=certs["punjab"], title="Referred to Lahore"),
        "shared": make_incident(owner_cert=certs["sindh"], title="Sindh shared"),
        "bank": make_incident(owner_cert=certs["banking"], title="Banking"),
    }
    incident_assign(incident=made["mine"], actor=None, assignee=lahore_handler)
    Incident.objects.filter(pk=made["overdue"].pk).update(ack_due_at=T0 - timedelta(hours=1))
    for status in (Status.ACKNOWLEDGED, Status.RESOLVED, Status.CLOSED):
        incident_transition(incident=made["closed"], actor=None, to_status=status)
    incident_escalate(incident=made["up"], actor=None, reason="needs the province")
    incident_refer(incident=made["down"], actor=None, to_cert=certs["lahore"], reason="local")
    incident_share(incident=made["shared"], actor=None, cert=certs["lahore"])
    return {name: incident.reference for name, incident in made.items()}


# What each persona's tabs hold (DOMAIN.md §2 decides what they may see at all).
EXPECTED = {
    ("lahore", "handler"): {
        Tab.MINE: {"mine"},
        Tab.NEW: {"new", "overdue", "red", "down"},
        Tab.OVERDUE: {"overdue"},
        Tab.RECEIVED: {"down"},
        Tab.OVERSIGHT: set(),
        Tab.SHARED: {"shared"},
        Tab.HANDED_OVER: {"up"},
        Tab.ALL: {"new", "mine", "overdue", "red", "closed", "up", "down", "shared"},
    },
    ("punjab", "handler"): {
        Tab.MINE: set(),
        Tab.NEW: {"up"},
        Tab.OVERDUE: set(),
        Tab.RECEIVED: {"up"},
        # Lahore's open incidents, but not the RED one, and not the closed one.
        Tab.OVERSIGHT: {"new", "mine", "overdue", "down"},
        Tab.SHARED: set(),
        Tab.HANDED_OVER: {"down"},
        Tab.ALL: {"new", "mine", "overdue", "closed", "up", "down"},
    },
    ("national", "handler"): {
        Tab.MINE: set(), Tab.NEW: set(), Tab.OVERDUE: set(), Tab.RECEIVED: set(),
        Tab.OVERSIGHT: {"new", "mine", "overdue", "down", "up", "shared", "bank"},
        Tab.SHARED: set(), Tab.HANDED_OVER: set(),
        Tab.ALL: {"new", "mine", "overdue", "closed", "down", "up", "shared", "bank"},
    },
    ("banking", "handler"): {
        Tab.MINE: set(), Tab.NEW: {"bank"}, Tab.OVERDUE: set(), Tab.RECEIVED: set(),
        Tab.OVERSIGHT: set(), Tab.SHARED: set(), Tab.HANDED_OVER: set(), Tab.ALL: {"bank"},
    },
}


@pytest.mark.parametrize("persona", list(EXPECTED), ids=lambda persona: ".".join(persona))
def test_each_tab_holds_what_the_persona_should_find_there(staff_client, member, world, persona):
    user = member(*persona)
    client = staff_client(user)
    by_reference = {reference: name for name, reference in world.items()}
    for tab, expected in EXPECTED[persona].items():
        response = client.get(QUEUE, {"tab": tab})
        found = references(response)
        assert {by_reference[reference] for reference in found} == expected, tab
        assert len(found) == len(set(found)), tab
        assert tab_count(response, tab) == (len(expected), False)
        # Never anything the member may not see.
        assert set(found) <= set(visible_incidents(user).values_list("reference", flat=True))


def test_the_queue_opens_on_mine_and_marks_the_tab(staff_client, member, world):
    response = staff_client(member("lahore", "handler")).get(QUEUE)
    assert response.context["queue"].tab.name == Tab.MINE
    assert references(response) == [world["mine"]]
    assert '<a href="?tab=mine" aria-current="page">Mine' in response.content.decode()
    # Every tab is listed with its count.
    for label in ("New and unassigned (4", "Escalated or referred to us (1", "We handed over (1",
                  "Shared with us (1", "All (8"):
        assert label in re.sub(r"<[^>]+>", "", response.content.decode())


def test_an_outsider_and_an_unverified_user_get_no_queue(client, staff_client, outsider, member,
                                                         world):
    refused = staff_client(outsider).get(QUEUE)
    assert refused.status_code == 403
    assert world["new"] not in refused.content.decode()
    client.force_login(member("lahore", "handler"))  # password only, no second factor
    assert client.get(QUEUE).status_code == 302


def test_rows_show_sla_severity_tlp_owner_assignee_and_age(staff_client, member, world, clock):
    clock.advance(hours=2, minutes=10)
    response = staff_client(member("lahore", "handler")).get(QUEUE, {"tab": Tab.NEW})
    page = content(response)
    overdue = next(row for row in response.context["queue"].rows if row.reference == world["overdue"])
    assert overdue.is_overdue
    assert [clock_.text for clock_ in overdue.clocks] == ["overdue by 3 h 10 min", "13 d 21 h left"]
    assert overdue.age == "2 h 10 min"
    row_html = re.search(rf'<tr class="queue-row is-overdue[^"]*"[^>]*>.*?{world["overdue"]}.*?</tr>',
                         page, re.S)[0]
    assert ('class="sla sla-overdue">Acknowledge: <time datetime="2026-03-10T09:00:00+05:00" '
            'data-countdown data-left="{time} left" data-overdue="overdue by {time}"') in row_html
    assert "overdue by 3 h 10 min" in row_html
    assert '<span class="severity severity-2">Medium</span>' in row_html
    assert '<span class="tlp tlp-amber">TLP:AMBER</span>' in row_html
    assert "LHR-CERT" in row_html and "Fraud" in row_html and "2 h 10 min" in row_html
    red = re.search(rf'<tr class="queue-row[^"]*"[^>]*>.*?{world["red"]}.*?</tr>', page, re.S)[0]
    assert '<span class="tlp tlp-red">TLP:RED</span>' in red and "is-overdue" not in red
    assert f'href="/dashboard/incidents/{world["overdue"]}/"' in row_html
    mine = staff_client(member("lahore", "handler")).get(QUEUE)
    assert "lahore.handler.test" in content(mine)  # the assignee


def test_rows_escape_what_people_typed(staff_client, member, certs, clock):
    make_incident(owner_cert=certs["lahore"], title="<script>alert(1)</script> & co")
    page = staff_client(member("lahore", "handler")).get(QUEUE, {"tab": Tab.NEW}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page


def test_unread_marker_follows_the_members_visits(staff_client, member, world, clock):
    user = member("lahore", "handler")
    new = Incident.objects.get(reference=world["new"])
    client = staff_client(user)
    rows = {row.reference: row for row in client.get(QUEUE, {"tab": Tab.NEW}).context["queue"].rows}
    assert rows[world["new"]].is_unread  # never opened

    IncidentVisit.objects.create(user=user, incident=new, seen_at=clock.advance(minutes=5))
    rows = {row.reference: row for row in client.get(QUEUE, {"tab": Tab.NEW}).context["queue"].rows}
    assert not rows[world["new"]].is_unread
    assert rows[world["overdue"]].is_unread

    clock.advance(minutes=5)
    incident_acknowledge(incident=new, actor=user)  # changed after the visit
    rows = {row.reference: row for row in client.get(QUEUE, {"tab": Tab.ALL}).context["queue"].rows}
    assert rows[world["new"]].is_unread
    # Another member's visit is theirs.
    other = staff_client(member("lahore", "analyst")).get(QUEUE, {"tab": Tab.ALL})
    assert all(row.is_unread for row in other.context["queue"].rows)


# --- Counts ---------------------------------------------------------------------------------

def test_tab_counts_stop_at_the_cap(staff_client, member, world, monkeypatch):
    monkeypatch.setattr(access, "COUNT_CAP", 3)
    response = staff_client(member("lahore", "handler")).get(QUEUE, {"tab": Tab.NEW})
    assert tab_count(response, Tab.NEW) == (3, True)
    assert tab_count(response, Tab.ALL) == (3, True)
    assert tab_count(response, Tab.OVERDUE) == (1, False)
    page = re.sub(r"<[^>]+>", "", response.content.decode())
    assert "New and unassigned (3+ incidents)" in page
    assert "3+ incidents" in page
    assert len(references(response)) == 4  # the list itself is not capped
    monkeypatch.setattr(access, "COUNT_CAP", 4)
    response = staff_client(member("lahore", "handler")).get(QUEUE, {"tab": Tab.NEW})
    assert tab_count(response, Tab.NEW) == (4, False)


def test_a_big_count_is_printed_with_a_thousands_separator(staff_client, member, certs, clock):
    bulk_incidents(certs["lahore"], 1001, tag="BIG", ack_due=T0 + timedelta(days=1),
                   resolve_due=T0 + timedelta(days=9), reported=T0 - timedelta(hours=1))
    response = staff_client(member("lahore", "handler")).get(QUEUE, {"tab": Tab.NEW})
    assert tab_count(response, Tab.NEW) == (1000, True)
    assert "New and unassigned (1,000+" in re.sub(r"<[^>]+>", "", response.content.decode())


# --- Filters --------------------------------------------------------------------------------

@pytest.fixture
def varied(certs, member, clock):
    """Lahore incidents that differ in one field each from a plain one."""
    banking = Sector.objects.get(slug="banking")
    analyst = member("lahore", "analyst")
    plain = make_incident(owner_cert=certs["lahore"], title="Plain one")
    clock.advance(hours=1)
    made = {
        "plain": plain,
        "severe": make_incident(owner_cert=certs["lahore"], title="Severe one", severity=4),
        "malware": make_incident(owner_cert=certs["lahore"], title="Malware one",
                                 classification="malicious-code", incident_type="malware-distribution"),
        "green": make_incident(owner_cert=certs["lahore"], title="Green one", tlp="TLP:GREEN"),
        "sector": make_incident(owner_cert=certs["lahore"], title="Bank branch", sector=banking,
                                region="PK-PB"),
        "assigned": make_incident(owner_cert=certs["lahore"], title="Analyst's one"),
        "soc": make_incident(owner_cert=certs["punjab-it-board-cert"], title="Board one"),
        "with_ip": make_incident(owner_cert=certs["lahore"], title="Scan",
                                 description="Seen from 192.0.2.44 overnight"),
    }
    incident_assign(incident=made["assigned"], actor=None, assignee=analyst)
    clock.advance(days=3)
    made["later"] = make_incident(owner_cert=certs["lahore"], title="Three days later")
    incident_acknowledge(incident=made["later"], actor=None)
    return made


def filtered(client, params, *, tab=Tab.ALL) -> set[str]:
    return set(references(client.get(QUEUE, {"tab": tab, **params})))


def test_every_filter_narrows_the_list(staff_client, member, certs, varied, clock):
    refs = {name: incident.reference for name, incident in varied.items()}
    client = staff_client(member("punjab", "handler"))
    everything = filtered(client, {})
    assert everything == set(refs.values())

    assert filtered(client, {"status": "acknowledged"}) == {refs["later"]}
    assert filtered(client, {"severity": "4"}) == {refs["severe"]}
    assert filtered(client, {"classification": "malicious-code"}) == {refs["malware"]}
    assert filtered(client, {"tlp": "TLP:GREEN"}) == {refs["green"]}
    assert filtered(client, {"owner": certs["punjab-it-board-cert"].pk}) == {refs["soc"]}
    assert filtered(client, {"sector": Sector.objects.get(slug="banking").pk}) == {refs["sector"]}
    assert filtered(client, {"region": "PK-PB"}) == {refs["sector"]}
    assert filtered(client, {"source": "public_form"}) == set()
    assert filtered(client, {"q": refs["severe"].lower()}) == {refs["severe"]}
    assert filtered(client, {"q": "bank branch"}) == {refs["sector"]}
    assert filtered(client, {"q": "192.0.2[.]44"}) == {refs["with_ip"]}
    assert filtered(client, {"reported_from": "2026-03-13"}) == {refs["later"]}
    assert filtered(client, {"reported_to": "2026-03-10"}) == everything - {refs["later"]}
    assert filtered(client, {"reported_from": "2026-03-10", "reported_to": "2026-03-10"}) == (
        everything - {refs["later"]})

    # Assignee: a member of the active CERT, or nobody.
    lahore = staff_client(member("lahore", "handler"))
    analyst = member("lahore", "analyst")
    assert filtered(lahore, {"assignee": analyst.pk}) == {refs["assigned"]}
    assert refs["assigned"] not in filtered(lahore, {"assignee": "none"})
    assert refs["plain"] in filtered(lahore, {"assignee": "none"})

    # Overdue only: the plain one's acknowledgement (24 h) ran out three days ago.
    overdue = filtered(client, {"overdue": "on"})
    assert refs["plain"] in overdue and refs["later"] not in overdue


def test_filters_combine_with_a_tab_of_the_certs_own(staff_client, member, certs, varied):
    client = staff_client(member("lahore", "handler"))
    refs = {name: incident.reference for name, incident in varied.items()}
    assert filtered(client, {"severity": "4"}, tab=Tab.NEW) == {refs["severe"]}
    assert filtered(client, {"q": "192.0.2.44"}, tab=Tab.OVERDUE) == {refs["with_ip"]}
    response = client.get(QUEUE, {"tab": Tab.NEW, "severity": "5"})
    assert references(response) == []
    assert "No incident in this tab matches these filters." in content(response)
    # The tab keeps its own count; the list says how many match.
    assert tab_count(response, Tab.NEW)[0] == 6
    assert response.context["queue"].count == 0


def test_the_filter_form_keeps_the_tab_and_marks_its_fields(staff_client, member, varied):
    page = staff_client(member("lahore", "handler")).get(
        QUEUE, {"tab": Tab.OVERDUE, "severity": "4"}).content.decode()
    assert '<input type="hidden" name="tab" value="overdue"' in page
    assert '<details class="queue-filters" open>' in page
    for name in ("q", "status", "severity", "classification", "tlp", "owner", "assignee", "sector",
                 "region", "overdue", "reported_from", "reported_to", "sort", "size"):
        assert f'<label for="id_{name}">' in page, name


@pytest.mark.parametrize("params, message", [
    ({"tab": "everything"}, "Select a valid choice. everything is not one of the available"),
    ({"status": "sleeping"}, "Select a valid choice. sleeping is not one of the available"),
    ({"severity": "x"}, "Select a valid choice. x is not one of the available"),
    ({"tlp": "TLP:WHITE"}, "Select a valid choice. TLP:WHITE is not one of the available"),
    ({"classification": "gossip"}, "Select a valid choice. gossip is not one of the available"),
    ({"size": "1000000"}, "Select a valid choice. 1000000 is not one of the available"),
    ({"cursor": "not-a-cursor"}, "This page link is damaged or out of date"),
    ({"reported_from": "2026-13-01"}, "Enter a valid date."),
    ({"reported_from": "2026-03-10", "reported_to": "2026-03-01"},
     "The end of the date range is before its start: choose a date on or after 2026-03-10."),
    ({"tab": "all", "sort": "deadline"}, "Deadline order is only for the tabs of your CERT"),
    ({"sort": "random"}, "Select a valid choice. random is not one of the available"),
    ({"owner": "abc"}, "Select a valid choice. abc is not one of the available"),
    ({"sector": "99999"}, "Select a valid choice. 99999 is not one of the available"),
    ({"changed_since": "yesterday-ish"}, "Enter a valid date/time."),
    ({"q": "x" * 201}, "Ensure this value has at most 200 characters"),
    ({"reported_from": "0001-01-01"}, "Choose a date between 1900 and 9998."),
    ({"reported_to": "9999-12-31"}, "Choose a date between 1900 and 9998."),
    ({"changed_since": "0001-01-01T00:00:00+05:00"}, "Choose a date between 1900 and 9998."),
    ({"cursor": encode_cursor(Direction.OLDER, Position(datetime(1, 1, 1, tzinfo=UTC), 1))},
     "This page link is damaged or out of date"),
    ({"cursor": encode_cursor(Direction.OLDER, Position(T0, 2 ** 70))},
     "This page link is damaged or out of date"),
])
def test_bad_parameters_are_explained_never_a_failure(staff_client, member, world, params, message):
    response = staff_client(member("lahore", "handler")).get(QUEUE, params)
    assert response.status_code == 200
    page = content(response)
    assert message in page
    assert 'class="error-summary" role="alert" tabindex="-1" id="error-summary" autofocus' in page
    assert "Fix the filters above to see the list." in page
    assert response.context["queue"] is None
    assert world["new"] not in page
    assert len(response.context["tabs"]) == len(TABS)  # the tabs still lead somewhere


def test_an_owner_or_assignee_outside_the_active_cert_is_refused(staff_client, member, certs, world):
    client = staff_client(member("lahore", "handler"))
    sindh_member = member("sindh", "handler")
    for params in ({"owner": certs["sindh"].pk}, {"assignee": sindh_member.pk}):
        response = client.get(QUEUE, params)
        assert response.status_code == 200
        assert "is not one of the available choices" in content(response)


def test_a_field_error_is_tied_to_its_field(staff_client, member, world):
    page = staff_client(member("lahore", "handler")).get(
        QUEUE, {"reported_from": "soon"}).content.decode()
    assert 'aria-describedby="id_reported_from-error id_reported_from-help" aria-invalid="true"' in page
    assert '<ul class="errorlist" id="id_reported_from-error"><li>Enter a valid date.</li></ul>' in page
    assert '<a href="#id_reported_from">Reported from: Enter a valid date.</a>' in page


# --- Empty states ----------------------------------------------------------------------------

def test_each_empty_tab_says_something_helpful(staff_client, member, certs):
    client = staff_client(member("rawalpindi", "handler"))
    for tab in TABS:
        response = client.get(QUEUE, {"tab": tab})
        assert references(response) == []
        assert str(Tab.EMPTY[tab]) in content(response)


# --- Keyset pages ----------------------------------------------------------------------------

def follow(client, params, rel: str) -> tuple[list[list[str]], list[str]]:
    """Every page from the first by the `rel` links; the pages and the last page's params."""
    pages, url = [], QUEUE + "?" + "&".join(f"{key}={value}" for key, value in params.items())
    while True:
        response = client.get(url)
        pages.append(references(response))
        found = re.search(rf'href="(\?[^"]*)" rel="{rel}"', response.content.decode())
        if not found:
            return pages, response
        url = QUEUE + unescape(found[1])


@pytest.fixture
def thirty(certs, clock):
    """30 new Lahore incidents, reported over time (several at the same moment), with
    deadlines in another order than their report times."""
    ids = []
    for n in range(30):
        reported = T0 - timedelta(minutes=10 * (n // 3))
        ids += bulk_incidents(certs["lahore"], 1, tag=f"K{n:02d}", reported=reported,
                              ack_due=T0 + timedelta(hours=(n * 7) % 30),
                              resolve_due=T0 + timedelta(days=9))
    return Incident.objects.filter(pk__in=ids)


@pytest.mark.parametrize("tab, sort, order", [
    (Tab.NEW, "newest", ("-reported_at", "-pk")),
    (Tab.NEW, "oldest", ("reported_at", "pk")),
    (Tab.NEW, "deadline", ("ack_due_at", "pk")),
    (Tab.ALL, "newest", ("-reported_at", "-pk")),
    (Tab.ALL, "oldest", ("reported_at", "pk")),
])
def test_pages_go_forward_and_back_in_every_order(staff_client, member, thirty, tab, sort, order):
    client = staff_client(member("lahore", "handler"))
    expected = list(thirty.order_by(*order).values_list("reference", flat=True))
    pages, last = follow(client, {"tab": tab, "sort": sort, "size": 25}, "next")
    assert [len(page) for page in pages] == [25, 5]
    assert [ref for page in pages for ref in page] == expected
    assert 'rel="next"' not in last.content.decode()

    # Back from the last page: the first page again, and no previous link on it.
    found = re.search(r'href="(\?[^"]*)" rel="prev"', last.content.decode())
    back = client.get(QUEUE + unescape(found[1]))
    assert references(back) == expected[:25]
    assert 'rel="prev"' not in back.content.decode()
    assert 'rel="next"' in back.content.decode()


def test_pages_of_ten_walk_the_oldest_first_grant_walk(staff_client, member, thirty):
    """Oldest first over what the member may see has a previous link on every page but the first,
    in both directions."""
    client = staff_client(member("punjab", "handler"))
    expected = list(thirty.order_by("reported_at", "pk").values_list("reference", flat=True))
    pages, _ = follow(client, {"tab": Tab.OVERSIGHT, "sort": "oldest", "size": 25}, "next")
    assert [ref for page in pages for ref in page] == expected


def test_a_member_of_two_certs_pages_each_incident_once(staff_client, member, certs, thirty):
    from organizations.services import membership_add

    user = member("punjab", "handler")
    membership_add(cert=certs["lahore"], user=user, role="analyst", actor=None)
    client = staff_client(user)
    expected = list(thirty.order_by("reported_at", "pk").values_list("reference", flat=True))
    for sort, ordered in (("oldest", expected), ("newest", expected[::-1])):
        pages, _ = follow(client, {"tab": Tab.ALL, "sort": sort, "size": 25}, "next")
        assert [ref for page in pages for ref in page] == ordered


# --- Queries ---------------------------------------------------------------------------------

def fill(certs, user, n: int, tag: str) -> None:
    """n incidents for each tab of a Punjab handler (`user`), in bulk as the services leave them:
    Punjab's own (half assigned to `user`, all past their acknowledgement deadline, all
    received from Lahore), Lahore's (oversight), Sindh's shared with Punjab, and National's that
    Punjab handed over."""
    past = {"ack_due": T0 - timedelta(hours=1), "resolve_due": T0 + timedelta(days=9)}
    reported = T0 - timedelta(days=1)
    own = bulk_incidents(certs["punjab"], n, tag=f"{tag}P", reported=reported, **past)
    Incident.objects.filter(pk__in=own[: n // 2]).update(assignee=user)
    below = bulk_incidents(certs["lahore"], n, tag=f"{tag}L", reported=reported, **past)
    shared = bulk_incidents(certs["sindh"], n, tag=f"{tag}S", reported=reported, **past)
    IncidentShare.objects.bulk_create([IncidentShare(incident_id=pk, cert=certs["punjab"])
                                       for pk in shared])
    above = bulk_incidents(certs["national"], n, tag=f"{tag}N", reported=reported, **past)
    earlier = [(pk, certs["lahore"]) for pk in own] + [(pk, certs["punjab"]) for pk in above]
    OwnershipPeriod.objects.bulk_create([
        OwnershipPeriod(incident_id=pk, cert=cert, started_at=reported - timedelta(hours=1),
                        ended_at=reported) for pk, cert in earlier])
    sync_grants(own + below + shared + above)


def test_every_tab_costs_the_same_queries_at_10_and_1000_incidents(
        staff_client, member, certs, clock, django_assert_num_queries):
    user = member("punjab", "handler")
    client = staff_client(user)
    fill(certs, user, 10, "A")
    client.get(QUEUE)  # the first visit ever makes the member's preferences row
    few = {}
    for tab in TABS:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(QUEUE, {"tab": tab})
        assert 0 < len(references(response)) <= 25, tab
        few[tab] = captured

    fill(certs, user, 990, "B")
    for tab in TABS:
        with django_assert_num_queries(len(few[tab])):
            response = client.get(QUEUE, {"tab": tab})
        assert len(references(response)) == 25, tab
        # Every count of incidents stops after COUNT_CAP + 1 rows (the header's notices have
        # their own cap).
        counts = [query["sql"] for query in few[tab].captured_queries
                  if "COUNT(" in query["sql"].upper() and "inboxitem" not in query["sql"]]
        assert counts, tab
        for sql in counts:
            assert sql.upper().count("COUNT(") == sql.upper().count(f"LIMIT {access.COUNT_CAP + 1}")
        assert any(item.count_is_capped for item in response.context["tabs"])


def test_a_filtered_page_costs_no_more_than_a_plain_one(staff_client, member, certs, clock):
    user = member("punjab", "handler")
    client = staff_client(user)
    fill(certs, user, 30, "F")
    client.get(QUEUE)
    with CaptureQueriesContext(connection) as plain:
        client.get(QUEUE, {"tab": Tab.NEW})
    with CaptureQueriesContext(connection) as narrowed:
        response = client.get(QUEUE, {"tab": Tab.NEW, "severity": "2", "q": "Bulk",
                                      "sort": "deadline", "overdue": "on"})
    assert len(references(response)) == 15
    assert len(narrowed) == len(plain)


# --- New since your last visit ----------------------------------------------------------------

def test_a_visit_starts_after_thirty_minutes_away(member, clock):
    user = member("lahore", "handler")
    first = record_dashboard_visit(user=user, at=T0)
    assert (first.previous_visit_at, first.last_visit_at) == (None, T0)
    same = record_dashboard_visit(user=user, at=T0 + timedelta(minutes=29))
    assert (same.previous_visit_at, same.last_visit_at) == (None, T0 + timedelta(minutes=29))
    # Away 30 minutes since the last page: a new visit; what changed after that page is new.
    second = record_dashboard_visit(user=user, at=T0 + timedelta(minutes=59))
    assert second.previous_visit_at == T0 + timedelta(minutes=29)
    still = record_dashboard_visit(user=user, at=T0 + timedelta(minutes=70))
    assert still.previous_visit_at == T0 + timedelta(minutes=29)
    assert StaffPreferences.objects.filter(user=user).count() == 1


@pytest.fixture
def long_sessions(settings):
    """A member away for hours stays signed in (the idle sign-out has its own tests)."""
    settings.STAFF_IDLE_MINUTES = 24 * 60


def test_new_since_the_last_visit_is_counted_linked_and_marked(staff_client, member, certs, world,
                                                                clock, monkeypatch, long_sessions):
    user = member("lahore", "handler")
    client = staff_client(user)
    first = client.get(QUEUE)
    assert "since your last visit" not in content(first)  # no visit before this one

    clock.advance(minutes=10)
    left_at = clock.now
    client.get(QUEUE)
    clock.advance(minutes=5)
    changed = [Incident.objects.get(reference=world[name]) for name in ("new", "overdue", "up")]
    incident_acknowledge(incident=changed[0], actor=user)
    incident_assign(incident=changed[1], actor=user, assignee=user)
    incident_acknowledge(incident=changed[2], actor=member("punjab", "handler"))
    make_incident(owner_cert=certs["punjab"], title="Not for Lahore's eyes")  # not visible
    clock.advance(hours=2)

    response = client.get(QUEUE, {"tab": Tab.NEW})
    page = content(response)
    assert response.context["previous_visit"] == left_at
    assert "3 incidents changed since your last visit" in page
    assert '<time datetime="2026-03-10T10:10:00+05:00">' in page
    link = re.search(r'<a href="\?([^"]*)">3 incidents changed', page)[1]
    listed = client.get(f"{QUEUE}?{link}")
    assert sorted(references(listed)) == sorted(incident.reference for incident in changed)
    assert all(row.is_new for row in listed.context["queue"].rows)
    unchanged = client.get(QUEUE, {"tab": Tab.ALL}).context["queue"].rows
    assert {row.reference for row in unchanged if row.is_new} == {i.reference for i in changed}
    assert 'class="badge-new">new</span>' in content(listed)

    # Reloading within the visit keeps the same reference point; the count is capped.
    monkeypatch.setattr(access, "COUNT_CAP", 2)
    clock.advance(minutes=10)
    again = client.get(QUEUE)
    assert again.context["previous_visit"] == left_at
    assert "2+ incidents changed since your last visit" in content(again)


def test_nothing_new_says_so(staff_client, member, world, clock, long_sessions):
    client = staff_client(member("lahore", "handler"))
    client.get(QUEUE)
    clock.advance(hours=1)
    assert "Nothing changed since your last visit" in content(client.get(QUEUE))


def test_the_header_search_lands_on_all(staff_client, member, world, certs):
    incident = Incident.objects.get(reference=world["shared"])
    Observable.objects.create(incident=incident, type="domain", value="evil.example", created_at=T0)
    response = staff_client(member("lahore", "handler")).get(QUEUE, {"tab": "all",
                                                                     "q": "evil[.]example"})
    assert references(response) == [world["shared"]]
    assert response.context["queue"].tab.name == Tab.ALL


# --- Counts read the bounded side (issue 9: tab counts must not grow with a CERT's history) ------

@pytest.fixture
def round_trips(certs, clock):
    """Incidents handed back and forth between Lahore and Punjab, now owned by Punjab:
    `twice` Lahore's, escalated, referred back and escalated again (two ended periods of Lahore);
    `back` Punjab's, referred to Lahore and escalated back."""
    twice = make_incident(owner_cert=certs["lahore"], title="Escalated twice")
    incident_escalate(incident=twice, actor=None, reason="needs the province")
    incident_refer(incident=twice, actor=None, to_cert=certs["lahore"], reason="local after all")
    incident_escalate(incident=twice, actor=None, reason="needs the province again")
    back = make_incident(owner_cert=certs["punjab"], title="Referred and back")
    incident_refer(incident=back, actor=None, to_cert=certs["lahore"], reason="local")
    incident_escalate(incident=back, actor=None, reason="back up")
    return {"twice": twice.reference, "back": back.reference}


def tab_lists(client) -> dict[str, tuple[set, tuple]]:
    """Every tab's references and its count, checking that each lists every incident once and
    that its count is the number of rows it lists."""
    found = {}
    for tab in TABS:
        response = client.get(QUEUE, {"tab": tab, "size": 100})
        listed = references(response)
        assert len(listed) == len(set(listed)), tab
        assert tab_count(response, tab) == (len(listed), False), tab
        found[tab] = set(listed)
    return found


def test_counts_of_handed_over_and_received_count_each_incident_once(staff_client, member,
                                                                      round_trips):
    both = set(round_trips.values())
    lahore = tab_lists(staff_client(member("lahore", "handler")))
    # Lahore owned both before and owns neither now; `twice` has two ended periods of Lahore.
    assert lahore[Tab.HANDED_OVER] == both
    assert lahore[Tab.RECEIVED] == set()
    punjab = tab_lists(staff_client(member("punjab", "handler")))
    # Punjab owns both again: nothing it handed over is another CERT's now; both came from Lahore.
    assert punjab[Tab.HANDED_OVER] == set()
    assert punjab[Tab.RECEIVED] == both


def test_counts_for_a_member_of_two_certs_match_the_lists(staff_client, member, certs, world,
                                                          round_trips):
    from organizations.services import membership_add

    user = member("punjab", "handler")
    membership_add(cert=certs["lahore"], user=user, role="analyst", actor=None)
    found = tab_lists(staff_client(user))
    # Working as Punjab, Lahore's RED incident is visible through Lahore's grant.
    assert world["red"] in found[Tab.OVERSIGHT]
    assert found[Tab.RECEIVED] == set(round_trips.values()) | {world["up"]}
    assert found[Tab.HANDED_OVER] == {world["down"]}
