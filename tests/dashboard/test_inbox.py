"""In-app notices (issue 9, item 5): the same outbox and recipients as e-mail, the inbox page, and
the member's choice of which notices also come by e-mail."""

from __future__ import annotations

import re
from datetime import timedelta
from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from incidents import notifications
from incidents.models import InboxItem, Notification, StaffPreferences
from incidents.services import (
    incident_assign,
    incident_change_tlp,
    incident_comment,
    incident_escalate,
    incident_share,
    incident_watch,
    set_email_preferences,
)
from incidents.tasks import deliver_notifications
from tests.factories import UserFactory, make_incident
from tests.incidents.support import emails_of, new_mail

Kind = Notification.Kind


def inbox_users(kind) -> dict[str, list[str]]:
    """{notification key: usernames with an in-app notice of it} for notifications of `kind`."""
    found: dict[str, list[str]] = {}
    for key, username in (InboxItem.objects.filter(notification__kind=kind)
                          .values_list("notification__key", "user__username")):
        found.setdefault(key, []).append(username)
    return {key: sorted(users) for key, users in found.items()}


@pytest.fixture
def staff(member):
    for slug in ("lahore", "punjab", "banking", "rawalpindi"):
        for role in ("head", "handler", "analyst", "liaison"):
            member(slug, role)
    return member


# --- Delivery writes the notices -----------------------------------------------------------------

def test_notices_go_to_exactly_the_recipients_of_each_kind(certs, staff, clock, rules):
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    incident_assign(incident=incident, actor=staff("lahore", "handler"),
                    assignee=staff("lahore", "analyst"))
    incident_escalate(incident=incident, actor=staff("lahore", "handler"))
    # A public report: its receipt goes to the reporter (no account, no notice), the new-report
    # message to the national heads and handlers (none in this test: nobody to tell).
    Client().post("/report/", {
        "submission_key": "k" * 32, "category": "phishing", "title": "SMS asking for a PIN",
        "description": "An SMS asked for my PIN.", "reporter_email": "citizen@example.org",
        "indicators": "", "started_at": "", "detected_at": "", "affected_organization": "",
        "region": "", "sector": "", "impact": "", "reporter_name": "", "reporter_phone": "",
        "website": ""})

    sent = new_mail()

    assert list(inbox_users(Kind.ASSIGNED).values()) == [["lahore.analyst.test"]]
    assert list(inbox_users(Kind.ESCALATED).values()) == [["punjab.handler.test",
                                                           "punjab.head.test"]]
    assert not InboxItem.objects.filter(notification__kind=Kind.REPORT_CONFIRMATION).exists()
    # The e-mail went to the same people.
    assert sorted(email.to for email in sent) == sorted([
        emails_of("lahore", "analyst"), emails_of("punjab", "head", "handler"),
        ["citizen@example.org"]])
    for notification in Notification.objects.exclude(kind=Kind.REPORT_CONFIRMATION):
        users = {item.user.email for item in InboxItem.objects.filter(notification=notification)}
        assert sorted(users) == sorted(filter(None, notification.recipients.split(", ")))


def test_a_muted_kind_is_shown_in_app_but_not_emailed(certs, staff, clock):
    head = staff("punjab", "head")
    set_email_preferences(user=head, muted_kinds=[Kind.ESCALATED])
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    incident_escalate(incident=incident, actor=staff("lahore", "handler"))

    [email] = new_mail()

    assert email.to == emails_of("punjab", "handler")
    assert InboxItem.objects.filter(user=head, notification__incident=incident).count() == 1
    notification = Notification.objects.get(kind=Kind.ESCALATED)
    assert notification.recipients == "punjab.handler@t.example"
    assert notification.sent_at is not None


def test_a_member_without_an_address_gets_the_notice_in_app_only(certs, staff, clock):
    analyst = staff("lahore", "analyst")
    analyst.email = ""
    analyst.save(update_fields=["email"])
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    incident_assign(incident=incident, actor=staff("lahore", "handler"), assignee=analyst)

    assert new_mail() == []

    assert InboxItem.objects.filter(user=analyst).count() == 1
    assert Notification.objects.get(kind=Kind.ASSIGNED).sent_at is not None


def test_repeated_delivery_makes_no_second_notice(certs, staff, clock, monkeypatch):
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    incident_escalate(incident=incident, actor=staff("lahore", "handler"))
    real_send_mail, calls = notifications.send_mail, []

    def fails_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise SMTPException("relay unavailable")
        return real_send_mail(*args, **kwargs)

    monkeypatch.setattr(notifications, "send_mail", fails_once)

    assert deliver_notifications() == 0
    # The relay is down, the notices are there already.
    assert InboxItem.objects.count() == 2
    clock.advance(minutes=1)
    assert deliver_notifications() == 1
    # A delivery run over rows that were already delivered (the same rows, by hand).
    notification = Notification.objects.get()
    notifications.write_inbox([notification], notifications.message_recipients([notification]))

    assert InboxItem.objects.count() == 2
    assert len(mail.outbox) == 1


# --- The inbox page --------------------------------------------------------------------------------

@pytest.fixture
def noticed(certs, staff, clock):
    """An incident escalated to Punjab; its heads and handlers have a notice of it."""
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"),
                             title="Ransomware at the water board")
    incident_escalate(incident=incident, actor=staff("lahore", "handler"))
    new_mail()
    return incident


def test_the_inbox_shows_the_members_notices_unread_and_linked(noticed, staff, staff_client):
    client = staff_client(staff("punjab", "handler"))

    response = client.get("/dashboard/notifications/")

    page = response.content.decode()
    assert response.status_code == 200
    assert noticed.reference in page and "Ransomware at the water board" in page
    assert "Escalated to your CERT" in page
    assert "Unread" in page and "<strong>" in page
    assert 'class="tlp tlp-amber"' in page
    item = InboxItem.objects.get(user=staff("punjab", "handler"))
    assert f'href="/dashboard/notifications/{item.pk}/"' in page
    assert "Mark all as read" in page
    assert '<th scope="col">' in page
    # The header counts the unread notice.
    assert re.search(r'class="count-badge">1<span class="visually-hidden"> unread', page)


def test_opening_a_notice_marks_it_read_and_goes_to_the_incident(noticed, staff, staff_client,
                                                                 clock):
    handler = staff("punjab", "handler")
    client = staff_client(handler)
    item = InboxItem.objects.get(user=handler)

    response = client.get(f"/dashboard/notifications/{item.pk}/")

    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/incidents/{noticed.reference}/"
    item.refresh_from_db()
    assert item.read_at == clock.now
    page = client.get("/dashboard/notifications/").content.decode()
    assert "Unread" not in page and ">Read<" in page
    # The other handler's and the head's notices are untouched.
    assert InboxItem.objects.filter(read_at__isnull=True).count() == 1


def test_another_members_notice_is_never_shown_nor_opened(noticed, staff, staff_client):
    head_item = InboxItem.objects.get(user=staff("punjab", "head"))
    analyst = staff("punjab", "analyst")  # may view the incident, but has no notice of it
    client = staff_client(analyst)

    page = client.get("/dashboard/notifications/").content.decode()
    assert noticed.reference not in page
    assert "No notices yet." in page
    assert client.get(f"/dashboard/notifications/{head_item.pk}/").status_code == 404
    assert client.get("/dashboard/notifications/99999/").status_code == 404
    head_item.refresh_from_db()
    assert head_item.read_at is None


def test_the_inbox_refuses_who_is_no_member(noticed, outsider, staff_client):
    assert staff_client(outsider).get("/dashboard/notifications/").status_code == 403
    anonymous = Client().get("/dashboard/notifications/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert Client().post("/dashboard/notifications/read/").status_code == 302


def test_a_stricter_label_hides_the_notice_details(noticed, certs, staff, staff_client):
    # Punjab owns it now and shares it with banking, whose analyst watches it; then Punjab's head
    # makes it TLP:RED, which is never shared.
    handler = staff("punjab", "handler")
    incident_share(incident=noticed, actor=handler, cert=certs["banking"])
    banker = staff("banking", "analyst")
    incident_watch(incident=noticed, actor=banker)
    incident_comment(incident=noticed, actor=handler, body="Isolated the servers.")
    new_mail()
    assert InboxItem.objects.filter(user=banker).count() == 1

    incident_change_tlp(incident=noticed, actor=staff("punjab", "head"), tlp="TLP:RED")
    new_mail()
    client = staff_client(banker)
    page = client.get("/dashboard/notifications/").content.decode()

    assert "a notice about an incident you can no longer see".lower() in page.lower()
    assert noticed.reference not in page
    assert "Ransomware" not in page and "Isolated" not in page
    item = InboxItem.objects.get(user=banker)
    assert f"/dashboard/notifications/{item.pk}/" not in page
    # Opened by hand: marked read, back to the inbox, still nothing about the incident.
    response = client.get(f"/dashboard/notifications/{item.pk}/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/notifications/"
    assert noticed.reference not in client.get(response["Location"]).content.decode()


def test_mark_all_as_read(noticed, staff, staff_client, clock):
    head = staff("punjab", "head")
    client = staff_client(head)

    response = client.post("/dashboard/notifications/read/")

    assert response.status_code == 302
    assert not InboxItem.objects.filter(user=head, read_at__isnull=True).exists()
    assert InboxItem.objects.filter(user=staff("punjab", "handler"), read_at__isnull=True).exists()
    assert client.get("/dashboard/notifications/read/").status_code == 405


def make_notices(user, incident, count: int, start) -> None:
    notification_rows = Notification.objects.bulk_create([
        Notification(key=f"bulk:{user.pk}:{n}", kind=Kind.ASSIGNED, incident=incident, user=user,
                     created_at=start - timedelta(minutes=count - n), sent_at=start)
        for n in range(count)])
    InboxItem.objects.bulk_create([
        InboxItem(user=user, notification=row, created_at=row.created_at)
        for row in notification_rows])


def test_the_inbox_pages_newest_first(noticed, staff, staff_client, clock):
    analyst = staff("punjab", "analyst")
    make_notices(analyst, noticed, 30, clock.now)
    client = staff_client(analyst)

    first = client.get("/dashboard/notifications/").content.decode()
    keys = re.findall(r'href="/dashboard/notifications/(\d+)/"', first)
    assert len(set(keys)) == 25
    ids = list(InboxItem.objects.filter(user=analyst).order_by("-created_at", "-pk")
               .values_list("pk", flat=True))
    assert [int(key) for key in dict.fromkeys(keys)] == ids[:25]
    older = re.search(r'href="\?cursor=([^"]+)" rel="next"', first).group(1)
    assert 'rel="prev"' not in first

    second = client.get(f"/dashboard/notifications/?cursor={older}").content.decode()
    assert [int(key) for key in dict.fromkeys(
        re.findall(r'href="/dashboard/notifications/(\d+)/"', second))] == ids[25:]
    assert 'rel="next"' not in second
    newer = re.search(r'href="\?cursor=([^"]+)" rel="prev"', second).group(1)
    back = client.get(f"/dashboard/notifications/?cursor={newer}").content.decode()
    assert [int(key) for key in dict.fromkeys(
        re.findall(r'href="/dashboard/notifications/(\d+)/"', back))] == ids[:25]


def test_a_damaged_page_link_is_explained_not_a_500(noticed, staff, staff_client):
    response = staff_client(staff("punjab", "head")).get("/dashboard/notifications/",
                                                         {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert "damaged or out of date" in response.content.decode()


@pytest.mark.parametrize("count", [10, 500])
def test_the_inbox_costs_the_same_queries_for_10_and_500_notices(
        noticed, staff, staff_client, clock, count, django_assert_num_queries):
    analyst = staff("punjab", "analyst")
    make_notices(analyst, noticed, count, clock.now)
    # Some of them about watched activity (their events are read too) and one invisible.
    incident_watch(incident=noticed, actor=analyst)
    incident_comment(incident=noticed, actor=staff("punjab", "handler"), body="Noted.")
    new_mail()
    client = staff_client(analyst)
    client.get("/dashboard/notifications/")  # the session's own first-request queries

    # Session, user, OTP device, memberships, notices, visible incidents, watched events,
    # unread count.
    with django_assert_num_queries(8):
        response = client.get("/dashboard/notifications/")
    assert response.status_code == 200
    assert "Comment: internal, by punjab.handler.test" in response.content.decode()


def test_the_empty_inbox_says_so(certs, staff, staff_client):
    page = staff_client(staff("rawalpindi", "liaison")).get("/dashboard/notifications/")
    assert page.status_code == 200
    assert "No notices yet." in page.content.decode()
    assert "Mark all as read" not in page.content.decode()


# --- E-mail preferences -------------------------------------------------------------------------

def test_preferences_default_to_every_kind_by_email(certs, staff, staff_client):
    page = staff_client(staff("lahore", "handler")).get("/dashboard/settings/").content.decode()

    boxes = re.findall(r'<input type="checkbox" name="email_kinds" value="([a-z_]+)"[^>]*>', page)
    assert set(boxes) == set(Kind.values) - {Kind.REPORT_CONFIRMATION, Kind.REPORTER_REPLY}
    assert page.count(" checked>") == len(boxes)
    assert '<label for="email-kind-watched_activity">Activity on an incident you watch</label>' in page
    assert 'aria-describedby="email-kind-assigned-help"' in page


def test_preferences_are_saved_through_the_service(certs, staff, staff_client):
    handler = staff("lahore", "handler")
    client = staff_client(handler)
    wanted = [kind for kind in Kind.values
              if kind not in {Kind.REPORT_CONFIRMATION, Kind.REPORTER_REPLY, Kind.NEW_REPORT,
                              Kind.WATCHED_ACTIVITY}]

    response = client.post("/dashboard/settings/", {"email_kinds": wanted})

    assert response.status_code == 302
    assert StaffPreferences.objects.get(user=handler).email_muted_kinds == [
        "new_report", "watched_activity"]
    page = client.get("/dashboard/settings/").content.decode()
    assert 'value="new_report" id="email-kind-new_report" ' \
           'aria-describedby="email-kind-new_report-help">' in page
    assert page.count(" checked>") == len(wanted)
    # Another member's choices are their own.
    assert not StaffPreferences.objects.filter(user=staff("lahore", "head")).exists()


@pytest.mark.parametrize("bad", ["report_confirmation", "everything", "<script>"])
def test_preferences_refuse_kinds_that_are_not_staff_notices(certs, staff, staff_client, bad):
    handler = staff("lahore", "handler")
    set_email_preferences(user=handler, muted_kinds=["assigned"])

    response = staff_client(handler).post("/dashboard/settings/",
                                          {"email_kinds": ["escalated", bad]})

    page = response.content.decode()
    assert response.status_code == 400
    assert "not kinds of notice you can choose" in page
    assert 'class="error-summary" role="alert" tabindex="-1"' in page
    assert "<script>" not in page
    assert StaffPreferences.objects.get(user=handler).email_muted_kinds == ["assigned"]
    with pytest.raises(ValidationError) as error:
        set_email_preferences(user=handler, muted_kinds=[bad])
    assert "muted_kinds" in error.value.message_dict


def test_preferences_refuse_who_is_no_member(outsider, staff_client, db):
    client = staff_client(outsider)
    assert client.get("/dashboard/settings/").status_code == 403
    assert client.post("/dashboard/settings/", {"email_kinds": []}).status_code == 403
    assert not StaffPreferences.objects.exists()
    assert Client().get("/dashboard/settings/").status_code == 302


def test_a_member_without_an_address_is_told_notices_stay_in_the_dashboard(certs, staff_client):
    from organizations.services import membership_add

    user = UserFactory(username="no.address", email="")
    membership_add(cert=certs["lahore"], user=user, role="analyst", actor=None)

    page = staff_client(user).get("/dashboard/settings/").content.decode()

    assert "no e-mail address" in page
