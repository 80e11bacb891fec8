"""The SLA pass: run every minute by django-q2 (DOMAIN.md §3, "Automatic escalation").

Three steps: escalate the new incidents whose acknowledgement deadline passed, alert at the root
where there is no one to escalate to, and flag the open incidents past their resolution deadline.
Each step works in chunks of at most `SLA_PASS_CHUNK` incidents, the oldest deadline first; a chunk
selects its incidents in one query, locks them (PostgreSQL; SQLite's write lock serialises whole
transactions), changes them with one UPDATE, writes their timeline events, ownership records,
notifications and grants in bulk, and commits. So a chunk costs the same number of queries for ten
incidents or a thousand, and a backlog of any size is never one transaction.

Each chunk's condition is the missed deadline itself, and the chunk moves or marks that deadline, so
a later chunk, a second pass, or one running at the same time finds nothing left to do for it: one
escalation or alert per missed deadline. A chunk that fails rolls back alone.

The pass stops between two chunks once it has run for `SLA_PASS_TIME_BUDGET_SECONDS` and says that
more may be due; the task then queues the next pass at once (incidents.tasks.sla_pass), so that no
pass outlives the worker's timeout (issue 8, item 5).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cert_portal.audit.events import incident_changes
from incidents.access import certs_that_may_view
from incidents.models import (
    OPEN_STATUSES,
    EventKind,
    Incident,
    Notification,
    Status,
    TimelineEvent,
)
from incidents.services import handover

logger = logging.getLogger(__name__)

ACK_MISSED_REASON = "acknowledgement deadline missed"


@dataclass(frozen=True)
class ChunkReport:
    step: str
    rows: int
    seconds: float


@dataclass
class SlaPassResult:
    escalated: int = 0
    alerted_at_root: int = 0
    resolution_missed: int = 0
    # The budget ran out while a step's last chunk was full: more may be due now.
    more_due: bool = False
    chunks: list[ChunkReport] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {"escalated": self.escalated, "alerted_at_root": self.alerted_at_root,
                "resolution_missed": self.resolution_missed}

    def as_dict(self) -> dict:
        """The totals, `more_due`, and per step how many chunks it ran, in how many seconds and
        the slowest chunk's: django-q2 keeps this as the task's result, so its size must not grow
        with the backlog."""
        steps: dict[str, dict] = {}
        for chunk in self.chunks:
            summary = steps.setdefault(chunk.step, {"chunks": 0, "seconds": 0.0,
                                                    "slowest_chunk_seconds": 0.0})
            summary["chunks"] += 1
            summary["seconds"] = round(summary["seconds"] + chunk.seconds, 3)
            summary["slowest_chunk_seconds"] = max(summary["slowest_chunk_seconds"],
                                                   round(chunk.seconds, 3))
        return {**self.totals(), "more_due": self.more_due, "steps": steps}

    def record(self, chunk: ChunkReport) -> None:
        self.chunks.append(chunk)
        setattr(self, chunk.step, getattr(self, chunk.step) + chunk.rows)


@dataclass(frozen=True)
class Step:
    name: str  # the total of SlaPassResult it adds to
    done: str  # what the log says it did
    run_chunk: Callable[..., int]  # (now, *, limit) -> rows changed, in a transaction of its own


def run_sla_pass(*, now=None) -> SlaPassResult:
    """Run the three steps in turn, one chunk each per round, until nothing is due or the time
    budget is used; commit after every chunk; queue the delivery of the notifications once.

    Every step runs one chunk before the budget is looked at, so that a backlog of one kind never
    starves the others and a budget shorter than a chunk still makes progress. A step whose chunk
    raises is rolled back to before that chunk and left until the next pass; the others go on, and
    the first error is raised once the pass is done, after the delivery of what was committed is
    queued.
    """
    now = now or timezone.now()
    limit, budget = settings.SLA_PASS_CHUNK, settings.SLA_PASS_TIME_BUDGET_SECONDS
    started = monotonic()
    result = SlaPassResult()
    errors: list[Exception] = []
    pending = list(STEPS)
    first_round = True
    while pending and not result.more_due:
        for step in tuple(pending):
            if not first_round and monotonic() - started >= budget:
                result.more_due = True
                break
            chunk_started = monotonic()
            try:
                rows = step.run_chunk(now, limit=limit)
            except Exception as error:
                logger.exception("sla pass: %s failed; its earlier chunks stay committed",
                                 step.name)
                errors.append(error)
                pending.remove(step)
                continue
            if rows:
                chunk = ChunkReport(step.name, rows, monotonic() - chunk_started)
                result.record(chunk)
                logger.info("sla pass: %s %d in %.2f s", step.done, rows, chunk.seconds)
            if rows < limit:
                pending.remove(step)
        first_round = False
    if result.escalated or result.alerted_at_root or result.resolution_missed:
        from incidents.notifications import enqueue_delivery

        enqueue_delivery()
    if errors:
        raise errors[0]
    return result


def _due(queryset):
    """Lock the selected incidents; rows another pass holds are skipped, not waited for."""
    return queryset.select_for_update(skip_locked=True, of=("self",))


# The conditions below are those of the partial indexes incident_ack_due and incident_resolve_due
# (migration 0005), spelt as there, so that the planner reads only what can still fall due and a
# pass with nothing due stays cheap however many incidents there are.

def _acknowledgement_missed(now):
    return Incident.objects.filter(status=Status.NEW, ack_due_at__lte=now)


def _resolution_missed(now):
    return Incident.objects.filter(status__in=OPEN_STATUSES, resolution_missed_at__isnull=True,
                                   resolve_due_at__lte=now)


def escalate_missed_acknowledgements(now: datetime, *, limit: int) -> int:
    """Escalate up to `limit` new incidents whose acknowledgement deadline passed, the oldest
    deadline first, to their owner's parent, through the same hand-over write as
    `services.incident_escalate` (the system is the actor). Return how many."""
    with transaction.atomic():
        # The selection is the scheduler's check: open (new), a parent above, and the parent
        # active, as services.check_hand_over demands of people. Rows another pass or a person
        # holds are skipped, and the locks keep the versions read here current for the write.
        moves = [(incident, incident.owner_cert.parent) for incident in _due(
            _acknowledgement_missed(now)
            .filter(owner_cert__parent__isnull=False, owner_cert__parent__is_active=True)
            .select_related("owner_cert__parent").order_by("ack_due_at", "pk"))[:limit]]
        # The pass queues the delivery once for all its chunks (and the delivery schedule picks
        # up what a pass stopped by its worker leaves).
        handover.hand_over(moves=moves, kind=EventKind.ESCALATED, actor=None,
                           reason=ACK_MISSED_REASON, at=now, deliver_on_commit=False)
    return len(moves)


def alert_missed_acknowledgements_at_root(now: datetime, *, limit: int) -> int:
    """At the root there is no one to escalate to: alert the national duty handlers (and the
    assignee, if any) about up to `limit` incidents, the oldest deadline first, once per missed
    deadline; incidents.access decides who they are at delivery. Return how many."""
    with transaction.atomic():
        rows = list(_due(
            _acknowledgement_missed(now).filter(owner_cert__parent__isnull=True)
            .filter(Q(ack_alerted_for__isnull=True) | ~Q(ack_alerted_for=F("ack_due_at")))
            .order_by("ack_due_at", "pk"))
            .values_list("pk", "owner_cert_id", "ack_due_at", "reference")[:limit])
        if not rows:
            return 0
        ids = [pk for pk, _, _, _ in rows]
        Incident.objects.filter(pk__in=ids).update(ack_alerted_for=F("ack_due_at"))
        alerted = TimelineEvent.objects.bulk_create([
            TimelineEvent(incident_id=pk, kind=EventKind.ACK_MISSED, at=now, actor=None,
                          new_value=f"due {timezone.localtime(due):%Y-%m-%d %H:%M}",
                          reason="acknowledgement deadline missed at the root: duty handlers "
                                 "alerted")
            for pk, _, due, _ in rows])
        incident_changes(alerted, {pk: (reference, owner) for pk, owner, _, reference in rows})
        Notification.objects.bulk_create([
            Notification(key=f"ack_missed_root:{pk}:{due.isoformat()}",
                         kind=Notification.Kind.ACK_MISSED_AT_ROOT, incident_id=pk,
                         cert_id=owner, created_at=now)
            for pk, owner, due, _ in rows], ignore_conflicts=True)
    return len(rows)


def flag_missed_resolutions(now: datetime, *, limit: int) -> int:
    """Mark up to `limit` open incidents past their resolution deadline, the oldest deadline
    first, as overdue and tell the owner (its heads, or its handlers if it has none, and the
    assignee) and the parent CERT; ownership does not move. The parent is told only if it may
    view the incident: for TLP:AMBER+STRICT and TLP:RED its oversight is counts only, no
    per-incident message (DOMAIN.md §2; issue 7, finding 1). Recipients are decided at delivery
    by incidents.access. Return how many."""
    with transaction.atomic():
        rows = list(_due(_resolution_missed(now).order_by("resolve_due_at", "pk"))
                    .values_list("pk", "owner_cert_id", "owner_cert__parent_id",
                                 "resolve_due_at", "reference")[:limit])
        if not rows:
            return 0
        ids = [pk for pk, _, _, _, _ in rows]
        Incident.objects.filter(pk__in=ids).update(resolution_missed_at=now)
        flagged = TimelineEvent.objects.bulk_create([
            TimelineEvent(incident_id=pk, kind=EventKind.RESOLUTION_MISSED, at=now, actor=None,
                          new_value=f"due {timezone.localtime(due):%Y-%m-%d %H:%M}",
                          reason="resolution deadline missed")
            for pk, _, _, due, _ in rows])
        incident_changes(flagged, {pk: (reference, owner) for pk, owner, _, _, reference in rows})
        overseeing = certs_that_may_view((pk, parent) for pk, _, parent, _, _ in rows
                                         if parent is not None)
        notifications = []
        for pk, owner, parent, due, _ in rows:
            notifications.append(Notification(
                key=f"resolution_missed:{pk}:{due.isoformat()}:owner",
                kind=Notification.Kind.RESOLUTION_MISSED, incident_id=pk, cert_id=owner,
                created_at=now))
            if (pk, parent) in overseeing:
                notifications.append(Notification(
                    key=f"resolution_missed:{pk}:{due.isoformat()}:parent",
                    kind=Notification.Kind.RESOLUTION_MISSED_OVERSIGHT, incident_id=pk,
                    cert_id=parent, created_at=now))
        Notification.objects.bulk_create(notifications, ignore_conflicts=True)
    return len(rows)


STEPS = (
    Step("escalated", "escalated", escalate_missed_acknowledgements),
    Step("alerted_at_root", "alerted at the root about", alert_missed_acknowledgements_at_root),
    Step("resolution_missed", "flagged the missed resolution of", flag_missed_resolutions),
)
