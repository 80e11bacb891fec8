"""Triage of public reports in the dashboard (issue 9, item 3): who sees which reports, each
decision allowed and refused, what the reporter sees afterwards, paging and query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents import access
from incidents.models import (
    Comment,
    EventKind,
    Incident,
    Notification,
    Observable,
    Source,
    Status,
)
from incidents.services import incident_acknowledge, incident_attach
from tests.dashboard.test_merge import PNG, public_report
from tests.factories import make_incident
from tests.incidents.support import T0, bulk_incidents, events

TRIAGE = "/dashboard/triage/"


def action_url(incident, action: str) -> str:
    return f"{TRIAGE}{incident.reference}/{action}/"


def listed(response) -> list[str]:
    """The references of the triage list's rows, in order."""
    return re.findall(r'<th scope="row">\s*<a href="[^"]+"><code>([^<]+)</code>',
                      response.content.decode())


def post(client, incident, action: str, **fields):
    data = {f"{action}-version": Incident.objects.get(pk=incident.pk).version}
    data.update({f"{action}-{name}": value for name, value in fields.items()})
    return client.post(action_url(incident, action), data)


@pytest.fixture
def lahore_reports(certs, clock, media):
    """Lahore's intake: two reports waiting (the older with a file, a name and observables), and
    what must not be in its triage: an accepted report, a staff incident, Punjab's report."""
    older, _ = public_report(certs["lahore"], title="Older report",
                             description="Login page at hxxp://evil-bank[.]example/pin",
                             reporter_name="Ayesha Khan", sector=None, region="PK-PB",
                             is_public_body=True)
    incident_attach(incident=older, actor=None,
                    uploaded_file=SimpleUploadedFile("sms.png", PNG, content_type="image/png"))
    clock.advance(hours=1)
    newer, _ = public_report(certs["lahore"], title="Newer report")
    accepted, _ = public_report(certs["lahore"], title="Accepted already")
    incident_acknowledge(incident=accepted, actor=None)
    staff = make_incident(owner_cert=certs["lahore"], title="Staff incident")
    punjab, _ = public_report(certs["punjab"], title="Punjab's report")
    clock.advance(hours=1)
    return {"older": older, "newer": newer, "accepted": accepted, "staff": staff,
            "punjab": punjab}


def test_a_lahore_handler_sees_lahores_new_public_reports_only_oldest_first(
        certs, member, staff_client, lahore_reports):
    client = staff_client(member("lahore", "handler"))
    response = client.get(TRIAGE)

    assert response.status_code == 200
    older, newer = lahore_reports["older"], lahore_reports["newer"]
    assert listed(response) == [older.reference, newer.reference]
    page = response.content.decode()
    assert "2 reports are waiting." in page
    for absent in ("accepted", "staff", "punjab"):
        assert lahore_reports[absent].reference not in page
    # The row: category, reporter, affected, counts, clocks, and the expandable description.
    row = page[page.index(older.reference):page.index(newer.reference)]
    assert "Fraud: Phishing" in row and "Ayesha Khan" in row and "Public body" in row
    assert "Punjab" in row
    assert re.search(r"<td>1</td>\s*<td>1</td>", row)  # one file, one observable
    assert "waiting 2\xa0hours" in row
    assert "<details" in row and "evil-bank[.]example/pin" in row
    assert "http://evil-bank.example/pin" in row
    assert "Anonymous" in page[page.index(newer.reference):]
    assert 'action="/dashboard/triage/' in row and "Accept and assign to me" in row


def test_the_provincial_cert_sees_its_own_intake_not_its_childrens(
        certs, member, staff_client, lahore_reports):
    response = staff_client(member("punjab", "handler")).get(TRIAGE)
    assert listed(response) == [lahore_reports["punjab"].reference]


def test_an_analyst_sees_the_list_without_decisions(certs, member, staff_client, lahore_reports):
    page = staff_client(member("lahore", "analyst")).get(TRIAGE).content.decode()
    assert lahore_reports["older"].reference in page
    assert "Accept</button>" not in page and "Reject, merge or route" not in page
    assert "View only" in page


def test_an_outsider_is_refused(outsider, staff_client, lahore_reports):
    response = staff_client(outsider).get(TRIAGE)
    assert response.status_code == 403
    assert lahore_reports["older"].reference not in response.content.decode()


def test_the_report_page_shows_the_decisions_the_member_may_take(
        certs, member, staff_client, lahore_reports):
    older = lahore_reports["older"]
    page = staff_client(member("lahore", "handler")).get(f"{TRIAGE}{older.reference}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Login page at hxxp://evil-bank[.]example/pin" in text and "sms.png" in text
    for heading in ("Accept", "Reject", "Merge into an existing incident",
                    "Route to another CERT"):
        assert f"<h3>{heading}</h3>" in text
    assert "No CERT is below yours" in text  # Lahore has no CERT below it

    analyst = staff_client(member("lahore", "analyst")).get(f"{TRIAGE}{older.reference}/")
    assert "<h3>" not in analyst.content.decode()
    assert "not decide on it" in analyst.content.decode()
    # A decided report, or a staff incident, is shown in its workspace instead.
    decided = staff_client(member("lahore", "handler")).get(
        f"{TRIAGE}{lahore_reports['accepted'].reference}/")
    assert decided.status_code == 302
    assert decided["Location"] == f"/dashboard/incidents/{lahore_reports['accepted'].reference}/"


def test_an_invisible_report_is_404_to_read_and_to_decide(certs, member, staff_client,
                                                          lahore_reports):
    older = lahore_reports["older"]
    client = staff_client(member("sindh", "handler"))
    assert client.get(f"{TRIAGE}{older.reference}/").status_code == 404
    for action in ("accept", "reject", "merge", "route"):
        assert post(client, older, action, reason="x", into="x").status_code == 404
    assert client.get(f"{TRIAGE}PK-INC-1999-999999/").status_code == 404
    handler = staff_client(member("lahore", "handler"))
    assert post(handler, older, "delete").status_code == 404
    assert handler.get(action_url(older, "accept")).status_code == 405
    older.refresh_from_db()
    assert older.status == Status.NEW


def test_accept_and_assign_to_me(certs, member, staff_client, lahore_reports):
    handler = member("lahore", "handler")
    client = staff_client(handler)
    older = lahore_reports["older"]

    response = post(client, older, "accept", assign_to_me="on")

    assert response.status_code == 302 and response["Location"] == TRIAGE
    older.refresh_from_db()
    assert older.status == Status.ACKNOWLEDGED and older.assignee == handler
    assert [e.kind for e in events(older)][-2:] == [EventKind.STATUS, EventKind.ASSIGNED]
    after = client.get(TRIAGE)
    assert f"{older.reference} accepted: it is acknowledged and assigned to you" in (
        after.content.decode())
    assert listed(after) == [lahore_reports["newer"].reference]

    newer = lahore_reports["newer"]
    post(client, newer, "accept")
    newer.refresh_from_db()
    assert newer.status == Status.ACKNOWLEDGED and newer.assignee is None


@pytest.mark.parametrize("role", ["analyst", "liaison"])
@pytest.mark.parametrize("action", ["accept", "reject", "merge", "route"])
def test_who_may_not_decide_is_refused_even_posting_by_hand(certs, member, staff_client,
                                                            lahore_reports, role, action):
    older = lahore_reports["older"]
    response = post(staff_client(member("lahore", role)), older, action, reason="Spam",
                    into=lahore_reports["staff"].reference, to_cert=certs["lahore"].pk)
    assert response.status_code == 403
    assert "Nothing was changed" in response.content.decode()
    older.refresh_from_db()
    assert older.status == Status.NEW and older.merged_into is None
    assert not Comment.objects.filter(incident=older).exists()


def test_an_overseeing_cert_may_not_decide_on_its_childs_report(certs, member, staff_client,
                                                               lahore_reports):
    older = lahore_reports["older"]
    client = staff_client(member("punjab", "handler"))
    for action in ("accept", "reject", "merge", "route"):
        assert post(client, older, action, reason="x", into="x").status_code == 403
    older.refresh_from_db()
    assert older.status == Status.NEW and older.owner_cert == certs["lahore"]


def test_reject_needs_a_reason_and_the_reporter_reads_it(certs, member, staff_client, clock,
                                                         media):
    report, token = public_report(certs["lahore"], reporter_email="ayesha@example.org",
                                  reporter_consents_to_contact=True)
    client = staff_client(member("lahore", "handler"))

    empty = post(client, report, "reject", reason="  ")
    assert empty.status_code == 400
    page = empty.content.decode()
    assert 'id="error-summary"' in page and "This field is required." in page
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="id_reject-reason_helptext id_reject-reason_error"' in page
    report.refresh_from_db()
    assert report.status == Status.NEW

    reason = "This is a marketing SMS from your bank, not an attack."
    done = post(client, report, "reject", reason=reason)

    assert done.status_code == 302
    report.refresh_from_db()
    assert report.status == Status.REJECTED
    [comment] = Comment.objects.filter(incident=report)
    assert comment.reporter_visible and comment.body == reason
    assert events(report, EventKind.STATUS)[-1].reason == reason
    assert Notification.objects.filter(kind=Notification.Kind.REPORTER_REPLY,
                                       incident=report).count() == 1
    reporter = Client()
    reporter.post("/report/status/", {"reference": report.reference, "token": token})
    status_page = reporter.get(f"/report/status/{report.reference}/").content.decode()
    assert reason in status_page and "Rejected" in status_page


def test_merge_from_triage(certs, member, staff_client, lahore_reports):
    older = lahore_reports["older"]
    target = lahore_reports["staff"]
    sindh = make_incident(owner_cert=certs["sindh"], title="Sindh's")
    client = staff_client(member("lahore", "handler"))

    for unknown in ("PK-INC-1999-999999", sindh.reference):
        refused = post(client, older, "merge", into=unknown)
        assert refused.status_code == 400
        assert (f"No incident you may see has the reference {unknown}."
                in refused.content.decode())
    older.refresh_from_db()
    assert older.status == Status.NEW

    done = post(client, older, "merge", into=target.reference.lower(), reason="Same wave")

    assert done.status_code == 302
    older.refresh_from_db()
    assert older.merged_into == target and older.status == Status.REJECTED
    assert Observable.objects.filter(incident=target, value="http://evil-bank.example/pin").exists()
    assert f"{older.reference} merged into {target.reference}" in client.get(TRIAGE).content.decode()
    assert post(client, lahore_reports["newer"], "merge",
                into=lahore_reports["newer"].reference).status_code == 400


def test_route_down_to_a_local_and_an_organizational_cert(certs, member, staff_client, clock,
                                                         media):
    first, _ = public_report(certs["punjab"], title="For Lahore")
    second, _ = public_report(certs["punjab"], title="For the IT board")
    client = staff_client(member("punjab", "handler"))
    page = client.get(f"{TRIAGE}{first.reference}/").content.decode()
    assert "Lahore Metropolitan CERT (" in page
    assert "Punjab IT Board CERT" in page and "Sindh Government CERT" not in page

    sideways = post(client, first, "route", to_cert=certs["sindh"].pk, reason="Not ours")
    assert sideways.status_code == 400 and "Select a valid choice" in sideways.content.decode()
    no_reason = post(client, first, "route", to_cert=certs["lahore"].pk, reason="")
    assert no_reason.status_code == 400

    assert post(client, first, "route", to_cert=certs["lahore"].pk,
                reason="A Lahore municipal service").status_code == 302
    assert post(client, second, "route", to_cert=certs["punjab-it-board-cert"].pk,
                reason="The board's own portal").status_code == 302

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.owner_cert == certs["lahore"] and first.status == Status.NEW
    assert second.owner_cert == certs["punjab-it-board-cert"]
    referred = events(first, EventKind.REFERRED)[-1]
    assert (referred.old_value, referred.reason) == ("PB-CERT", "A Lahore municipal service")
    assert "routed to Lahore Metropolitan CERT" in client.get(TRIAGE).content.decode()
    assert listed(client.get(TRIAGE)) == []
    lahore = staff_client(member("lahore", "handler")).get(TRIAGE)
    assert listed(lahore) == [first.reference]


def test_a_stale_form_is_a_conflict_and_changes_nothing(certs, member, staff_client,
                                                        lahore_reports):
    older = lahore_reports["older"]
    client = staff_client(member("lahore", "handler"))
    response = client.post(action_url(older, "reject"), {"reject-version": older.version - 1,
                                                         "reject-reason": "Spam"})
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    older.refresh_from_db()
    assert older.status == Status.NEW


def test_pages_oldest_first_and_back(certs, member, staff_client, clock):
    ids = bulk_incidents(certs["lahore"], 30, tag="P", ack_due=T0 + timedelta(days=1),
                         resolve_due=T0 + timedelta(days=9), reported=T0)
    Incident.objects.filter(pk__in=ids).update(source=Source.PUBLIC_FORM)
    client = staff_client(member("lahore", "handler"))

    first = client.get(TRIAGE)
    assert listed(first) == [f"TEST-P-{n:06d}" for n in range(25)]
    assert "30 reports are waiting." in first.content.decode()
    later = re.search(r'href="\?cursor=([^"]+)" rel="next"', first.content.decode())[1]
    second = client.get(f"{TRIAGE}?cursor={later}")
    assert listed(second) == [f"TEST-P-{n:06d}" for n in range(25, 30)]
    earlier = re.search(r'href="\?cursor=([^"]+)" rel="prev"', second.content.decode())[1]
    assert listed(client.get(f"{TRIAGE}?cursor={earlier}")) == listed(first)

    broken = client.get(f"{TRIAGE}?cursor=not-a-cursor")
    assert broken.status_code == 400 and "start again from the first page" in (
        broken.content.decode())


def test_the_count_is_capped(certs, member, staff_client, clock, monkeypatch):
    ids = bulk_incidents(certs["lahore"], 12, tag="C", ack_due=T0 + timedelta(days=1),
                         resolve_due=T0 + timedelta(days=9), reported=T0)
    Incident.objects.filter(pk__in=ids).update(source=Source.PUBLIC_FORM)
    monkeypatch.setattr(access, "COUNT_CAP", 10)
    page = staff_client(member("lahore", "handler")).get(TRIAGE).content.decode()
    assert "More than 10 reports are waiting." in page


def test_triage_costs_the_same_queries_for_10_and_1000_reports(
        certs, member, staff_client, clock, django_assert_num_queries):
    client = staff_client(member("lahore", "handler"))

    def reports(count: int, tag: str) -> None:
        ids = bulk_incidents(certs["lahore"], count, tag=tag, ack_due=T0 + timedelta(days=1),
                             resolve_due=T0 + timedelta(days=9), reported=T0)
        Incident.objects.filter(pk__in=ids).update(source=Source.PUBLIC_FORM)
        # Some files and observables, so that their counts are on the page too.
        Observable.objects.bulk_create([Observable(incident_id=pk, type="ipv4",
                                                   value="198.51.100.7", created_at=T0)
                                        for pk in ids[:5]])

    reports(10, "S")
    client.get(TRIAGE)  # the session's first request writes what sign-in leaves to write
    with CaptureQueriesContext(connection) as small:
        assert len(listed(client.get(TRIAGE))) == 10
    reports(990, "L")
    # 9: the frame's 5 (session, user, device, memberships, unread count), the page, its
    # observables, the capped count and the grants behind the buttons.
    with django_assert_num_queries(len(small)):
        response = client.get(TRIAGE)
    assert len(listed(response)) == 25
    assert "1000 reports are waiting." in response.content.decode()
