"""Every message obeys the access table (issue 7: findings 1, 4 and 8).

Recipients are decided at delivery by incidents.access from the grants as they are then; staff
messages reach only people who may view the incident, reporter messages only a reporter who gave
an address (and, for replies, consented to contact). Titles are single lines, a failing message is
retried a bounded number of times and then marked failed, and the messages that were missing
(new report, follow-up, reply, no head, the reporter's language, the link base) exist, each once.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from io import StringIO
from smtplib import SMTPException

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django_q.models import Schedule

from incidents import notifications
from incidents.access import Action, allowed_actions
from incidents.models import EventKind, InboxItem, Incident, IncidentWatch, Notification, Status
from incidents.reporter_token import derive_token
from incidents.services import (
    incident_assign,
    incident_change_tlp,
    incident_comment,
    incident_escalate,
    incident_refer,
    incident_share,
    incident_transition,
    incident_watch,
    notify,
)
from incidents.sla import run_sla_pass
from incidents.tasks import deliver_notifications
from organizations.models import Membership
from organizations.services import membership_remove
from tests.factories import make_incident
from tests.incidents.support import STAFF_DOMAIN, T0, emails_of, events, new_mail
from tests.twofactor import sign_in

TLPS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
ROLES = ("head", "handler", "analyst", "liaison")


@pytest.fixture
def staff(member):
    """Every role in the CERTs these tests use."""
    for slug in ("national", "government", "punjab", "lahore", "rawalpindi", "banking", "cii"):
        for role in ROLES:
            member(slug, role)
    return member


def addresses(emails) -> list[str]:
    return sorted(address for email in emails for address in email.to)


def acknowledged(certs, member, slug="lahore", **fields) -> Incident:
    """An incident its owner acknowledged at once: the SLA pass only flags its resolution."""
    handler = member(slug, "handler")
    incident = make_incident(owner_cert=certs[slug], actor=handler, **fields)
    incident_transition(incident=incident, actor=handler, to_status=Status.ACKNOWLEDGED)
    incident.refresh_from_db()
    return incident


# --- Finding 1: no per-incident message to a parent that may not view -------------------------

@pytest.mark.parametrize("tlp", ["TLP:AMBER+STRICT", "TLP:RED"])
def test_a_parent_that_may_not_view_an_overdue_incident_gets_no_message(certs, staff, clock, tlp):
    incident = acknowledged(certs, staff, tlp=tlp, title="Ministry payroll exfiltration")

    assert run_sla_pass(now=incident.resolve_due_at).resolution_missed == 1

    # Oversight of what Punjab may not view flows up as counts only: no row, no e-mail.
    assert not Notification.objects.filter(incident=incident, cert=certs["punjab"]).exists()
    sent = new_mail()
    assert addresses(sent) == emails_of("lahore", "head")
    for email in mail.outbox:
        assert not any(address.startswith("punjab.") for address in email.to)
    assert len(events(incident, EventKind.RESOLUTION_MISSED)) == 1  # still flagged


def test_a_parent_that_may_view_is_told_of_the_overdue_incident(certs, staff, clock):
    # The control case of the test above: under TLP:AMBER the parent oversees the incident.
    incident = acknowledged(certs, staff, tlp="TLP:AMBER")

    run_sla_pass(now=incident.resolve_due_at)

    assert addresses(new_mail()) == sorted(emails_of("lahore", "head")
                                           + emails_of("punjab", "head", "handler"))


def test_recipients_are_decided_at_delivery_from_the_grants_of_then(certs, staff, clock):
    incident = acknowledged(certs, staff, tlp="TLP:AMBER")
    run_sla_pass(now=incident.resolve_due_at)
    assert Notification.objects.filter(incident=incident, cert=certs["punjab"]).exists()

    # Before the outbox is delivered, the label becomes stricter: Punjab may no longer view it.
    incident.refresh_from_db()
    incident_change_tlp(incident=incident, actor=staff("lahore", "handler"), tlp="TLP:RED")

    assert addresses(new_mail()) == emails_of("lahore", "head")
    assert Notification.objects.filter(sent_at__isnull=True).count() == 0


# --- Finding 8: a missed deadline at a CERT with no head ------------------------------------

def test_a_missed_resolution_at_a_cert_without_head_reaches_its_handlers_and_the_assignee(
        certs, member, clock):
    handler, analyst = member("lahore", "handler"), member("lahore", "analyst")
    member("lahore", "liaison")
    incident = acknowledged(certs, member, tlp="TLP:RED")
    incident_assign(incident=incident, actor=handler, assignee=analyst)
    new_mail()  # the assignment

    run_sla_pass(now=incident.resolve_due_at)

    assert addresses(new_mail()) == emails_of("lahore", "handler", "analyst")


def test_a_missed_resolution_reaches_the_assignee_besides_the_heads(certs, staff, clock):
    incident = acknowledged(certs, staff)
    incident_assign(incident=incident, actor=staff("lahore", "handler"),
                    assignee=staff("lahore", "liaison"))
    new_mail()

    run_sla_pass(now=incident.resolve_due_at)

    [owner_mail, parent_mail] = sorted(new_mail(), key=lambda email: email.to)
    assert owner_mail.to == emails_of("lahore", "head", "liaison")
    assert parent_mail.to == emails_of("punjab", "head", "handler")


def test_an_assignee_who_left_the_cert_is_not_told(certs, staff, clock):
    incident = acknowledged(certs, staff, tlp="TLP:RED")
    analyst = staff("lahore", "analyst")
    incident_assign(incident=incident, actor=staff("lahore", "handler"), assignee=analyst)
    membership_remove(membership=Membership.objects.get(user=analyst, cert=certs["lahore"]),
                      actor=None)

    run_sla_pass(now=incident.resolve_due_at)

    sent = new_mail()
    assert "lahore.analyst@t.example" not in addresses(sent)  # neither assignment nor deadline
    assert addresses(sent) == emails_of("lahore", "head")


# --- Finding 4: titles are single lines; failures are retried a bounded number of times ------

@pytest.mark.parametrize(("raw", "clean"), [
    ("Fake bank SMS\r\nBcc: victim@example.org", "Fake bank SMS Bcc: victim@example.org"),
    ("  tabs\tand\x0bvertical\x0cfeeds\x00 ", "tabs and vertical feeds"),
    ("line\u2028separator\u2029and\x85next", "line separator and next"),
    # Bidi controls in a title are refused since issue 13 (tests/security/test_hidden_characters.py).
    ("اردو میں\u200cعنوان", "اردو میں\u200cعنوان"),  # a zero-width non-joiner is Urdu spelling
])
def test_titles_are_stored_as_one_clean_line(certs, staff, raw, clean):
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"),
                             title=raw)

    assert Incident.objects.get(pk=incident.pk).title == clean


def test_a_title_of_only_control_characters_is_refused(certs, staff):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"),
                      title="\r\n\u202e\t")
    assert "title" in error.value.message_dict


def test_a_public_report_with_a_crlf_title_still_emails_staff(certs, staff, media):
    call_command("load_routing_rules", stdout=StringIO())
    response = Client().post("/report/", public_report(
        title="Fake bank SMS\r\nBcc: everyone@example.org"))
    assert response.status_code == 302, response.content.decode()[:2000]
    incident = Incident.objects.get()

    [email] = new_mail()
    assert incident.title == "Fake bank SMS Bcc: everyone@example.org"
    assert "\n" not in email.subject and "\r" not in email.subject
    assert email.to == emails_of("national", "head", "handler")
    assert Notification.objects.get(incident=incident).sent_at is not None


def test_a_title_stored_before_the_fix_is_sent_on_one_line(certs, staff, clock):
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    Incident.objects.filter(pk=incident.pk).update(title="Old row\r\nwith a \u202eline break")
    incident.refresh_from_db()

    incident_escalate(incident=incident, actor=staff("lahore", "handler"))

    [email] = new_mail()
    assert email.subject.endswith(": Old row with a line break")
    assert "Title: Old row with a line break" in email.body
    email.message()  # what the backend serialises: no "Header values can't contain newlines"
    assert Notification.objects.get().sent_at is not None


@pytest.fixture
def failing_smtp(monkeypatch):
    attempts = []

    def fails(*args, **kwargs):
        attempts.append(args)
        raise SMTPException("relay unavailable")

    monkeypatch.setattr(notifications, "send_mail", fails)
    return attempts


def test_a_failing_notification_is_retried_with_growing_delay_then_marked_failed(
        certs, staff, clock, failing_smtp, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 5
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    incident_assign(incident=incident, actor=staff("lahore", "handler"),
                    assignee=staff("lahore", "analyst"))
    [notification] = Notification.objects.all()

    tried_at = []
    for _minute in range(40):
        before = len(failing_smtp)
        assert deliver_notifications() == 0  # never raises: the outbox owns the retries
        if len(failing_smtp) > before:
            tried_at.append(clock.now)
        clock.advance(minutes=1)

    # Tried at once, then after 1, 2, 4 and 8 minutes; then never again.
    assert [int((at - T0).total_seconds() // 60) for at in tried_at] == [0, 1, 3, 7, 15]
    notification.refresh_from_db()
    assert notification.attempts == 5
    assert notification.sent_at is None
    assert notification.failed_at == T0 + timedelta(minutes=15)
    assert "relay unavailable" in notification.last_error
    assert mail.outbox == []


def test_a_notification_that_fails_once_is_sent_by_the_next_due_run(certs, staff, clock,
                                                                     monkeypatch):
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    incident_assign(incident=incident, actor=staff("lahore", "handler"),
                    assignee=staff("lahore", "analyst"))
    real_send_mail, calls = notifications.send_mail, []

    def fails_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise SMTPException("relay unavailable")
        return real_send_mail(*args, **kwargs)

    monkeypatch.setattr(notifications, "send_mail", fails_once)

    assert deliver_notifications() == 0
    assert deliver_notifications() == 0  # not due yet: no hammering of the relay
    clock.advance(seconds=59)
    assert deliver_notifications() == 0
    clock.advance(seconds=1)
    assert deliver_notifications() == 1
    assert deliver_notifications() == 0
    [notification] = Notification.objects.all()
    assert (notification.attempts, notification.failed_at) == (2, None)
    assert notification.sent_at == clock.now
    assert [email.to for email in mail.outbox] == [["lahore.analyst@t.example"]]


def test_failed_notifications_are_listed_for_administrators(certs, staff, clock, failing_smtp,
                                                            settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 1
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"),
                             tlp="TLP:RED", title="Secret red title")
    incident_assign(incident=incident, actor=staff("lahore", "handler"),
                    assignee=staff("lahore", "analyst"))
    incident_escalate(incident=make_incident(owner_cert=certs["lahore"],
                                             actor=staff("lahore", "handler")),
                      actor=staff("lahore", "handler"))
    deliver_notifications()
    failed = Notification.objects.get(kind=Notification.Kind.ASSIGNED)
    assert failed.failed_at is not None
    Notification.objects.filter(kind=Notification.Kind.ESCALATED).update(
        failed_at=None, sent_at=clock.now)

    # The admin asks for both factors (issue 9).
    admin = sign_in(Client(), get_user_model().objects.create_superuser("root", "root@x.example",
                                                                         "pw"))
    listing = admin.get("/admin/incidents/notification/", {"delivery": "failed"})

    assert listing.status_code == 200
    page = listing.content.decode()
    assert failed.key in page
    assert "relay unavailable" in page
    assert "escalated:" not in page  # the filter shows failed ones only
    assert "Secret red title" not in page  # administrators are not a backdoor into incidents
    detail = admin.get(f"/admin/incidents/notification/{failed.pk}/change/")
    assert detail.status_code == 200
    assert "Secret red title" not in detail.content.decode()
    assert admin.get("/admin/incidents/notification/add/").status_code == 403
    # A CERT member without the model permission does not see the outbox.
    user = staff("lahore", "head")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    member_client = sign_in(Client(), user)
    assert member_client.get("/admin/incidents/notification/").status_code == 403


def test_delivery_runs_every_minute_and_picks_up_what_is_due(db):
    schedule = Schedule.objects.get(name="incidents: deliver notifications")

    assert schedule.func == "incidents.tasks.deliver_notifications"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES, 1, -1)


# --- Finding 8: the messages that were missing -----------------------------------------------

def public_report(**overrides) -> dict:
    data = {
        "submission_key": secrets.token_urlsafe(24), "category": "phishing",
        "title": "Fake bank SMS asking for a PIN",
        "description": "An SMS pretending to be my bank asked for my PIN.",
        "indicators": "", "started_at": "", "detected_at": "", "affected_organization": "",
        "region": "", "sector": "", "impact": "", "reporter_name": "", "reporter_email": "",
        "reporter_phone": "", "website": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def routed(certs, staff, media):
    """Routing rules loaded; a report about the banking sector goes to the banking CERT."""
    call_command("load_routing_rules", stdout=StringIO())
    from organizations.models import Sector

    return {"banking": str(Sector.objects.get(slug="banking").pk)}


def report_through_the_form(client, **overrides) -> tuple[Incident, str]:
    response = client.post("/report/", public_report(**overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert client.get("/report/received/").status_code == 200
    incident = Incident.objects.order_by("-pk").first()
    return incident, derive_token(incident)


def test_a_new_public_report_emails_the_heads_and_handlers_it_was_routed_to_once(routed):
    client = Client()
    incident, _token = report_through_the_form(client, sector=routed["banking"])
    assert incident.owner_cert.slug == "banking"

    sent = new_mail()
    assert [email.to for email in sent] == [emails_of("banking", "head", "handler")]
    assert incident.reference in sent[0].subject
    assert sent[0].subject.startswith(f"[{incident.tlp}]")
    assert new_mail() == []  # delivering again sends nothing
    assert Notification.objects.filter(kind=Notification.Kind.NEW_REPORT).count() == 1


def test_a_reporters_follow_up_tells_the_owners_heads_handlers_and_the_assignee_once(routed):
    client = Client()
    incident, _token = report_through_the_form(client, sector=routed["banking"])
    banking = Membership.objects.filter(cert__slug="banking").select_related("user")
    incident_assign(incident=incident, actor=banking.get(role="handler").user,
                    assignee=banking.get(role="analyst").user)
    new_mail()

    response = client.post(f"/report/status/{incident.reference}/",
                           {"message": "They sent a second SMS today."})
    assert response.status_code == 302
    sent = new_mail()
    assert [email.to for email in sent] == [emails_of("banking", "head", "handler", "analyst")]
    assert "They sent a second SMS" not in sent[0].body  # the message is read in the portal
    assert new_mail() == []

    # A follow-up with only a file is a follow-up too.
    png = SimpleUploadedFile("shot.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    response = client.post(f"/report/status/{incident.reference}/",
                           {"message": "", "attachments": [png]})
    assert response.status_code == 302
    assert [email.to for email in new_mail()] == [emails_of("banking", "head", "handler",
                                                            "analyst")]
    assert Notification.objects.filter(kind=Notification.Kind.REPORTER_FOLLOW_UP).count() == 2


@pytest.mark.parametrize("consent", [True, False])
def test_a_reply_visible_to_the_reporter_emails_them_only_with_consent(routed, consent):
    client = Client()
    incident, token = report_through_the_form(
        client, sector=routed["banking"], reporter_email="citizen@example.org",
        **({"reporter_consents_to_contact": "on"} if consent else {}))
    assert incident.reporter_consents_to_contact is consent
    new_mail()  # receipt and new report
    handler = Membership.objects.get(cert__slug="banking", role="handler").user

    incident_comment(incident=incident, actor=handler, body="Internal only.")
    assert new_mail() == []
    incident_comment(incident=incident, actor=handler, body="Please block the sender.",
                     reporter_visible=True)

    sent = new_mail()
    if not consent:
        assert sent == []
        assert not Notification.objects.filter(kind=Notification.Kind.REPORTER_REPLY).exists()
        return
    [email] = sent
    assert email.to == ["citizen@example.org"]
    assert incident.reference in email.subject and incident.reference in email.body
    assert "http://portal.test.example/report/status/" in email.body
    assert "Please block the sender." not in email.body
    assert token and token not in email.body
    assert new_mail() == []


def test_no_reply_email_for_a_reporter_without_an_address(routed):
    client = Client()
    incident, _token = report_through_the_form(client, sector=routed["banking"],
                                               reporter_phone="+92 300 1234567",
                                               reporter_consents_to_contact="on")
    new_mail()
    handler = Membership.objects.get(cert__slug="banking", role="handler").user

    incident_comment(incident=incident, actor=handler, body="Thanks.", reporter_visible=True)

    assert new_mail() == []


def test_the_receipt_and_the_reply_are_in_the_language_the_reporter_used(routed):
    client = Client(HTTP_ACCEPT_LANGUAGE="ur")
    incident, token = report_through_the_form(
        client, sector=routed["banking"], reporter_email="citizen@example.org",
        reporter_consents_to_contact="on")
    assert incident.reporter_language == "ur"

    receipt = next(email for email in new_mail() if email.to == ["citizen@example.org"])
    assert "آپ کی رپورٹ" in receipt.subject
    assert "Your incident report" not in receipt.subject
    assert "Thank you" not in receipt.body
    assert token in receipt.body
    assert incident.reference in receipt.body
    assert "http://portal.test.example/report/status/" in receipt.body

    handler = Membership.objects.get(cert__slug="banking", role="handler").user
    incident_comment(incident=incident, actor=handler, body="Reply", reporter_visible=True)
    [reply] = new_mail()
    assert "نیا پیغام" in reply.subject
    assert "new message" not in reply.body


def test_the_receipt_stays_english_for_an_english_reporter(routed):
    incident, _token = report_through_the_form(Client(), reporter_email="citizen@example.org")
    assert incident.reporter_language == "en"

    receipt = next(email for email in new_mail() if email.to == ["citizen@example.org"])
    assert receipt.subject.startswith("Your incident report")
    assert "آپ" not in receipt.body


def test_links_in_emails_use_the_portal_base_url(certs, staff, settings):
    settings.PORTAL_BASE_URL = "https://cert.example.gov.pk/"
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    incident_escalate(incident=incident, actor=staff("lahore", "handler"))

    [email] = new_mail()
    assert f"https://cert.example.gov.pk/dashboard/incidents/{incident.reference}/" in email.body
    assert "127.0.0.1" not in email.body


# --- The "message recipients" row of the permission matrix ------------------------------------

OWNER, EARLIER_OWNER, ANCESTOR, SHARED, UNRELATED = (
    "owner", "earlier owner", "ancestor", "shared with", "unrelated")
# DOMAIN.md §2, retyped: which relations may view under which label.
MAY_VIEW = {
    OWNER: set(TLPS), EARLIER_OWNER: set(TLPS),
    ANCESTOR: {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"},
    SHARED: {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"},
    UNRELATED: set(),
}
# The incident of every cell: opened by Lahore, shared with banking, escalated to Punjab,
# relabelled. Rawalpindi stands for the CERTs with no relation.
RELATION_CERT = {OWNER: "punjab", EARLIER_OWNER: "lahore", ANCESTOR: "government",
                 SHARED: "banking", UNRELATED: "rawalpindi"}
# Which roles each kind of staff message is for (issue 7; DOMAIN.md §3), and whether the
# assignee hears of it too.
STAFF_KINDS = {
    "escalated": ({"head", "handler"}, False),
    "referred": ({"head", "handler"}, False),
    "new_report": ({"head", "handler"}, False),
    "reporter_follow_up": ({"head", "handler"}, True),
    "resolution_missed": ({"head"}, True),
    "resolution_missed_oversight": ({"head", "handler"}, False),
    "ack_missed_root": ({"handler"}, True),
}


@pytest.fixture
def matrix_world(certs, staff, clock):
    """One incident per TLP label, every relation present, assigned to the Punjab liaison."""
    world = {}
    for tlp in TLPS:
        incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"),
                                 tlp="TLP:AMBER", title=f"Matrix {tlp}")
        incident_share(incident=incident, actor=staff("lahore", "handler"), cert=certs["banking"])
        incident_escalate(incident=incident, actor=staff("lahore", "handler"))
        if tlp != "TLP:AMBER":
            incident_change_tlp(incident=incident, actor=staff("punjab", "head"), tlp=tlp)
        incident_assign(incident=incident, actor=staff("punjab", "handler"),
                        assignee=staff("punjab", "liaison"))
        world[tlp] = incident
    Notification.objects.all().delete()  # the set-up's own messages are tested elsewhere
    return world


def test_every_kind_reaches_exactly_who_may_view_in_every_relation_and_label(
        matrix_world, staff, clock):
    user_by_email = {user.email: user for user in get_user_model().objects.all()}
    assert {kind for kind in Notification.Kind.values} == {
        *STAFF_KINDS, "assigned", "report_confirmation", "reporter_reply", "watched_activity"}
    # Every relation's analyst and liaison watch every incident (rows written as the service
    # would have while the label allowed it).
    for incident in matrix_world.values():
        for slug in RELATION_CERT.values():
            for role in ("analyst", "liaison"):
                IncidentWatch.objects.create(user=staff(slug, role), incident=incident,
                                             created_at=clock.now)
    expected = {}
    for tlp, incident in matrix_world.items():
        for relation, slug in RELATION_CERT.items():
            cert = staff(slug, "head").memberships.get().cert
            for kind, (roles, with_assignee) in STAFF_KINDS.items():
                key = f"matrix:{tlp}:{relation}:{kind}"
                notify(kind, incident, clock.now, key=key, cert=cert)
                people = set()
                if tlp in MAY_VIEW[relation]:
                    people = {f"{slug}.{role}{STAFF_DOMAIN}" for role in roles}
                if with_assignee:
                    people.add(f"punjab.liaison{STAFF_DOMAIN}")
                expected[key] = sorted(people)
            # A person named by the message (an assignment): only while they may view it.
            key = f"matrix:{tlp}:{relation}:assigned"
            notify("assigned", incident, clock.now, key=key, user=staff(slug, "analyst"))
            expected[key] = ([f"{slug}.analyst{STAFF_DOMAIN}"] if tlp in MAY_VIEW[relation]
                             else [])
            # Activity on a watched incident: its watchers who may view it, but not who acted
            # (this relation's liaison).
            key = f"watch:{tlp}:{relation}"
            notify("watched_activity", incident, clock.now, key=key, user=staff(slug, "liaison"))
            expected[key] = sorted(f"{other}.{role}{STAFF_DOMAIN}"
                                   for other_relation, other in RELATION_CERT.items()
                                   if tlp in MAY_VIEW[other_relation]
                                   for role in ("analyst", "liaison")
                                   if (other, role) != (slug, "liaison"))

    deliver_notifications()

    actual = {n.key: sorted(filter(None, n.recipients.split(", ")))
              for n in Notification.objects.all()}
    wrong = [f"{key}: expected {expected[key]}, got {actual[key]}"
             for key in expected if actual[key] != expected[key]]
    assert wrong == []
    # The in-app notices went to exactly the same people (issue 9).
    in_app: dict[str, list[str]] = {key: [] for key in expected}
    for key, email in InboxItem.objects.values_list("notification__key", "user__email"):
        in_app[key].append(email)
    assert {key: sorted(emails) for key, emails in in_app.items()} == expected
    # And what was really sent: every staff recipient may view the incident of the message.
    by_subject = {incident.reference: incident for incident in matrix_world.values()}
    for email in mail.outbox:
        incident = by_subject[re.search(r"PK-INC-\d{4}-\d{6}", email.subject).group(0)]
        for address in email.to:
            assert Action.VIEW in allowed_actions(user_by_email[address], incident), (
                address, incident.tlp, email.subject)
    assert len(mail.outbox) == sum(1 for people in expected.values() if people)


@pytest.mark.parametrize("tlp", TLPS)
def test_the_real_flows_send_staff_messages_only_to_who_may_view(certs, staff, clock, media, tlp):
    """Each kind, made by the services and the SLA pass as they run, under each label."""
    call_command("load_routing_rules", stdout=StringIO())
    client = Client()
    reported, _token = report_through_the_form(client, reporter_email="citizen@example.org",
                                               reporter_consents_to_contact="on")
    Incident.objects.filter(pk=reported.pk).update(tlp=tlp)
    from incidents.grants import sync_grants

    sync_grants([reported.pk])
    client.post(f"/report/status/{reported.reference}/", {"message": "More."})
    incident_comment(incident=reported, actor=staff("national", "handler"), body="Reply.",
                     reporter_visible=True)
    clock.set(reported.ack_due_at)
    run_sla_pass(now=clock.now)  # at the root: the duty handlers

    worked = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"),
                           tlp="TLP:AMBER")
    incident_share(incident=worked, actor=staff("lahore", "handler"), cert=certs["banking"])
    for slug in ("lahore", "banking"):
        incident_watch(incident=worked, actor=staff(slug, "analyst"))
    if tlp != "TLP:AMBER":
        incident_change_tlp(incident=worked, actor=staff("lahore", "head"), tlp=tlp)
    incident_assign(incident=worked, actor=staff("lahore", "handler"),
                    assignee=staff("lahore", "analyst"))
    incident_escalate(incident=worked, actor=staff("lahore", "handler"))
    incident_refer(incident=worked, actor=staff("punjab", "handler"), to_cert=certs["lahore"])
    overdue = acknowledged(certs, staff, tlp=tlp)
    clock.set(overdue.resolve_due_at)
    run_sla_pass(now=clock.now)

    deliver_notifications()

    kinds = set(Notification.objects.values_list("kind", flat=True))
    oversees = tlp in MAY_VIEW[ANCESTOR]
    assert kinds == set(Notification.Kind.values) - (
        set() if oversees else {"resolution_missed_oversight"}), kinds
    user_by_email = {user.email: user for user in get_user_model().objects.all()}
    incidents = {i.reference: i for i in (reported, worked, overdue)}
    staff_mail = [email for email in mail.outbox if email.to != ["citizen@example.org"]]
    assert staff_mail
    for email in staff_mail:
        incident = incidents[re.search(r"PK-INC-\d{4}-\d{6}", email.subject).group(0)]
        incident.refresh_from_db()
        for address in email.to:
            assert Action.VIEW in allowed_actions(user_by_email[address], incident), (
                address, email.subject)
    # Punjab oversees the overdue incident only where it may view it.
    about_overdue = [email for email in staff_mail if overdue.reference in email.subject]
    assert ("punjab.head@t.example" in addresses(about_overdue)) is oversees


# --- The cost of delivery ---------------------------------------------------------------------

def test_delivery_costs_a_constant_number_of_queries_per_notification(
        certs, staff, clock, django_assert_max_num_queries):
    def queue(count: int, tag: str):
        for n in range(count):
            incident = make_incident(owner_cert=certs["lahore"],
                                     actor=staff("lahore", "handler"), title=f"{tag} {n}")
            incident_escalate(incident=incident, actor=staff("lahore", "handler"))

    queue(3, "few")
    # The rows, their recipients (two queries) and the in-app notices of all (one INSERT) ...
    with django_assert_max_num_queries(4 + 2 * 3):
        assert deliver_notifications() == 3
    queue(30, "many")
    with django_assert_max_num_queries(4 + 2 * 30):  # a claim and a mark per row, not per person
        assert deliver_notifications() == 30
    assert len(mail.outbox) == 33


def test_every_string_of_the_reporter_emails_has_an_urdu_translation():
    import ast
    from pathlib import Path

    from django.utils import translation

    source = Path(notifications.__file__).read_text(encoding="utf-8")
    messages = {node.args[0].value for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_"
                and node.args and isinstance(node.args[0], ast.Constant)}
    assert len(messages) >= 10
    with translation.override("ur"):
        untranslated = sorted(m for m in messages if translation.gettext(m) == m)
    assert untranslated == []


# --- Links: the portal's own address ---------------------------------------------------------

@pytest.mark.parametrize(("addr", "base"), [
    ("127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("8080", "http://127.0.0.1:8080"),
    ("0.0.0.0:9000", "http://127.0.0.1:9000"),
    ("cert.local:8443", "http://cert.local:8443"),
    ("[::1]:8000", "http://[::1]:8000"),
])
def test_run_portal_derives_the_link_base_from_its_address(addr, base):
    from cert_portal.management.commands.run_portal import base_url_for

    assert base_url_for(addr) == base


@pytest.mark.parametrize("preset", [None, "https://cert.example.gov.pk"])
def test_run_portal_passes_its_address_to_both_children_unless_set(monkeypatch, preset):
    from django.core.management.base import CommandError

    from cert_portal.management.commands import run_portal

    started = []

    class FakeChild:
        pid = returncode = 0

        def __init__(self, args, **kwargs):
            started.append((args, kwargs.get("env")))

        def poll(self):
            return 0  # stops at once: the command then stops too

    monkeypatch.setattr(run_portal.subprocess, "Popen", FakeChild)
    monkeypatch.setattr(run_portal.signal, "signal", lambda *args: None)
    monkeypatch.setattr(run_portal.os, "killpg", lambda *args: None)
    if preset is None:
        monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("PORTAL_BASE_URL", preset)

    with pytest.raises(CommandError, match="stopped"):
        call_command("run_portal", "--addr", "127.0.0.1:8123", stdout=StringIO())

    assert [args[-1] if "qcluster" in args else args[-2] for args, _ in started] == [
        "qcluster", "127.0.0.1:8123"]
    assert [env["PORTAL_BASE_URL"] for _, env in started] == [
        preset or "http://127.0.0.1:8123"] * 2
