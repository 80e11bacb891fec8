"""The incident services (DOMAIN.md §3): every change through one function, with its timeline
event, ownership record, grants and notifications, and nothing written when it is refused."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from incidents.access import ActionNotAllowed
from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    Incident,
    IncidentShare,
    Notification,
    Observable,
    ReferenceCounter,
    Status,
    TimelineEvent,
)
from incidents.services import (
    TRANSITIONS,
    ConflictError,
    incident_add_observable,
    incident_assign,
    incident_attach,
    incident_change_severity,
    incident_change_tlp,
    incident_comment,
    incident_escalate,
    incident_refer,
    incident_share,
    incident_transition,
)
from incidents.tasks import deliver_notifications
from tests.factories import make_incident
from tests.incidents.support import (
    DELIVERY_TASK,
    FULL,
    T0,
    VIEW_COMMENT,
    VIEW_ONLY,
    events,
    grants_by_cert,
    ownership_history,
    queued_funcs,
)

NEW, ACK, WIP = Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS
RESOLVED, CLOSED, REJECTED = Status.RESOLVED, Status.CLOSED, Status.REJECTED

# The lifecycle of DOMAIN.md §3, written out again here so that a change to the code's table
# has to be a change to the design too.
ALLOWED = {
    (NEW, ACK), (NEW, REJECTED),
    (ACK, WIP), (ACK, RESOLVED), (ACK, REJECTED),
    (WIP, RESOLVED),
    (RESOLVED, CLOSED), (RESOLVED, WIP),
    (CLOSED, WIP),
    (REJECTED, NEW),
}
# How a head brings a new incident to each status.
PATH_TO = {
    NEW: [], ACK: [ACK], WIP: [ACK, WIP], RESOLVED: [ACK, RESOLVED],
    CLOSED: [ACK, RESOLVED, CLOSED], REJECTED: [REJECTED],
}


@pytest.fixture
def lahore_incident(certs, member, clock):
    """A TLP:AMBER, Medium incident opened by a Lahore handler at T0."""
    return make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))


def bring_to(incident, status, head):
    for step in PATH_TO[status]:
        incident_transition(incident=incident, actor=head, to_status=step)
    return incident


def snapshot(incident) -> dict:
    """Everything a refused change must leave as it was."""
    incident.refresh_from_db()
    return {
        "row": {field.attname: getattr(incident, field.attname)
                for field in Incident._meta.concrete_fields},
        "events": TimelineEvent.objects.filter(incident=incident).count(),
        "ownerships": ownership_history(incident),
        "grants": grants_by_cert(incident),
        "shares": IncidentShare.objects.filter(incident=incident).count(),
        "notifications": Notification.objects.filter(incident=incident).count(),
        "comments": Comment.objects.filter(incident=incident).count(),
        "attachments": Attachment.objects.filter(incident=incident).count(),
    }


# --- Creating an incident --------------------------------------------------------------------

def test_create_hands_out_references_in_the_configured_format_one_after_another(
        certs, member, clock):
    handler = member("lahore", "handler")

    first = make_incident(owner_cert=certs["lahore"], actor=handler)
    second = make_incident(owner_cert=certs["punjab"], actor=member("punjab", "analyst"))
    third = make_incident(owner_cert=certs["lahore"], actor=handler)

    references = [first.reference, second.reference, third.reference]
    assert all(re.fullmatch(r"PK-INC-2026-\d{6}", ref) for ref in references), references
    numbers = [int(ref.rsplit("-", 1)[1]) for ref in references]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    assert ReferenceCounter.objects.get(prefix="PK-INC", year=2026).last_number == numbers[2]


def test_reference_prefix_is_configurable_and_year_is_karachi_local(certs, member, clock,
                                                                     settings):
    settings.INCIDENT_REFERENCE_PREFIX = "XX-INC"
    clock.set(datetime(2026, 12, 31, 20, 0, tzinfo=UTC))  # already 2027 in Karachi (UTC+5)

    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))

    assert incident.reference == "XX-INC-2027-000001"


@pytest.mark.parametrize(
    ("severity", "acknowledge", "resolve"),
    [
        (5, timedelta(minutes=15), timedelta(hours=24)),
        (4, timedelta(hours=1), timedelta(days=3)),
        (3, timedelta(hours=4), timedelta(days=7)),
        (2, timedelta(hours=24), timedelta(days=14)),
        (1, timedelta(days=3), timedelta(days=30)),
        (0, timedelta(days=7), timedelta(days=90)),
    ],
)
def test_create_sets_the_deadlines_of_the_severity(certs, member, clock, severity, acknowledge,
                                                   resolve):
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                             severity=severity)

    incident.refresh_from_db()
    assert incident.severity == severity
    assert (incident.reported_at, incident.owner_since) == (T0, T0)
    assert incident.ack_due_at == T0 + acknowledge
    assert incident.resolve_due_at == T0 + resolve


def test_create_records_the_incident_its_event_ownership_observables_and_grants(
        certs, member, clock):
    handler = member("lahore", "handler")

    incident = make_incident(
        owner_cert=certs["lahore"], actor=handler, title="Phishing from evil[.]example",
        description="Links to hxxp://evil[.]example/login, sent from 203.0.113.7 and "
                    "203.0.113.7 again; exploits CVE-2024-3094.",
    )

    incident.refresh_from_db()
    assert (incident.status, incident.tlp, incident.owner_cert, incident.created_by) == (
        "new", "TLP:AMBER", certs["lahore"], handler)
    assert incident.version == 1
    [created] = events(incident)
    assert (created.kind, created.actor, created.at, created.old_value, created.new_value) == (
        EventKind.CREATED, handler, T0, "", "LHR-CERT")
    assert ownership_history(incident) == [("lahore", T0, None)]
    assert set(Observable.objects.filter(incident=incident).values_list("type", "value")) == {
        ("domain", "evil.example"), ("url", "http://evil.example/login"),
        ("ipv4", "203.0.113.7"), ("cve", "CVE-2024-3094"),
    }
    assert grants_by_cert(incident) == {
        "lahore": FULL, "punjab": VIEW_ONLY, "government": VIEW_ONLY, "national": VIEW_ONLY}


def test_create_under_tlp_red_gives_the_ancestors_nothing(certs, member, clock):
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                             tlp="TLP:RED")

    assert grants_by_cert(incident) == {"lahore": FULL}


@pytest.mark.parametrize("role", ["liaison", None])
def test_create_is_refused_to_someone_who_cannot_open_incidents_for_the_cert(
        certs, member, outsider, clock, role):
    actor = member("lahore", role) if role else outsider

    with pytest.raises(ValidationError) as refused:
        make_incident(owner_cert=certs["lahore"], actor=actor)

    assert "owner_cert" in refused.value.message_dict
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"classification": "no-such-class"}, "classification", "not an RSIT classification"),
        ({"incident_type": "no-such-type"}, "incident_type", "not an RSIT incident type"),
        ({"incident_type": "spam"}, "incident_type", "belongs to 'abusive-content'"),
        ({"tlp": "TLP:WHITE"}, "tlp", "not a TLP 2.0 label"),
        ({"tlp": "amber"}, "tlp", "not a TLP 2.0 label"),
        ({"severity": 7}, "severity", "not a level from 0"),
        ({"severity": "high"}, "severity", "not a level from 0"),
        ({"title": "   "}, "title", "title"),
    ],
)
def test_create_refuses_bad_input_naming_the_field_and_writes_nothing(
        certs, member, clock, fields, field, words):
    with pytest.raises(ValidationError) as refused:
        make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"), **fields)

    assert field in refused.value.message_dict, refused.value.message_dict
    assert words in " ".join(refused.value.message_dict[field])
    assert not Incident.objects.exists()
    assert not TimelineEvent.objects.exists()
    assert not ReferenceCounter.objects.exists()  # no reference number was used up


def test_create_costs_the_same_queries_whatever_the_number_of_observables(certs, member, clock):
    handler = member("lahore", "handler")
    make_incident(owner_cert=certs["lahore"], actor=handler)  # the counter row exists now

    def queries_to_create(description: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as context:
            incident = make_incident(owner_cert=certs["lahore"], actor=handler,
                                     description=description)
        return len(context.captured_queries), incident.observables.count()

    one = queries_to_create("from 203.0.113.1")
    many = queries_to_create(" ".join(f"203.0.113.{n}" for n in range(1, 21)))

    assert (one[1], many[1]) == (1, 20)
    assert one[0] == many[0] <= 40


# --- The lifecycle ---------------------------------------------------------------------------

def test_the_transition_table_is_the_lifecycle_of_the_domain_design():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("start", "target"), sorted(ALLOWED))
def test_each_allowed_transition_changes_the_status_and_records_it(
        certs, member, clock, lahore_incident, start, target):
    head = member("lahore", "head")
    incident = bring_to(lahore_incident, start, head)
    version = incident.version
    clock.advance(hours=2)

    incident_transition(incident=incident, actor=head, to_status=target, reason="checked")

    incident.refresh_from_db()
    assert incident.status == target
    assert incident.version == version + 1
    last = events(incident)[-1]
    assert (last.kind, last.actor, last.at, last.reason) == (
        EventKind.STATUS, head, clock.now, "checked")
    assert (last.old_value, last.new_value) == (Status(start).label, Status(target).label)
    if target == ACK:
        assert incident.acknowledged_at == clock.now
    if target in (RESOLVED, REJECTED):
        assert incident.resolved_at == clock.now
    if target in (NEW, WIP):
        assert incident.resolved_at is None
    if target == NEW:  # back in the queue with a fresh acknowledgement deadline
        assert incident.owner_since == clock.now
        assert incident.ack_due_at == clock.now + timedelta(hours=24)


@pytest.mark.parametrize(
    ("start", "target"),
    sorted(pair for pair in product(Status.values, repeat=2) if pair not in ALLOWED),
)
def test_each_transition_not_in_the_table_is_refused_and_changes_nothing(
        certs, member, clock, lahore_incident, start, target):
    head = member("lahore", "head")
    incident = bring_to(lahore_incident, start, head)
    before = snapshot(incident)

    with pytest.raises(ValidationError) as refused:
        incident_transition(incident=incident, actor=head, to_status=target)

    message = " ".join(refused.value.message_dict["status"])
    assert f"{Status(start).label} cannot become {Status(target).label}" in message
    assert "allowed next" in message
    assert snapshot(incident) == before


def test_an_unknown_status_is_refused(certs, member, clock, lahore_incident):
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_transition(incident=lahore_incident, actor=member("lahore", "head"),
                            to_status="archived")

    assert "Unknown status 'archived'" in refused.value.message_dict["status"][0]
    assert snapshot(lahore_incident) == before


@pytest.mark.parametrize(("start", "target"), [(CLOSED, WIP), (REJECTED, NEW)])
def test_reopening_a_final_decision_is_refused_to_a_handler_and_allowed_to_a_head(
        certs, member, clock, lahore_incident, start, target):
    incident = bring_to(lahore_incident, start, member("lahore", "head"))
    before = snapshot(incident)

    with pytest.raises(ActionNotAllowed):
        incident_transition(incident=incident, actor=member("lahore", "handler"),
                            to_status=target)
    assert snapshot(incident) == before

    incident_transition(incident=incident, actor=member("lahore", "head"), to_status=target)
    incident.refresh_from_db()
    assert incident.status == target


def test_an_analyst_cannot_change_the_status_and_an_outsider_does_not_see_the_incident(
        certs, member, outsider, clock, lahore_incident):
    before = snapshot(lahore_incident)

    with pytest.raises(ActionNotAllowed):
        incident_transition(incident=lahore_incident, actor=member("lahore", "analyst"),
                            to_status=ACK)
    with pytest.raises(Http404):
        incident_transition(incident=lahore_incident, actor=outsider, to_status=ACK)
    with pytest.raises(ActionNotAllowed):  # the parent sees it (oversight), does not work it
        incident_transition(incident=lahore_incident, actor=member("punjab", "head"),
                            to_status=ACK)

    assert snapshot(lahore_incident) == before


# Each service, called with input it would refuse from someone who may see the incident.
REFUSED_CHANGES = {
    "transition": lambda i, certs, actor: incident_transition(incident=i, actor=actor,
                                                              to_status="closed"),
    "tlp": lambda i, certs, actor: incident_change_tlp(incident=i, actor=actor, tlp="TLP:RED"),
    "severity": lambda i, certs, actor: incident_change_severity(incident=i, actor=actor,
                                                                 severity=9),
    "escalate": lambda i, certs, actor: incident_escalate(incident=i, actor=actor,
                                                          to_cert=certs["karachi"]),
    "refer": lambda i, certs, actor: incident_refer(incident=i, actor=actor,
                                                    to_cert=certs["national"]),
    "share": lambda i, certs, actor: incident_share(incident=i, actor=actor,
                                                    cert=certs["lahore"]),
    "assign": lambda i, certs, actor: incident_assign(incident=i, actor=actor, assignee=actor),
    "comment": lambda i, certs, actor: incident_comment(incident=i, actor=actor, body=""),
    "observable": lambda i, certs, actor: incident_add_observable(incident=i, actor=actor,
                                                                  type="ipv4", value="x"),
    "attach": lambda i, certs, actor: incident_attach(
        incident=i, actor=actor, uploaded_file=SimpleUploadedFile("a.txt", b"")),
}


@pytest.mark.parametrize("change", REFUSED_CHANGES.values(), ids=REFUSED_CHANGES.keys())
@pytest.mark.parametrize("who", ["outsider", "parent under TLP:RED", "sibling CERT"])
def test_someone_who_cannot_see_the_incident_gets_404_before_any_validation(
        certs, member, outsider, clock, change, who):
    """A validation message would tell them about the incident: its status, TLP or owner."""
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                             tlp="TLP:RED")
    stranger = {"outsider": outsider, "parent under TLP:RED": member("punjab", "head"),
                "sibling CERT": member("rawalpindi", "head")}[who]
    before = snapshot(incident)

    with pytest.raises(Http404):
        change(incident, certs, stranger)

    assert snapshot(incident) == before


# --- Assignment ------------------------------------------------------------------------------

def test_assign_to_a_member_records_it_and_emails_the_assignee_once(
        certs, member, clock, lahore_incident, django_capture_on_commit_callbacks):
    handler, analyst = member("lahore", "handler"), member("lahore", "analyst")

    with django_capture_on_commit_callbacks(execute=True):
        incident_assign(incident=lahore_incident, actor=handler, assignee=analyst)

    lahore_incident.refresh_from_db()
    assert lahore_incident.assignee == analyst
    last = events(lahore_incident)[-1]
    assert (last.kind, last.actor, last.old_value, last.new_value) == (
        EventKind.ASSIGNED, handler, "", analyst.username)
    [notification] = Notification.objects.filter(incident=lahore_incident)
    assert (notification.kind, notification.user, notification.cert, notification.sent_at) == (
        Notification.Kind.ASSIGNED, analyst, None, None)
    assert queued_funcs() == [DELIVERY_TASK]

    assert deliver_notifications() == 1
    assert deliver_notifications() == 0  # the task delivered twice sends nothing more

    [email] = mail.outbox
    assert email.to == [analyst.email]
    assert lahore_incident.reference in email.subject and "TLP:AMBER" in email.subject
    notification.refresh_from_db()
    assert notification.sent_at == clock.now
    assert notification.recipients == analyst.email


def test_assigning_oneself_sends_no_email(certs, member, clock, lahore_incident,
                                          django_capture_on_commit_callbacks):
    handler = member("lahore", "handler")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        incident_assign(incident=lahore_incident, actor=handler, assignee=handler)

    lahore_incident.refresh_from_db()
    assert lahore_incident.assignee == handler
    assert callbacks == []
    assert not Notification.objects.exists()


@pytest.mark.parametrize("slug", ["punjab", "rawalpindi"])
def test_assign_to_someone_outside_the_owner_cert_is_refused(certs, member, clock,
                                                              lahore_incident, slug):
    stranger = member(slug, "handler")
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_assign(incident=lahore_incident, actor=member("lahore", "handler"),
                        assignee=stranger)

    assert "is not an active member of Lahore Metropolitan CERT" in (
        refused.value.message_dict["assignee"][0])
    assert snapshot(lahore_incident) == before


def test_unassign(certs, member, clock, lahore_incident):
    handler, analyst = member("lahore", "handler"), member("lahore", "analyst")
    incident_assign(incident=lahore_incident, actor=handler, assignee=analyst)

    incident_assign(incident=lahore_incident, actor=handler, assignee=None)

    lahore_incident.refresh_from_db()
    assert lahore_incident.assignee is None
    assert (events(lahore_incident)[-1].old_value, events(lahore_incident)[-1].new_value) == (
        analyst.username, "")


# --- Severity and TLP ------------------------------------------------------------------------

def test_severity_change_recomputes_both_deadlines_from_their_own_start(
        certs, member, clock, lahore_incident):
    handler = member("lahore", "handler")
    clock.advance(hours=3)
    incident_escalate(incident=lahore_incident, actor=handler)  # Punjab owns it from T0+3h
    clock.advance(hours=1)

    incident_change_severity(incident=lahore_incident, actor=member("punjab", "handler"),
                             severity=5, reason="ransomware confirmed")

    lahore_incident.refresh_from_db()
    assert lahore_incident.severity == 5
    # Acknowledge: 15 minutes from when Punjab received it; resolve: 24 hours from the report.
    assert lahore_incident.ack_due_at == T0 + timedelta(hours=3, minutes=15)
    assert lahore_incident.resolve_due_at == T0 + timedelta(hours=24)
    last = events(lahore_incident)[-1]
    assert (last.kind, last.old_value, last.new_value, last.reason) == (
        EventKind.SEVERITY, "Medium", "Emergency", "ransomware confirmed")


@pytest.mark.parametrize("severity", [7, -1, "high", None])
def test_severity_outside_0_to_5_is_refused(certs, member, clock, lahore_incident, severity):
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_change_severity(incident=lahore_incident, actor=member("lahore", "handler"),
                                 severity=severity)

    assert "not a level from 0" in refused.value.message_dict["severity"][0]
    assert snapshot(lahore_incident) == before


def test_a_handler_makes_the_tlp_stricter_and_the_grants_follow(certs, member, clock,
                                                                 lahore_incident):
    handler = member("lahore", "handler")

    incident_change_tlp(incident=lahore_incident, actor=handler, tlp="TLP:AMBER+STRICT",
                        reason="names a victim")

    lahore_incident.refresh_from_db()
    assert lahore_incident.tlp == "TLP:AMBER+STRICT"
    last = events(lahore_incident)[-1]
    assert (last.kind, last.actor, last.old_value, last.new_value, last.reason) == (
        EventKind.TLP, handler, "TLP:AMBER", "TLP:AMBER+STRICT", "names a victim")
    assert grants_by_cert(lahore_incident) == {"lahore": FULL}  # oversight loses its view


def test_only_a_head_makes_the_tlp_less_strict(certs, member, clock, lahore_incident):
    incident_change_tlp(incident=lahore_incident, actor=member("lahore", "handler"),
                        tlp="TLP:RED")
    before = snapshot(lahore_incident)

    with pytest.raises(ActionNotAllowed):
        incident_change_tlp(incident=lahore_incident, actor=member("lahore", "handler"),
                            tlp="TLP:GREEN")
    assert snapshot(lahore_incident) == before

    incident_change_tlp(incident=lahore_incident, actor=member("lahore", "head"),
                        tlp="TLP:GREEN")
    lahore_incident.refresh_from_db()
    assert lahore_incident.tlp == "TLP:GREEN"
    assert grants_by_cert(lahore_incident) == {
        "lahore": FULL, "punjab": VIEW_ONLY, "government": VIEW_ONLY, "national": VIEW_ONLY}


@pytest.mark.parametrize(("tlp", "words"), [("TLP:WHITE", "TLP:CLEAR"), ("red", "TLP 2.0"),
                                             ("TLP:AMBER", "already TLP:AMBER")])
def test_a_bad_or_unchanged_tlp_is_refused(certs, member, clock, lahore_incident, tlp, words):
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_change_tlp(incident=lahore_incident, actor=member("lahore", "head"), tlp=tlp)

    assert words in " ".join(refused.value.message_dict["tlp"])
    assert snapshot(lahore_incident) == before


# --- Sharing ---------------------------------------------------------------------------------

def test_share_lets_another_cert_view(certs, member, clock, lahore_incident):
    handler = member("lahore", "handler")

    share = incident_share(incident=lahore_incident, actor=handler, cert=certs["karachi"])

    assert (share.incident, share.cert, share.shared_by) == (lahore_incident, certs["karachi"],
                                                             handler)
    last = events(lahore_incident)[-1]
    assert (last.kind, last.actor, last.new_value) == (EventKind.SHARED, handler, "KHI-CERT")
    assert grants_by_cert(lahore_incident)["karachi"] == VIEW_ONLY


@pytest.mark.parametrize("tlp", ["TLP:AMBER+STRICT", "TLP:RED"])
def test_share_is_refused_under_amber_strict_and_red(certs, member, clock, lahore_incident, tlp):
    incident_change_tlp(incident=lahore_incident, actor=member("lahore", "handler"), tlp=tlp)
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_share(incident=lahore_incident, actor=member("lahore", "handler"),
                       cert=certs["karachi"])

    assert refused.value.message_dict["cert"] == [
        f"{tlp} incidents are not shared outside their owners and earlier owners."]
    assert snapshot(lahore_incident) == before


def test_share_twice_or_with_the_owner_is_refused(certs, member, clock, lahore_incident):
    handler = member("lahore", "handler")
    incident_share(incident=lahore_incident, actor=handler, cert=certs["karachi"])
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError, match="already shared with Karachi"):
        incident_share(incident=lahore_incident, actor=handler, cert=certs["karachi"])
    with pytest.raises(ValidationError, match="owns the incident already"):
        incident_share(incident=lahore_incident, actor=handler, cert=certs["lahore"])

    assert snapshot(lahore_incident) == before


def test_a_share_from_a_copy_read_before_the_tlp_became_red_is_refused(certs, member, clock,
                                                                        lahore_incident):
    stale = Incident.objects.get(pk=lahore_incident.pk)  # read while TLP:AMBER
    incident_change_tlp(incident=lahore_incident, actor=member("lahore", "handler"),
                        tlp="TLP:RED")

    with pytest.raises((ValidationError, ConflictError)):
        incident_share(incident=stale, actor=member("lahore", "handler"), cert=certs["karachi"])

    assert not IncidentShare.objects.filter(incident=lahore_incident).exists()


# --- Escalation and referral -----------------------------------------------------------------

def test_escalate_hands_the_incident_to_the_parent(certs, member, clock, lahore_incident,
                                                   django_capture_on_commit_callbacks):
    handler, analyst = member("lahore", "handler"), member("lahore", "analyst")
    incident_transition(incident=lahore_incident, actor=handler, to_status=ACK)
    incident_assign(incident=lahore_incident, actor=handler, assignee=analyst)
    clock.advance(hours=2)

    with django_capture_on_commit_callbacks(execute=True):
        incident_escalate(incident=lahore_incident, actor=handler, reason="beyond our reach")

    lahore_incident.refresh_from_db()
    assert (lahore_incident.owner_cert, lahore_incident.status, lahore_incident.assignee) == (
        certs["punjab"], "new", None)
    assert lahore_incident.owner_since == clock.now
    assert lahore_incident.ack_due_at == clock.now + timedelta(hours=24)
    assert lahore_incident.resolve_due_at == T0 + timedelta(days=14)  # resolution clock runs on
    last = events(lahore_incident)[-1]
    assert (last.kind, last.actor, last.old_value, last.new_value, last.reason) == (
        EventKind.ESCALATED, handler, "LHR-CERT", "PB-CERT", "beyond our reach")
    assert ownership_history(lahore_incident) == [("lahore", T0, clock.now),
                                                  ("punjab", clock.now, None)]
    assert grants_by_cert(lahore_incident) == {
        "lahore": VIEW_COMMENT, "punjab": FULL, "government": VIEW_ONLY, "national": VIEW_ONLY}
    escalated = Notification.objects.get(incident=lahore_incident, kind="escalated")
    assert (escalated.cert, escalated.user) == (certs["punjab"], None)
    assert DELIVERY_TASK in queued_funcs()


def test_escalate_to_a_chosen_ancestor(certs, member, clock, lahore_incident):
    incident_escalate(incident=lahore_incident, actor=member("lahore", "handler"),
                      to_cert=certs["national"])

    lahore_incident.refresh_from_db()
    assert lahore_incident.owner_cert == certs["national"]
    assert events(lahore_incident)[-1].new_value == "PK-CERT"
    assert [slug for slug, _, _ in ownership_history(lahore_incident)] == ["lahore", "national"]
    assert grants_by_cert(lahore_incident) == {"lahore": VIEW_COMMENT, "national": FULL}


@pytest.mark.parametrize("to", ["rawalpindi", "cii", "banking", "lahore"])
def test_escalate_sideways_or_to_itself_is_refused(certs, member, clock, lahore_incident, to):
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_escalate(incident=lahore_incident, actor=member("lahore", "handler"),
                          to_cert=certs[to])

    assert "Escalation goes up the tree only" in refused.value.message_dict["to_cert"][0]
    assert snapshot(lahore_incident) == before


def test_escalate_down_is_refused(certs, member, clock):
    incident = make_incident(owner_cert=certs["punjab"], actor=member("punjab", "handler"))
    before = snapshot(incident)

    with pytest.raises(ValidationError, match="Escalation goes up the tree only"):
        incident_escalate(incident=incident, actor=member("punjab", "handler"),
                          to_cert=certs["lahore"])

    assert snapshot(incident) == before


def test_escalate_from_the_root_is_refused(certs, member, clock):
    incident = make_incident(owner_cert=certs["national"], actor=member("national", "handler"))
    before = snapshot(incident)

    with pytest.raises(ValidationError, match="is the root of the tree"):
        incident_escalate(incident=incident, actor=member("national", "handler"))

    assert snapshot(incident) == before


def test_refer_hands_the_incident_down_to_a_descendant(certs, member, clock,
                                                       django_capture_on_commit_callbacks):
    handler = member("national", "handler")
    incident = make_incident(owner_cert=certs["national"], actor=handler,
                             title="Card skimming at Example Bank")
    clock.advance(minutes=30)

    with django_capture_on_commit_callbacks(execute=True):
        incident_refer(incident=incident, actor=handler, to_cert=certs["example-bank-soc"],
                       reason="their customers")

    incident.refresh_from_db()
    assert (incident.owner_cert, incident.status, incident.owner_since) == (
        certs["example-bank-soc"], "new", clock.now)
    last = events(incident)[-1]
    assert (last.kind, last.actor, last.old_value, last.new_value, last.reason) == (
        EventKind.REFERRED, handler, "PK-CERT", "EXB-SOC", "their customers")
    assert ownership_history(incident) == [("national", T0, clock.now),
                                           ("example-bank-soc", clock.now, None)]
    assert grants_by_cert(incident) == {
        "national": VIEW_COMMENT, "cii": VIEW_ONLY, "banking": VIEW_ONLY,
        "example-bank-soc": FULL}
    referred = Notification.objects.get(incident=incident)
    assert (referred.kind, referred.cert, referred.user) == (
        "referred", certs["example-bank-soc"], None)
    assert queued_funcs() == [DELIVERY_TASK]


@pytest.mark.parametrize("to", ["punjab", "national", "rawalpindi", "lahore"])
def test_refer_up_sideways_or_to_itself_is_refused(certs, member, clock, lahore_incident, to):
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_refer(incident=lahore_incident, actor=member("lahore", "handler"),
                       to_cert=certs[to])

    assert "Referral goes down the tree only" in refused.value.message_dict["to_cert"][0]
    assert snapshot(lahore_incident) == before


@pytest.mark.parametrize("status", [RESOLVED, CLOSED, REJECTED])
def test_escalate_and_refer_of_a_finished_incident_are_refused(certs, member, clock, status):
    head = member("punjab", "head")
    incident = bring_to(make_incident(owner_cert=certs["punjab"], actor=head), status, head)
    before = snapshot(incident)

    with pytest.raises(ValidationError) as escalate_refused:
        incident_escalate(incident=incident, actor=head)
    with pytest.raises(ValidationError) as refer_refused:
        incident_refer(incident=incident, actor=head, to_cert=certs["lahore"])

    for refused in (escalate_refused, refer_refused):
        assert "Only open incidents are handed over" in refused.value.message_dict["status"][0]
    assert snapshot(incident) == before


def test_comment_and_share_stay_possible_on_a_resolved_incident(certs, member, clock,
                                                                 lahore_incident):
    handler = member("lahore", "handler")
    bring_to(lahore_incident, RESOLVED, member("lahore", "head"))

    incident_comment(incident=lahore_incident, actor=handler, body="Post-mortem attached.")
    incident_share(incident=lahore_incident, actor=handler, cert=certs["karachi"])

    lahore_incident.refresh_from_db()
    assert lahore_incident.status == RESOLVED
    assert [e.kind for e in events(lahore_incident)[-2:]] == [EventKind.COMMENT, EventKind.SHARED]
    assert grants_by_cert(lahore_incident)["karachi"] == VIEW_ONLY


def test_escalate_and_refer_need_a_worker_of_the_owner(certs, member, clock, lahore_incident):
    before = snapshot(lahore_incident)

    with pytest.raises(ActionNotAllowed):
        incident_escalate(incident=lahore_incident, actor=member("lahore", "analyst"))
    with pytest.raises(ActionNotAllowed):  # oversight sees, but does not work, the incident
        incident_escalate(incident=lahore_incident, actor=member("punjab", "handler"),
                          to_cert=certs["national"])

    assert snapshot(lahore_incident) == before


# --- Comments --------------------------------------------------------------------------------

def test_comments_are_internal_or_visible_to_the_reporter(certs, member, clock, lahore_incident):
    liaison = member("lahore", "liaison")

    internal = incident_comment(incident=lahore_incident, actor=liaison, body="  Called ISP.  ")
    clock.advance(minutes=5)
    public = incident_comment(incident=lahore_incident, actor=liaison,
                              body="We are looking into it.", reporter_visible=True)
    from_reporter = incident_comment(incident=lahore_incident, actor=None,
                                     body="More screenshots attached.", reporter_visible=True)

    rows = list(Comment.objects.filter(incident=lahore_incident)
                .values_list("author", "body", "reporter_visible", "created_at"))
    assert rows == [
        (liaison.pk, "Called ISP.", False, T0),
        (liaison.pk, "We are looking into it.", True, clock.now),
        (None, "More screenshots attached.", True, clock.now),
    ]
    assert [(e.kind, e.actor, e.new_value) for e in events(lahore_incident, EventKind.COMMENT)] \
        == [(EventKind.COMMENT, liaison, "internal"),
            (EventKind.COMMENT, liaison, "reporter-visible"),
            (EventKind.COMMENT, None, "reporter-visible")]
    assert (internal.reporter_visible, public.reporter_visible,
            from_reporter.reporter_visible) == (False, True, True)


def test_an_empty_comment_is_refused(certs, member, clock, lahore_incident):
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_comment(incident=lahore_incident, actor=member("lahore", "handler"),
                         body=" \n ")

    assert "body" in refused.value.message_dict
    assert snapshot(lahore_incident) == before


# --- Observables ---------------------------------------------------------------------------

def test_add_observable_normalises_it_and_records_it_once(certs, member, clock, lahore_incident):
    analyst = member("lahore", "analyst")

    first = incident_add_observable(incident=lahore_incident, actor=analyst, type="domain",
                                    value=" Evil[.]Example. ")
    again = incident_add_observable(incident=lahore_incident, actor=analyst, type="domain",
                                    value="evil.example")

    assert again == first
    assert (first.type, first.value, first.added_by) == ("domain", "evil.example", analyst)
    assert [(e.actor, e.new_value) for e in events(lahore_incident, EventKind.OBSERVABLE)] == [
        (analyst, "domain: evil.example")]


@pytest.mark.parametrize(("type", "value", "words"), [
    ("ipv4", "192.0.2.999", "is not a valid IPv4 address"),
    ("mac", "00:11:22:33:44:55", "'mac' is not an observable type"),
])
def test_a_bad_observable_is_refused_with_a_message(certs, member, clock, lahore_incident, type,
                                                    value, words):
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_add_observable(incident=lahore_incident, actor=member("lahore", "analyst"),
                                type=type, value=value)

    assert words in refused.value.messages[0]
    assert snapshot(lahore_incident) == before
    assert not Observable.objects.filter(incident=lahore_incident).exists()


def test_a_liaison_cannot_add_observables(certs, member, clock, lahore_incident):
    with pytest.raises(ActionNotAllowed):
        incident_add_observable(incident=lahore_incident, actor=member("lahore", "liaison"),
                                type="ipv4", value="192.0.2.1")

    assert not Observable.objects.filter(incident=lahore_incident).exists()


# --- Attachments -----------------------------------------------------------------------------

PDF = b"%PDF-1.7\n" + b"0" * 3000 + b"\n%%EOF\n"


def stored_files(root) -> list:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_attach_stores_the_file_under_media_root_with_size_hash_and_sniffed_type(
        certs, member, clock, lahore_incident, media):
    analyst = member("lahore", "analyst")
    upload = SimpleUploadedFile("C:\\Users\\me\\notes.txt", PDF, content_type="text/plain")

    attachment = incident_attach(incident=lahore_incident, actor=analyst, uploaded_file=upload)

    attachment.refresh_from_db()
    assert (attachment.original_name, attachment.size, attachment.uploaded_by) == (
        "notes.txt", len(PDF), analyst)
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert attachment.content_type == "application/pdf"  # what the bytes say, not the name
    [path] = stored_files(media)
    # Encrypted at rest (issue 13; tests/incidents/test_attachment_encryption.py).
    assert PDF not in path.read_bytes() and attachment.read_plaintext() == PDF
    assert path.relative_to(media).parts[:2] == ("incidents", str(lahore_incident.public_id))
    assert path.name != "notes.txt"  # the stored name is random
    assert attachment.file.path == str(path)
    last = events(lahore_incident)[-1]
    assert (last.kind, last.actor) == (EventKind.ATTACHMENT, analyst)
    assert last.new_value.startswith(f"notes.txt ({len(PDF):,} bytes, sha256 "
                                     f"{attachment.sha256[:12]}")


@pytest.mark.parametrize(("content", "limit", "words"), [
    (b"", 1000, "The file is empty."),
    (b"x" * 1001, 1000, "the limit is 1,000 bytes"),
])
def test_an_empty_or_oversized_attachment_is_refused_and_nothing_is_stored(
        certs, member, clock, lahore_incident, media, settings, content, limit, words):
    settings.INCIDENT_ATTACHMENT_MAX_BYTES = limit
    before = snapshot(lahore_incident)

    with pytest.raises(ValidationError) as refused:
        incident_attach(incident=lahore_incident, actor=member("lahore", "analyst"),
                        uploaded_file=SimpleUploadedFile("a.bin", content))

    assert words in refused.value.message_dict["file"][0]
    assert snapshot(lahore_incident) == before
    assert stored_files(media) == []


def test_an_attachment_at_the_limit_is_accepted(certs, member, clock, lahore_incident, media,
                                                settings):
    settings.INCIDENT_ATTACHMENT_MAX_BYTES = 1000

    incident_attach(incident=lahore_incident, actor=member("lahore", "analyst"),
                    uploaded_file=SimpleUploadedFile("a.txt", b"y" * 1000))

    assert Attachment.objects.get().size == 1000
    assert len(stored_files(media)) == 1


def test_a_failure_after_the_file_was_written_leaves_no_file_and_no_row(
        certs, member, clock, lahore_incident, media, monkeypatch):
    before = snapshot(lahore_incident)

    def refuse(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(TimelineEvent, "save", refuse)
    with pytest.raises(RuntimeError, match="database went away"):
        incident_attach(incident=lahore_incident, actor=member("lahore", "analyst"),
                        uploaded_file=SimpleUploadedFile("a.pdf", PDF))

    assert snapshot(lahore_incident) == before
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_attach_is_refused_to_a_liaison_and_nothing_is_stored(certs, member, clock,
                                                              lahore_incident, media):
    with pytest.raises(ActionNotAllowed):
        incident_attach(incident=lahore_incident, actor=member("lahore", "liaison"),
                        uploaded_file=SimpleUploadedFile("a.pdf", PDF))

    assert not Attachment.objects.exists()
    assert stored_files(media) == []


# --- Stale writes ----------------------------------------------------------------------------

def test_a_stale_copy_cannot_overwrite_a_newer_change(certs, member, clock, lahore_incident):
    stale = Incident.objects.get(pk=lahore_incident.pk)
    incident_change_severity(incident=lahore_incident, actor=member("lahore", "handler"),
                             severity=4)
    before = snapshot(lahore_incident)

    with pytest.raises(ConflictError, match="was changed by someone else"):
        incident_change_severity(incident=stale, actor=member("lahore", "handler"), severity=1)

    assert snapshot(lahore_incident) == before
    assert lahore_incident.severity == 4
