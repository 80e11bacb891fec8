"""Two writers at once (DOMAIN.md §3 "Concurrency", §8): no lost update, no double escalation,
no duplicate reference. Each writer is a thread with its own database connection, so this runs
on PostgreSQL only: SQLite takes its write lock at BEGIN and runs writers one after the other."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from incidents.models import (
    EventKind,
    Incident,
    IncidentShare,
    Notification,
    OwnershipPeriod,
    TimelineEvent,
)
from incidents.services import (
    ConflictError,
    incident_change_severity,
    incident_change_tlp,
    incident_escalate,
    incident_share,
    next_reference,
)
from incidents.sla import run_sla_pass
from tests.factories import make_incident
from tests.incidents.support import (
    T0,
    bulk_incidents,
    events,
    grants_by_cert,
    ownership_history,
)

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs two real connections; SQLite serialises writers"),
    pytest.mark.django_db(transaction=True),
]

WAIT = 30  # seconds a thread may wait for the others before the test fails instead of hanging


class Outcome:
    def __init__(self):
        self.value = None
        self.error: BaseException | None = None


def run_together(*functions: Callable[[], object]) -> list[Outcome]:
    """Run each function in its own thread (and so its own connection), released at the same
    moment by a barrier; return what each returned or raised."""
    barrier = threading.Barrier(len(functions), timeout=WAIT)
    outcomes = [Outcome() for _ in functions]

    def work(function, outcome):
        try:
            barrier.wait()
            outcome.value = function()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome.error = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=pair) for pair in zip(functions, outcomes,
                                                                         strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return outcomes


def in_thread(function: Callable[[], object]) -> tuple[threading.Thread, Outcome]:
    """Start `function` in a thread of its own with its own connection."""
    outcome = Outcome()

    def work():
        try:
            outcome.value = function()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome.error = error
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def wait_until_a_backend_waits_for_a_lock(thread: threading.Thread | None = None) -> None:
    """Return once another connection is blocked on a lock (asked of PostgreSQL, from this
    thread's own connection, which runs each query in a transaction of its own), or once
    `thread`, if given, has finished without ever waiting."""
    deadline = time.monotonic() + WAIT
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            if thread is not None and not thread.is_alive():
                return
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
    pytest.fail("no connection ever waited for the lock")


# --- (a) two people change one incident at once ----------------------------------------------

def test_two_updates_of_the_same_version_one_wins_the_other_gets_a_conflict(certs, member,
                                                                            clock):
    head, handler = member("lahore", "head"), member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    mine, theirs = (Incident.objects.get(pk=incident.pk) for _ in range(2))
    assert mine.version == theirs.version == 1

    outcomes = run_together(
        lambda: incident_change_severity(incident=mine, actor=head, severity=5),
        lambda: incident_change_severity(incident=theirs, actor=handler, severity=1),
    )

    winners = [n for n, outcome in enumerate(outcomes) if outcome.error is None]
    assert len(winners) == 1, [outcome.error for outcome in outcomes]
    [winner], loser = winners, 1 - winners[0]
    assert isinstance(outcomes[loser].error, ConflictError)
    assert "was changed by someone else" in str(outcomes[loser].error)
    incident.refresh_from_db()
    expected_severity, expected_actor = [(5, head), (1, handler)][winner]
    assert (incident.severity, incident.version) == (expected_severity, 2)
    assert incident.ack_due_at == T0 + {5: timedelta(minutes=15), 1: timedelta(days=3)}[
        expected_severity]
    [change] = events(incident, EventKind.SEVERITY)
    assert (change.actor, change.new_value) == (expected_actor, incident.get_severity_display())


def test_a_writer_blocked_by_another_gets_a_conflict_once_it_commits(certs, member, clock):
    head, handler = member("lahore", "head"), member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    mine, theirs = (Incident.objects.get(pk=incident.pk) for _ in range(2))
    written, release = threading.Event(), threading.Event()

    def first_writer_holds_its_transaction():
        with transaction.atomic():
            incident_change_severity(incident=mine, actor=head, severity=5)
            written.set()
            assert release.wait(WAIT)

    first, first_outcome = in_thread(first_writer_holds_its_transaction)
    assert written.wait(WAIT)
    second, second_outcome = in_thread(
        lambda: incident_change_severity(incident=theirs, actor=handler, severity=1))
    wait_until_a_backend_waits_for_a_lock()  # the second UPDATE waits for the first's row lock
    release.set()
    first.join(WAIT)
    second.join(WAIT)

    assert first_outcome.error is None
    assert isinstance(second_outcome.error, ConflictError)
    incident.refresh_from_db()
    assert (incident.severity, incident.version) == (5, 2)
    assert len(events(incident, EventKind.SEVERITY)) == 1


# --- (b) two SLA passes at once --------------------------------------------------------------

def test_two_passes_at_once_escalate_each_incident_once_per_missed_deadline(certs, clock):
    ids = bulk_incidents(certs["lahore"], 50, tag="pair", reported=T0, ack_due=T0,
                         resolve_due=T0 + timedelta(days=14))
    root_ids = bulk_incidents(certs["national"], 10, tag="root", reported=T0, ack_due=T0,
                              resolve_due=T0 + timedelta(days=14))
    now = T0 + timedelta(minutes=1)
    climbed = []

    for hop in ("punjab", "government", "national"):
        clock.set(now)
        results = [outcome.value for outcome in run_together(
            lambda at=now: run_sla_pass(now=at), lambda at=now: run_sla_pass(now=at))]
        assert sum(result.escalated for result in results) == 50, results
        climbed.append(hop)
        per_incident = Counter(TimelineEvent.objects.filter(
            incident_id__in=ids, kind=EventKind.ESCALATED).values_list("incident_id", flat=True))
        assert per_incident == {pk: len(climbed) for pk in ids}
        assert set(Incident.objects.filter(pk__in=ids).values_list("owner_cert__slug",
                                                                   flat=True)) == {hop}
        assert Counter(OwnershipPeriod.objects.filter(incident_id__in=ids)
                       .values_list("incident_id", flat=True)) == {pk: len(climbed) + 1
                                                                  for pk in ids}
        assert not OwnershipPeriod.objects.filter(incident_id__in=ids, ended_at__isnull=True)\
            .exclude(cert__slug=hop).exists()
        # The root alert for the incidents born at the root: once, in the first round.
        assert sum(result.alerted_at_root for result in results) == (10 if hop == "punjab"
                                                                     else 0)
        now += timedelta(hours=24, minutes=1)  # past the fresh acknowledgement deadline

    assert Notification.objects.filter(kind="escalated").count() == 150
    # At the root now, the 50 are alerted once however many passes run at once.
    clock.set(now)
    results = [outcome.value for outcome in run_together(*[lambda: run_sla_pass(now=now)] * 3)]
    assert sum(result.alerted_at_root for result in results) == 50
    assert Counter(TimelineEvent.objects.filter(kind=EventKind.ACK_MISSED)
                   .values_list("incident_id", flat=True)) == {pk: 1 for pk in ids + root_ids}


# --- (c) a person and the scheduler at once --------------------------------------------------

def test_a_person_and_the_scheduler_at_once_escalate_once(certs, member, clock):
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    now = clock.set(incident.ack_due_at + timedelta(minutes=1))
    copy = Incident.objects.get(pk=incident.pk)

    person, scheduler = run_together(
        lambda: incident_escalate(incident=copy, actor=handler, reason="by hand"),
        lambda: run_sla_pass(now=now),
    )

    if person.error is None:
        assert scheduler.error is None and scheduler.value.escalated == 0
    else:
        assert isinstance(person.error, ConflictError)
        assert scheduler.value.escalated == 1
    [escalation] = events(incident, EventKind.ESCALATED)
    assert (escalation.old_value, escalation.new_value) == ("LHR-CERT", "PB-CERT")
    assert [slug for slug, _, _ in ownership_history(incident)] == ["lahore", "punjab"]
    assert Notification.objects.filter(kind="escalated").count() == 1


def test_the_scheduler_skips_an_incident_a_person_is_escalating(certs, member, clock):
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    now = clock.set(incident.ack_due_at + timedelta(minutes=1))
    escalated, release = threading.Event(), threading.Event()

    def person_escalates_and_holds_the_transaction():
        with transaction.atomic():
            incident_escalate(incident=incident, actor=handler, reason="by hand")
            escalated.set()
            assert release.wait(WAIT)

    person, outcome = in_thread(person_escalates_and_holds_the_transaction)
    assert escalated.wait(WAIT)
    scheduler, result = in_thread(lambda: run_sla_pass(now=now))
    scheduler.join(WAIT)  # does not wait: the locked row is skipped
    release.set()
    person.join(WAIT)

    assert (outcome.error, result.error) == (None, None)
    assert result.value.escalated == 0
    [escalation] = events(incident, EventKind.ESCALATED)
    assert (escalation.actor, escalation.reason) == (handler, "by hand")
    # The next pass finds the fresh deadline of the new owner, not yet missed.
    assert run_sla_pass(now=now).escalated == 0
    assert len(events(incident, EventKind.ESCALATED)) == 1


def test_a_person_escalating_while_the_scheduler_holds_the_row_gets_a_conflict(
        certs, member, clock):
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    now = clock.set(incident.ack_due_at + timedelta(minutes=1))
    passed, release = threading.Event(), threading.Event()

    def scheduler_escalates_and_holds_the_transaction():
        with transaction.atomic():
            result = run_sla_pass(now=now)
            passed.set()
            assert release.wait(WAIT)
        return result

    scheduler, result = in_thread(scheduler_escalates_and_holds_the_transaction)
    assert passed.wait(WAIT)
    person, outcome = in_thread(
        lambda: incident_escalate(incident=incident, actor=handler, reason="by hand"))
    wait_until_a_backend_waits_for_a_lock()
    release.set()
    scheduler.join(WAIT)
    person.join(WAIT)

    assert result.error is None and result.value.escalated == 1
    assert isinstance(outcome.error, ConflictError)
    [escalation] = events(incident, EventKind.ESCALATED)
    assert (escalation.actor, escalation.reason) == (None, "acknowledgement deadline missed")
    incident.refresh_from_db()
    assert incident.owner_cert == certs["punjab"]  # not escalated a second time, to government


# --- Grants under concurrent changes ---------------------------------------------------------

def test_a_share_racing_a_change_to_tlp_red_leaves_the_other_cert_no_view(certs, member, clock):
    handler, head = member("lahore", "handler"), member("lahore", "head")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)  # TLP:AMBER
    copy = Incident.objects.get(pk=incident.pk)
    raised, release = threading.Event(), threading.Event()

    def raise_to_red_and_hold_the_transaction():
        with transaction.atomic():
            incident_change_tlp(incident=incident, actor=handler, tlp="TLP:RED")
            raised.set()
            assert release.wait(WAIT)

    changer, changed = in_thread(raise_to_red_and_hold_the_transaction)
    assert raised.wait(WAIT)
    sharer, shared = in_thread(
        lambda: incident_share(incident=copy, actor=head, cert=certs["karachi"]))
    wait_until_a_backend_waits_for_a_lock(sharer)  # the share waits for the change ...
    release.set()
    changer.join(WAIT)
    sharer.join(WAIT)

    assert changed.error is None
    assert isinstance(shared.error, ValidationError | ConflictError)  # ... and is refused
    incident.refresh_from_db()
    assert incident.tlp == "TLP:RED"
    assert "karachi" not in grants_by_cert(incident)  # TLP:RED is never shared
    assert not IncidentShare.objects.filter(incident=incident).exists()
    assert events(incident, EventKind.SHARED) == []


# --- (d) references under concurrent creation ------------------------------------------------

def test_concurrent_creations_get_distinct_consecutive_references(certs, member, clock):
    handler = member("lahore", "handler")

    outcomes = run_together(*[
        lambda n=n: make_incident(owner_cert=certs["lahore"], actor=handler, title=f"Report {n}")
        for n in range(20)])

    assert [outcome.error for outcome in outcomes] == [None] * 20
    references = sorted(outcome.value.reference for outcome in outcomes)
    assert references == [f"PK-INC-2026-{n:06d}" for n in range(1, 21)]
    assert sorted(Incident.objects.values_list("reference", flat=True)) == references
    assert TimelineEvent.objects.filter(kind=EventKind.CREATED).count() == 20
    assert next_reference(at=T0) == "PK-INC-2026-000021"
