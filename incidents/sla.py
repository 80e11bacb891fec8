"""The SLA pass: run every minute by django-q2 (DOMAIN.md §3, "Automatic escalation").

Set-based: each step selects all incidents due in one query, locks them (PostgreSQL; SQLite's
write lock serialises whole transactions), changes them with one UPDATE and writes their timeline
events, ownership records, notifications and grants in bulk, so that the pass costs the same
number of queries for ten overdue incidents or a thousand. Each step's condition is the missed
deadline itself, and the step moves or marks that deadline, so a second pass, or one running at
the same time, finds nothing left to do: one escalation or alert per missed deadline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

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

ACK_MISSED_REASON = "acknowledgement deadline missed"


@dataclass
class SlaPassResult:
    escalated: int = 0
    alerted_at_root: int = 0
    resolution_missed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def run_sla_pass(*, now=None) -> SlaPassResult:
    now = now or timezone.now()
    result = SlaPassResult(
        escalated=escalate_missed_acknowledgements(now),
        alerted_at_root=alert_missed_acknowledgements_at_root(now),
        resolution_missed=flag_missed_resolutions(now),
    )
    if result.escalated or result.alerted_at_root or result.resolution_missed:
        from incidents.notifications import enqueue_delivery

        enqueue_delivery()
    return result


def _due(queryset):
    """Lock the selected incidents; rows another pass holds are skipped, not waited for."""
    return queryset.select_for_update(skip_locked=True, of=("self",))


def escalate_missed_acknowledgements(now) -> int:
    """Escalate every new incident whose acknowledgement deadline passed to its owner's parent,
    through the same hand-over write as `services.incident_escalate` (the system is the actor)."""
    with transaction.atomic():
        # The selection is the scheduler's check: open (new), a parent above, and the parent
        # active, as services.check_hand_over demands of people. Rows another pass or a person
        # holds are skipped, and the locks keep the versions read here current for the write.
        moves = [(incident, incident.owner_cert.parent) for incident in _due(
            Incident.objects.filter(status=Status.NEW, ack_due_at__lte=now,
                                    owner_cert__parent__isnull=False,
                                    owner_cert__parent__is_active=True)
            .select_related("owner_cert__parent"))]
        handover.hand_over(moves=moves, kind=EventKind.ESCALATED, actor=None,
                           reason=ACK_MISSED_REASON, at=now)
    return len(moves)


def alert_missed_acknowledgements_at_root(now) -> int:
    """At the root there is no one to escalate to: alert the national duty handlers (and the
    assignee, if any), once per missed deadline; incidents.access decides who they are at
    delivery."""
    with transaction.atomic():
        rows = list(_due(Incident.objects.filter(
            status=Status.NEW, ack_due_at__lte=now, owner_cert__parent__isnull=True,
        ).filter(Q(ack_alerted_for__isnull=True) | ~Q(ack_alerted_for=F("ack_due_at"))))
            .values_list("pk", "owner_cert_id", "ack_due_at"))
        if not rows:
            return 0
        ids = [pk for pk, _, _ in rows]
        Incident.objects.filter(pk__in=ids).update(ack_alerted_for=F("ack_due_at"))
        TimelineEvent.objects.bulk_create([
            TimelineEvent(incident_id=pk, kind=EventKind.ACK_MISSED, at=now, actor=None,
                          new_value=f"due {timezone.localtime(due):%Y-%m-%d %H:%M}",
                          reason="acknowledgement deadline missed at the root: duty handlers "
                                 "alerted")
            for pk, _, due in rows])
        Notification.objects.bulk_create([
            Notification(key=f"ack_missed_root:{pk}:{due.isoformat()}",
                         kind=Notification.Kind.ACK_MISSED_AT_ROOT, incident_id=pk,
                         cert_id=owner, created_at=now)
            for pk, owner, due in rows], ignore_conflicts=True)
    return len(rows)


def flag_missed_resolutions(now) -> int:
    """Mark open incidents past their resolution deadline as overdue and tell the owner (its
    heads, or its handlers if it has none, and the assignee) and the parent CERT; ownership does
    not move. The parent is told only if it may view the incident: for TLP:AMBER+STRICT and
    TLP:RED its oversight is counts only, no per-incident message (DOMAIN.md §2; issue 7,
    finding 1). Recipients are decided at delivery by incidents.access."""
    with transaction.atomic():
        rows = list(_due(Incident.objects.filter(
            status__in=OPEN_STATUSES, resolve_due_at__lte=now, resolution_missed_at__isnull=True,
        )).values_list("pk", "owner_cert_id", "owner_cert__parent_id", "resolve_due_at"))
        if not rows:
            return 0
        ids = [pk for pk, _, _, _ in rows]
        Incident.objects.filter(pk__in=ids).update(resolution_missed_at=now)
        TimelineEvent.objects.bulk_create([
            TimelineEvent(incident_id=pk, kind=EventKind.RESOLUTION_MISSED, at=now, actor=None,
                          new_value=f"due {timezone.localtime(due):%Y-%m-%d %H:%M}",
                          reason="resolution deadline missed")
            for pk, _, _, due in rows])
        overseeing = certs_that_may_view((pk, parent) for pk, _, parent, _ in rows
                                         if parent is not None)
        notifications = []
        for pk, owner, parent, due in rows:
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
