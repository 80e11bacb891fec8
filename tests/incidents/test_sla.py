"""The SLA clocks at work (DOMAIN.md §3): escalation up the tree by hand and by the scheduled
pass, alerts at the root, missed resolutions, and the e-mails they send, each exactly once."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from datetime import timedelta
from smtplib import SMTPException
from unittest.mock import ANY

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import OrmQ, Schedule

from incidents import notifications
from incidents.models import (
    EventKind,
    Incident,
    Notification,
    OwnershipPeriod,
    Status,
    TimelineEvent,
)
from incidents.services import (
    incident_assign,
    incident_change_severity,
    incident_escalate,
    incident_refer,
    incident_transition,
)
from incidents.sla import ACK_MISSED_REASON, run_sla_pass
from incidents.tasks import SLA_PASS_TASK, deliver_notifications, sla_pass
from organizations.models import Cert
from tests.factories import make_incident
from tests.incidents.support import (
    DELIVERY_TASK,
    FULL,
    T0,
    VIEW_COMMENT,
    VIEW_ONLY,
    bulk_incidents,
    emails_of,
    events,
    grants_by_cert,
    new_mail,
    ownership_history,
    queued_funcs,
)

CHAIN = ["lahore", "punjab", "government", "national"]
SHORT = {"lahore": "LHR-CERT", "punjab": "PB-CERT", "government": "G-CERT",
         "national": "PK-CERT"}
NOTHING = {"escalated": 0, "alerted_at_root": 0, "resolution_missed": 0}


@pytest.fixture
def staff(member):
    """A head, a handler and an analyst in every CERT these tests use."""
    for slug in [*CHAIN, "rawalpindi"]:
        for role in ("head", "handler", "analyst"):
            member(slug, role)
    return member


# --- Escalation along the chain --------------------------------------------------------------

@pytest.mark.parametrize("how", ["by hand", "by the scheduler"])
def test_an_incident_climbs_from_local_to_national(certs, staff, clock, how,
                                                   django_capture_on_commit_callbacks):
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    history = [("lahore", T0, None)]

    for step, owner in enumerate(CHAIN[1:], start=1):
        previous = CHAIN[step - 1]
        queued = OrmQ.objects.count()
        if how == "by hand":
            clock.advance(hours=2)
            actor, reason = staff(previous, "handler"), f"{previous} needs help"
            with django_capture_on_commit_callbacks(execute=True):
                incident_escalate(incident=incident, actor=actor, reason=reason)
        else:
            clock.set(incident.ack_due_at + timedelta(minutes=1))
            actor, reason = None, "acknowledgement deadline missed"
            assert run_sla_pass(now=clock.now).totals() == {**NOTHING, "escalated": 1}
            # The same pass again, now or a little later, finds nothing left to do.
            assert run_sla_pass(now=clock.now).totals() == NOTHING
            assert run_sla_pass(now=clock.now + timedelta(hours=1)).totals() == NOTHING

        incident.refresh_from_db()
        assert incident.owner_cert == certs[owner]
        assert (incident.status, incident.assignee) == (Status.NEW, None)
        assert incident.owner_since == clock.now
        assert incident.ack_due_at == clock.now + timedelta(hours=24)  # Medium: 24 h
        assert incident.resolve_due_at == T0 + timedelta(days=14)  # unchanged by the move

        escalations = events(incident, EventKind.ESCALATED)
        assert len(escalations) == step  # one per hop, whatever ran twice
        last = escalations[-1]
        assert (last.actor, last.at, last.reason) == (actor, clock.now, reason)
        assert (last.old_value, last.new_value) == (SHORT[previous], SHORT[owner])

        history[-1] = (*history[-1][:2], clock.now)
        history.append((owner, clock.now, None))
        assert ownership_history(incident) == history

        # Earlier owners keep view and comment but lose work; the CERTs above the owner keep
        # their oversight view (TLP:AMBER); nobody else has anything.
        assert grants_by_cert(incident) == {
            **{slug: VIEW_COMMENT for slug in CHAIN[:step]},
            owner: FULL,
            **{slug: VIEW_ONLY for slug in CHAIN[step + 1:]},
        }

        assert queued_funcs()[queued:] == [DELIVERY_TASK]
        [email] = new_mail()
        assert email.to == emails_of(owner, "head", "handler")  # not the analyst
        assert email.subject.startswith(f"[TLP:AMBER] {incident.reference} escalated to your")
        assert f"Owner: {certs[owner].name}" in email.body
        assert new_mail() == []  # delivering again sends nothing

    assert Notification.objects.filter(incident=incident, kind="escalated").count() == 3


def test_the_scheduler_leaves_alone_what_is_not_yet_due_or_not_new(certs, staff, clock):
    handler = staff("lahore", "handler")
    waiting = make_incident(owner_cert=certs["lahore"], actor=handler)
    acknowledged = make_incident(owner_cert=certs["lahore"], actor=handler)
    incident_transition(incident=acknowledged, actor=handler, to_status=Status.ACKNOWLEDGED)

    assert run_sla_pass(now=waiting.ack_due_at - timedelta(seconds=1)).totals() == NOTHING
    assert run_sla_pass(now=waiting.ack_due_at).totals() == {**NOTHING, "escalated": 1}

    waiting.refresh_from_db()
    acknowledged.refresh_from_db()
    assert (waiting.owner_cert, acknowledged.owner_cert) == (certs["punjab"], certs["lahore"])
    assert events(acknowledged, EventKind.ESCALATED) == []


def test_the_scheduler_escalates_an_assigned_incident_and_unassigns_it(certs, staff, clock):
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    incident_assign(incident=incident, actor=staff("lahore", "handler"),
                    assignee=staff("lahore", "analyst"))
    version = Incident.objects.get(pk=incident.pk).version

    run_sla_pass(now=incident.ack_due_at)

    incident.refresh_from_db()
    assert (incident.owner_cert, incident.assignee) == (certs["punjab"], None)
    assert incident.version == version + 1  # a human holding the old copy gets a conflict


# --- One hand-over for people and the scheduler (issue 7, finding 2) --------------------------

def hand_over_rows(incident) -> dict:
    """Every row a hand-over writes about `incident` (the incident, its ownership periods,
    timeline, grants and notifications), without ids and the incident's own identity, so that
    two incidents handed over alike compare equal."""
    row = Incident.objects.filter(pk=incident.pk).values().get()
    for own in ("id", "public_id", "reference"):
        del row[own]
    return {
        "incident": row,
        "ownership": [(slug, start, end) for slug, start, end in ownership_history(incident)],
        "timeline": list(TimelineEvent.objects.filter(incident=incident).order_by("pk")
                         .values_list("kind", "at", "actor", "old_value", "new_value", "reason")),
        "grants": grants_by_cert(incident),
        "notifications": [
            {**{field: value for field, value in notification.items()
                if field not in ("id", "incident_id")},
             "key": re.sub(r"(?<=:)\d+", "<id>", notification["key"])}
            for notification in Notification.objects.filter(incident=incident).order_by("pk")
            .values()],
    }


def test_the_scheduler_and_the_escalate_service_write_identical_rows(certs, staff, clock):
    handler, analyst = staff("lahore", "handler"), staff("lahore", "analyst")
    twins = [make_incident(owner_cert=certs["lahore"], actor=handler, severity=3,
                           title="Credential phishing against the district office")
             for _ in range(2)]
    for twin in twins:
        incident_assign(incident=twin, actor=handler, assignee=analyst)
    by_the_scheduler, by_the_service = twins
    clock.set(by_the_service.ack_due_at + timedelta(minutes=5))

    incident_escalate(incident=Incident.objects.get(pk=by_the_service.pk), actor=None,
                      reason=ACK_MISSED_REASON)
    assert run_sla_pass(now=clock.now).totals() == {**NOTHING, "escalated": 1}

    rows = hand_over_rows(by_the_scheduler)
    assert rows == hand_over_rows(by_the_service)
    # ... and they are the rows of an escalation to Punjab, not two equal mistakes.
    assert (rows["incident"]["owner_cert_id"], rows["incident"]["assignee_id"],
            rows["incident"]["status"], rows["incident"]["version"]) == (
        certs["punjab"].pk, None, Status.NEW, 3)  # created, assigned, escalated
    assert rows["incident"]["ack_due_at"] == clock.now + timedelta(hours=4)  # High: 4 h
    assert rows["ownership"] == [("lahore", T0, clock.now), ("punjab", clock.now, None)]
    assert rows["timeline"][-1] == (EventKind.ESCALATED, clock.now, None, "LHR-CERT", "PB-CERT",
                                    ACK_MISSED_REASON)
    assert rows["grants"]["punjab"] == FULL and rows["grants"]["lahore"] == VIEW_COMMENT
    assert [(n["kind"], n["cert_id"], n["key"]) for n in rows["notifications"]] == [
        ("assigned", None, "assigned:<id>"),
        ("escalated", certs["punjab"].pk, "escalated:<id>:v3")]


def test_escalate_refer_and_the_scheduler_all_call_the_one_hand_over_write(certs, staff, clock,
                                                                          monkeypatch):
    from incidents.services import handover

    calls, real_write = [], handover.hand_over

    def recorded(**arguments):
        calls.append((arguments["kind"], arguments["actor"], arguments["reason"],
                      [(incident.pk, to.slug) for incident, to in arguments["moves"]]))
        return real_write(**arguments)

    monkeypatch.setattr(handover, "hand_over", recorded)
    handler = staff("lahore", "handler")
    by_hand, by_the_scheduler = (make_incident(owner_cert=certs["lahore"], actor=handler)
                                 for _ in range(2))
    clock.advance(minutes=1)
    incident_escalate(incident=by_hand, actor=handler, reason="needs the province")
    incident_refer(incident=by_hand, actor=staff("punjab", "handler"), to_cert=certs["lahore"])
    run_sla_pass(now=by_the_scheduler.ack_due_at)

    assert calls == [
        (EventKind.ESCALATED, handler, "needs the province", [(by_hand.pk, "punjab")]),
        (EventKind.REFERRED, staff("punjab", "handler"), "Referred", [(by_hand.pk, "lahore")]),
        (EventKind.ESCALATED, None, ACK_MISSED_REASON, [(by_the_scheduler.pk, "punjab")]),
    ]


def test_the_scheduler_never_hands_over_to_an_inactive_cert_as_the_service_refuses_to(
        certs, staff, clock):
    # Registry rules keep a CERT with active children active; a repair or an import that left it
    # inactive must not make the scheduler hand incidents to a CERT nobody works in.
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    Cert.objects.filter(pk=certs["punjab"].pk).update(is_active=False)
    clock.set(incident.ack_due_at + timedelta(minutes=1))

    with pytest.raises(ValidationError, match="is not active"):
        incident_escalate(incident=Incident.objects.get(pk=incident.pk), actor=None,
                          reason=ACK_MISSED_REASON)
    assert run_sla_pass(now=clock.now).totals() == NOTHING

    incident.refresh_from_db()
    assert (incident.owner_cert, incident.version) == (certs["lahore"], 1)
    assert events(incident, EventKind.ESCALATED) == []
    assert not Notification.objects.filter(kind="escalated").exists()


# --- At the root -----------------------------------------------------------------------------

def test_at_the_root_national_handlers_are_alerted_once_per_missed_deadline(certs, staff, clock):
    handler, head = staff("national", "handler"), staff("national", "head")
    incident = make_incident(owner_cert=certs["national"], actor=handler)
    first_due = incident.ack_due_at

    def alerts():
        return events(incident, EventKind.ACK_MISSED)

    assert run_sla_pass(now=first_due - timedelta(seconds=1)).totals() == NOTHING
    clock.set(first_due)
    assert run_sla_pass(now=clock.now).totals() == {**NOTHING, "alerted_at_root": 1}

    incident.refresh_from_db()
    assert (incident.owner_cert, incident.status) == (certs["national"], Status.NEW)
    assert incident.ack_alerted_for == first_due
    assert ownership_history(incident) == [("national", T0, None)]
    [alert] = alerts()
    assert (alert.actor, alert.at) == (None, first_due)
    assert alert.reason.startswith("acknowledgement deadline missed")
    [email] = new_mail()
    assert email.to == emails_of("national", "handler")  # the duty handlers
    assert "acknowledgement deadline missed at the root" in email.subject

    # Later passes find the same missed deadline and stay quiet.
    for later in (timedelta(0), timedelta(minutes=1), timedelta(days=3)):
        assert run_sla_pass(now=clock.now + later).totals() == NOTHING
    assert len(alerts()) == 1
    assert new_mail() == []

    # Rejected and re-opened by the head: back in the queue with a new deadline, which alerts
    # again when it is missed.
    clock.advance(hours=1)
    incident_transition(incident=incident, actor=handler, to_status=Status.REJECTED)
    incident_transition(incident=incident, actor=head, to_status=Status.NEW)
    reopened_at = clock.now
    second_due = reopened_at + timedelta(hours=24)
    assert incident.ack_due_at == second_due
    assert run_sla_pass(now=second_due - timedelta(seconds=1)).totals() == NOTHING
    clock.set(second_due)
    assert run_sla_pass(now=clock.now).totals() == {**NOTHING, "alerted_at_root": 1}
    assert run_sla_pass(now=clock.now).totals() == NOTHING
    assert len(alerts()) == 2
    [email] = new_mail()
    assert email.to == emails_of("national", "handler")

    # A severity change moves the deadline (High: 4 h from when national received it), which
    # has passed already: one more alert.
    clock.advance(hours=1)
    incident_change_severity(incident=incident, actor=handler, severity=3)
    incident.refresh_from_db()
    assert incident.ack_due_at == reopened_at + timedelta(hours=4)
    assert run_sla_pass(now=clock.now).totals() == {**NOTHING, "alerted_at_root": 1}
    assert run_sla_pass(now=clock.now).totals() == NOTHING
    assert len(alerts()) == 3
    assert len(new_mail()) == 1
    incident.refresh_from_db()
    assert incident.owner_cert == certs["national"]  # never moved


# --- Missed resolution -----------------------------------------------------------------------

def test_a_missed_resolution_is_flagged_once_and_told_to_the_owner_and_the_parent(
        certs, staff, clock):
    handler = staff("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    clock.advance(minutes=30)
    incident_transition(incident=incident, actor=handler, to_status=Status.ACKNOWLEDGED)
    incident.refresh_from_db()
    due, version, grants = incident.resolve_due_at, incident.version, grants_by_cert(incident)
    assert due == T0 + timedelta(days=14)

    assert run_sla_pass(now=due - timedelta(seconds=1)).totals() == NOTHING
    clock.set(due + timedelta(minutes=1))
    assert run_sla_pass(now=clock.now).totals() == {**NOTHING, "resolution_missed": 1}
    assert run_sla_pass(now=clock.now + timedelta(days=1)).totals() == NOTHING

    incident.refresh_from_db()
    assert incident.resolution_missed_at == clock.now
    assert (incident.owner_cert, incident.status, incident.version) == (
        certs["lahore"], Status.ACKNOWLEDGED, version)
    assert ownership_history(incident) == [("lahore", T0, None)]
    assert grants_by_cert(incident) == grants
    [flag] = events(incident, EventKind.RESOLUTION_MISSED)
    assert (flag.actor, flag.at, flag.reason) == (None, clock.now, "resolution deadline missed")
    assert events(incident, EventKind.ESCALATED) == []

    sent = new_mail()
    assert sorted(email.to for email in sent) == [
        emails_of("lahore", "head"),  # the owner's heads only
        emails_of("punjab", "head", "handler"),  # the parent's heads and handlers
    ]
    assert all("resolution deadline missed" in email.subject for email in sent)
    assert new_mail() == []


def test_a_missed_resolution_at_the_root_tells_the_national_heads(certs, staff, clock):
    incident = make_incident(owner_cert=certs["national"], actor=staff("national", "handler"))
    incident_transition(incident=incident, actor=staff("national", "handler"),
                        to_status=Status.ACKNOWLEDGED)

    assert run_sla_pass(now=incident.resolve_due_at).totals() == {
        **NOTHING, "resolution_missed": 1}

    [email] = new_mail()
    assert email.to == emails_of("national", "head")


def test_a_later_deadline_after_a_severity_change_is_watched_again(certs, staff, clock):
    handler = staff("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler, severity=4)  # 3 days
    incident_transition(incident=incident, actor=handler, to_status=Status.ACKNOWLEDGED)
    clock.set(T0 + timedelta(days=3))
    assert run_sla_pass(now=clock.now).resolution_missed == 1
    assert len(new_mail()) == 2
    incident.refresh_from_db()

    # Downgraded to Medium: 14 days from the report, not yet passed, so no longer overdue...
    incident_change_severity(incident=incident, actor=handler, severity=2)
    incident.refresh_from_db()
    assert (incident.resolve_due_at, incident.resolution_missed_at) == (
        T0 + timedelta(days=14), None)
    assert run_sla_pass(now=clock.now).totals() == NOTHING

    # ... until that deadline is missed too: flagged and told again.
    clock.set(T0 + timedelta(days=14))
    assert run_sla_pass(now=clock.now).resolution_missed == 1
    assert len(events(incident, EventKind.RESOLUTION_MISSED)) == 2
    assert len(new_mail()) == 2


def test_a_severity_change_from_a_copy_read_before_the_flag_still_rearms_it(certs, staff, clock):
    handler = staff("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler, severity=4)
    incident_transition(incident=incident, actor=handler, to_status=Status.ACKNOWLEDGED)
    copy = Incident.objects.get(pk=incident.pk)  # a handler opens the incident ...
    clock.set(T0 + timedelta(days=3))
    assert run_sla_pass(now=clock.now).resolution_missed == 1  # ... the pass flags it ...

    # ... and the handler's downgrade goes through (or would have to conflict).
    incident_change_severity(incident=copy, actor=handler, severity=2)

    incident.refresh_from_db()
    assert incident.resolve_due_at == T0 + timedelta(days=14)
    clock.set(T0 + timedelta(days=14))
    assert run_sla_pass(now=clock.now).resolution_missed == 1  # the new deadline is missed


def test_a_resolved_incident_has_no_missed_deadline(certs, staff, clock):
    head = staff("lahore", "head")
    incident = make_incident(owner_cert=certs["lahore"], actor=head)
    incident_transition(incident=incident, actor=head, to_status=Status.ACKNOWLEDGED)
    incident_transition(incident=incident, actor=head, to_status=Status.RESOLVED)

    assert run_sla_pass(now=incident.resolve_due_at + timedelta(days=1)).totals() == NOTHING
    assert not Notification.objects.exists()


# --- The cost of a pass ----------------------------------------------------------------------

def make_overdue(certs, count: int, *, now, tag: str) -> dict[str, list[int]]:
    """`count` incidents of each kind the pass acts on: new at Lahore past the acknowledgement
    deadline; new at the root past it; acknowledged at Lahore past the resolution deadline.
    Returns their ids by the step that acts on them."""
    reported = now - timedelta(days=20)
    return {
        "escalated": bulk_incidents(
            certs["lahore"], count, tag=f"{tag}-escalate", reported=reported,
            ack_due=now - timedelta(hours=1), resolve_due=now + timedelta(days=10)),
        "alerted_at_root": bulk_incidents(
            certs["national"], count, tag=f"{tag}-root", reported=reported,
            ack_due=now - timedelta(hours=1), resolve_due=now + timedelta(days=10)),
        "resolution_missed": bulk_incidents(
            certs["lahore"], count, tag=f"{tag}-resolve", reported=reported,
            status=Status.ACKNOWLEDGED, ack_due=now - timedelta(days=5),
            resolve_due=now - timedelta(hours=1)),
    }


def statement_shapes(queries) -> Counter:
    """What each query does to which table, without its values: ("UPDATE", "incidents_...")."""
    shapes = Counter()
    for query in queries:
        sql = query["sql"]
        verb = sql.split(None, 1)[0].upper()
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
        shapes[(verb, table[1] if table else "")] += 1
    return shapes


def test_a_chunk_costs_the_same_queries_for_ten_or_a_thousand_overdue_incidents(
        certs, staff, clock, settings):
    settings.SLA_PASS_CHUNK = 1000
    first = T0 + timedelta(days=30)
    make_overdue(certs, 10, now=first, tag="ten")
    with CaptureQueriesContext(connection) as ten:
        assert run_sla_pass(now=first).totals() == {
            "escalated": 10, "alerted_at_root": 10, "resolution_missed": 10}

    second = first + timedelta(minutes=1)
    make_overdue(certs, 1000, now=second, tag="thousand")
    with CaptureQueriesContext(connection) as thousand:
        assert run_sla_pass(now=second).totals() == {
            "escalated": 1000, "alerted_at_root": 1000, "resolution_missed": 1000}

    assert Incident.objects.filter(owner_cert=certs["punjab"]).count() == 1010
    assert Notification.objects.count() == 1010 * 4  # escalated, root alert, owner + parent
    # One statement per table and step, on SQLite too (cert_portal/db.py lifts Django's
    # assumed 999-parameter limit, which would otherwise split the bulk INSERTs into batches).
    # A full chunk may not be the last: each step then tries one more, which finds nothing.
    empty_chunks = Counter({("SELECT", "incidents_incident"): 3, ("SAVEPOINT", ""): 3,
                            ("RELEASE", ""): 3})
    assert statement_shapes(thousand.captured_queries) == (
        statement_shapes(ten.captured_queries) + empty_chunks)
    assert len(thousand.captured_queries) == len(ten.captured_queries) + 9


# --- A backlog in chunks (issue 8, item 5) ---------------------------------------------------

def make_backlog(certs, count: int, *, now) -> dict[str, list[int]]:
    """make_overdue's incidents, with deadlines that run against their ids: the last made has the
    oldest deadline, so that "oldest first" cannot pass for "lowest id first". Returns their ids
    by step, oldest deadline first."""
    backlog = make_overdue(certs, count, now=now, tag="backlog")
    for step, ids in backlog.items():
        due = "resolve_due_at" if step == "resolution_missed" else "ack_due_at"
        for age, pk in enumerate(ids):
            Incident.objects.filter(pk=pk).update(**{due: now - timedelta(hours=1, minutes=age)})
    return {step: ids[::-1] for step, ids in backlog.items()}


def acted_on(kind: str) -> list[int]:
    """The incidents with a timeline event of `kind`, in the order the events were written."""
    return list(TimelineEvent.objects.filter(kind=kind).order_by("pk")
                .values_list("incident_id", flat=True))


STEP_EVENTS = {"escalated": EventKind.ESCALATED, "alerted_at_root": EventKind.ACK_MISSED,
               "resolution_missed": EventKind.RESOLUTION_MISSED}


def test_a_backlog_is_worked_in_chunks_oldest_first_and_each_incident_once(
        certs, clock, settings, caplog):
    settings.SLA_PASS_CHUNK = 2
    now = clock.set(T0 + timedelta(days=30))
    backlog = make_backlog(certs, 5, now=now)
    caplog.set_level(logging.INFO, logger="incidents.sla")

    result = run_sla_pass(now=now)

    assert result.totals() == {"escalated": 5, "alerted_at_root": 5, "resolution_missed": 5}
    assert result.more_due is False
    # The steps take turns, a chunk each, so that no backlog holds up the others.
    assert [(chunk.step, chunk.rows) for chunk in result.chunks] == [
        ("escalated", 2), ("alerted_at_root", 2), ("resolution_missed", 2)] * 2 + [
        ("escalated", 1), ("alerted_at_root", 1), ("resolution_missed", 1)]
    assert [re.sub(r"\d+\.\d\d s$", "<t> s", record.getMessage()) for record in caplog.records
            if record.name == "incidents.sla"] == [
        "sla pass: escalated 2 in <t> s",
        "sla pass: alerted at the root about 2 in <t> s",
        "sla pass: flagged the missed resolution of 2 in <t> s"] * 2 + [
        "sla pass: escalated 1 in <t> s",
        "sla pass: alerted at the root about 1 in <t> s",
        "sla pass: flagged the missed resolution of 1 in <t> s"]

    # Every incident once, the oldest deadline first.
    for step, kind in STEP_EVENTS.items():
        assert acted_on(kind) == backlog[step], step
    escalated = backlog["escalated"]
    assert set(Incident.objects.filter(pk__in=escalated).values_list("owner_cert__slug",
                                                                     flat=True)) == {"punjab"}
    assert Counter(OwnershipPeriod.objects.filter(incident_id__in=escalated)
                   .values_list("incident_id", "cert__slug", "ended_at")) == Counter(
        {(pk, "lahore", now): 1 for pk in escalated} | {(pk, "punjab", None): 1 for pk in escalated})
    for pk in escalated:
        assert grants_by_cert(Incident(pk=pk)) == {"lahore": VIEW_COMMENT, "punjab": FULL,
                                                   "government": VIEW_ONLY, "national": VIEW_ONLY}
    assert Counter(Notification.objects.values_list("kind", "incident_id")) == Counter(
        [("escalated", pk) for pk in escalated]
        + [("ack_missed_root", pk) for pk in backlog["alerted_at_root"]]
        + [(kind, pk) for pk in backlog["resolution_missed"]
           for kind in ("resolution_missed", "resolution_missed_oversight")])
    assert queued_funcs() == [DELIVERY_TASK]  # once for the pass, not once per chunk

    # A second pass right after finds nothing left to do.
    written = (TimelineEvent.objects.count(), Notification.objects.count(),
               OwnershipPeriod.objects.count())
    again = run_sla_pass(now=now)
    assert (again.totals(), again.chunks, again.more_due) == (NOTHING, [], False)
    assert (TimelineEvent.objects.count(), Notification.objects.count(),
            OwnershipPeriod.objects.count()) == written
    assert queued_funcs() == [DELIVERY_TASK]


def test_a_used_budget_stops_the_pass_and_the_task_queues_the_next_at_once(certs, clock,
                                                                           settings):
    # A budget of 0 s is used once each step has had the one chunk it always gets.
    settings.SLA_PASS_CHUNK, settings.SLA_PASS_TIME_BUDGET_SECONDS = 2, 0
    backlog = make_backlog(certs, 5, now=clock.set(T0 + timedelta(days=30)))
    one_chunk_each = {"chunks": 1, "seconds": ANY, "slowest_chunk_seconds": ANY}

    first = sla_pass()

    assert first == {"escalated": 2, "alerted_at_root": 2, "resolution_missed": 2,
                     "more_due": True, "steps": dict.fromkeys(STEP_EVENTS, one_chunk_each)}
    assert json.loads(json.dumps(first)) == first  # django-q2 stores it as the task's result
    for step, kind in STEP_EVENTS.items():
        assert acted_on(kind) == backlog[step][:2], step
    assert queued_funcs() == [DELIVERY_TASK, SLA_PASS_TASK]

    # What the queued passes do, the third finishing the backlog and queueing no other.
    second, third = sla_pass(), sla_pass()
    assert (second["more_due"], {step: second[step] for step in STEP_EVENTS}) == (
        True, dict.fromkeys(STEP_EVENTS, 2))
    assert (third["more_due"], {step: third[step] for step in STEP_EVENTS}) == (
        False, dict.fromkeys(STEP_EVENTS, 1))
    for step, kind in STEP_EVENTS.items():
        assert acted_on(kind) == backlog[step], step
    assert queued_funcs() == [DELIVERY_TASK, SLA_PASS_TASK] * 2 + [DELIVERY_TASK]
    assert sla_pass() == {**NOTHING, "more_due": False, "steps": {}}
    assert len(queued_funcs()) == 5


def test_the_budget_is_looked_at_between_chunks_never_during_one(certs, clock, settings,
                                                                 monkeypatch):
    from incidents import sla
    from incidents.services import handover

    settings.SLA_PASS_CHUNK, settings.SLA_PASS_TIME_BUDGET_SECONDS = 2, 15
    now = clock.set(T0 + timedelta(days=30))
    backlog = make_backlog(certs, 5, now=now)
    elapsed, real_write = [0.0], handover.hand_over

    def ten_seconds_per_escalation_chunk(**arguments):
        elapsed[0] += 10
        return real_write(**arguments)

    monkeypatch.setattr(sla, "monotonic", lambda: elapsed[0])
    monkeypatch.setattr(handover, "hand_over", ten_seconds_per_escalation_chunk)

    result = run_sla_pass(now=now)

    # 10 s after the first round, under the budget: the next escalation chunk runs to its end
    # (20 s, over the budget), and then the pass stops before the next chunk.
    assert [(chunk.step, chunk.rows, chunk.seconds) for chunk in result.chunks] == [
        ("escalated", 2, 10), ("alerted_at_root", 2, 0), ("resolution_missed", 2, 0),
        ("escalated", 2, 10)]
    assert result.totals() == {"escalated": 4, "alerted_at_root": 2, "resolution_missed": 2}
    assert result.more_due is True
    assert acted_on(EventKind.ESCALATED) == backlog["escalated"][:4]
    assert queued_funcs() == [DELIVERY_TASK]  # the task, not the pass, queues the follow-up


@pytest.mark.django_db(transaction=True)
def test_a_failing_chunk_is_rolled_back_alone_and_the_chunks_before_it_stay(
        certs, clock, settings, monkeypatch, caplog):
    from incidents.services import handover

    settings.SLA_PASS_CHUNK = 2
    now = clock.set(T0 + timedelta(days=30))
    backlog = make_backlog(certs, 5, now=now)
    escalated, real_write, chunks = backlog["escalated"], handover.hand_over, []

    def second_chunk_fails_after_writing(**arguments):
        chunks.append(arguments["moves"])
        real_write(**arguments)
        if len(chunks) == 2:
            raise RuntimeError("connection to the mail relay lost")

    monkeypatch.setattr(handover, "hand_over", second_chunk_fails_after_writing)

    with pytest.raises(RuntimeError, match="mail relay lost"):
        run_sla_pass(now=now)

    assert not connection.in_atomic_block  # what is in the database is committed
    owners = dict(Incident.objects.filter(pk__in=escalated).values_list("pk", "owner_cert__slug"))
    assert owners == {pk: "punjab" if pk in escalated[:2] else "lahore" for pk in escalated}
    assert acted_on(EventKind.ESCALATED) == escalated[:2]
    assert OwnershipPeriod.objects.filter(incident_id__in=escalated).count() == 5 + 2
    assert Notification.objects.filter(kind="escalated").count() == 2
    # The other steps went on to the end, and their e-mails and the first chunk's are queued.
    assert acted_on(EventKind.ACK_MISSED) == backlog["alerted_at_root"]
    assert acted_on(EventKind.RESOLUTION_MISSED) == backlog["resolution_missed"]
    assert queued_funcs() == [DELIVERY_TASK]
    [failure] = [record for record in caplog.records if record.name == "incidents.sla"
                 and record.levelno == logging.ERROR]
    assert "escalated failed" in failure.getMessage() and failure.exc_info

    # The next pass escalates the rest, and nothing twice.
    monkeypatch.setattr(handover, "hand_over", real_write)
    assert run_sla_pass(now=now).totals() == {**NOTHING, "escalated": 3}
    assert acted_on(EventKind.ESCALATED) == escalated
    assert set(Incident.objects.filter(pk__in=escalated).values_list("owner_cert__slug",
                                                                     flat=True)) == {"punjab"}
    assert OwnershipPeriod.objects.filter(incident_id__in=escalated).count() == 5 * 2


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs two real connections; SQLite serialises writers")
@pytest.mark.django_db(transaction=True)
def test_passes_at_once_share_a_backlog_in_chunks_and_act_on_each_incident_once(
        certs, clock, settings):
    from tests.incidents.test_concurrency import run_together

    settings.SLA_PASS_CHUNK = 3
    now = clock.set(T0 + timedelta(days=30))
    backlog = make_backlog(certs, 20, now=now)

    outcomes = run_together(*[lambda: run_sla_pass(now=now)] * 3)

    assert [outcome.error for outcome in outcomes] == [None] * 3
    assert sum((Counter(outcome.value.totals()) for outcome in outcomes), Counter()) == Counter(
        dict.fromkeys(STEP_EVENTS, 20))
    for step, kind in STEP_EVENTS.items():
        assert Counter(acted_on(kind)) == dict.fromkeys(backlog[step], 1), step
    assert Notification.objects.filter(kind="escalated").count() == 20
    assert run_sla_pass(now=now).totals() == NOTHING


# --- Delivering the outbox -------------------------------------------------------------------

@pytest.fixture
def two_notifications(certs, staff, clock):
    """An assignment (to the Lahore analyst) and an escalation (to Punjab), queued in that order."""
    handler = staff("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    incident_assign(incident=incident, actor=handler, assignee=staff("lahore", "analyst"))
    incident_escalate(incident=incident, actor=handler)
    return list(Notification.objects.order_by("pk"))


def test_delivering_twice_sends_each_email_once(two_notifications):
    assert deliver_notifications() == 2
    assert deliver_notifications() == 0

    assert sorted(email.to for email in mail.outbox) == [
        ["lahore.analyst@t.example"], emails_of("punjab", "head", "handler")]
    for notification in two_notifications:
        notification.refresh_from_db()
        assert notification.sent_at is not None
    assert [n.recipients for n in two_notifications] == [
        "lahore.analyst@t.example", ", ".join(emails_of("punjab", "head", "handler"))]


def test_a_failed_send_is_left_for_the_retry_and_sent_once_by_it(two_notifications,
                                                                 monkeypatch, clock):
    assignment, escalation = two_notifications
    real_send_mail, attempts = notifications.send_mail, []

    def fails_once(subject, body, sender, recipients, **kwargs):
        attempts.append(recipients)
        if len(attempts) == 1:
            raise SMTPException("relay unavailable")
        return real_send_mail(subject, body, sender, recipients, **kwargs)

    monkeypatch.setattr(notifications, "send_mail", fails_once)

    # The task does not raise (django-q2 would retry the whole task for ever): the outbox
    # records the failure and when to try again (issue 7, finding 4).
    assert deliver_notifications() == 1

    # The others were still tried and sent; the failed one is unclaimed and waits a minute.
    assert [email.to for email in mail.outbox] == [emails_of("punjab", "head", "handler")]
    assignment.refresh_from_db()
    assert (assignment.claimed_at, assignment.sent_at) == (None, None)
    assert (assignment.attempts, assignment.next_attempt_at) == (1, clock.now + timedelta(minutes=1))
    assert "relay unavailable" in assignment.last_error
    assert deliver_notifications() == 0

    clock.advance(minutes=1)
    assert deliver_notifications() == 1
    assert deliver_notifications() == 0
    assert [email.to for email in mail.outbox] == [
        emails_of("punjab", "head", "handler"), ["lahore.analyst@t.example"]]
    assert attempts == [["lahore.analyst@t.example"], emails_of("punjab", "head", "handler"),
                        ["lahore.analyst@t.example"]]


def test_a_claim_of_a_dead_worker_is_taken_over_after_ten_minutes(two_notifications, clock):
    Notification.objects.update(claimed_at=clock.now - timedelta(minutes=9))

    assert deliver_notifications() == 0  # another worker may still be sending them
    assert mail.outbox == []

    clock.advance(minutes=2)
    assert deliver_notifications() == 2
    assert len(mail.outbox) == 2


# --- The schedule ----------------------------------------------------------------------------

def test_the_sla_pass_is_scheduled_every_minute_without_catch_up(db):
    schedule = Schedule.objects.get(name="incidents: SLA pass")

    assert schedule.func == "incidents.tasks.sla_pass"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES, 1, -1)
    assert settings.Q_CLUSTER["catch_up"] is False  # after downtime, one pass catches up


def test_the_scheduled_task_runs_the_pass_on_the_current_time(certs, staff, clock):
    incident = make_incident(owner_cert=certs["lahore"], actor=staff("lahore", "handler"))
    clock.set(incident.ack_due_at)

    assert sla_pass() == {**NOTHING, "escalated": 1, "more_due": False, "steps": {
        "escalated": {"chunks": 1, "seconds": ANY, "slowest_chunk_seconds": ANY}}}
    assert sla_pass() == {**NOTHING, "more_due": False, "steps": {}}
    assert queued_funcs() == [DELIVERY_TASK]
