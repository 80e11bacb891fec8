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
from django.db.models import Case, F, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from incidents.grants import sync_grants
from incidents.models import (
    OPEN_STATUSES,
    EventKind,
    Incident,
    Notification,
    OwnershipPeriod,
    Status,
    TimelineEvent,
)
from incidents.severity import Severity, sla_targets
from organizations.models import Cert, Role

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
    """Escalate every new incident whose acknowledgement deadline passed to its owner's parent."""
    with transaction.atomic():
        rows = list(_due(Incident.objects.filter(
            status=Status.NEW, ack_due_at__lte=now, owner_cert__parent__isnull=False,
        )).values_list("pk", "owner_cert_id", "owner_cert__parent_id", "version"))
        if not rows:
            return 0
        ids = [pk for pk, _, _, _ in rows]
        parent_of_owner = Cert.objects.filter(pk=OuterRef("owner_cert_id")).values("parent_id")[:1]
        Incident.objects.filter(pk__in=ids).update(
            owner_cert=Subquery(parent_of_owner),
            status=Status.NEW, owner_since=now, assignee=None,
            ack_due_at=Case(*[When(severity=level, then=Value(now + sla_targets(level).acknowledge))
                              for level in Severity]),
            version=F("version") + 1, updated_at=now,
        )
        names = dict(Cert.objects.filter(
            pk__in={cert for _, owner, parent, _ in rows for cert in (owner, parent)}
        ).values_list("pk", "short_name"))
        OwnershipPeriod.objects.filter(incident_id__in=ids, ended_at__isnull=True).update(ended_at=now)
        OwnershipPeriod.objects.bulk_create([
            OwnershipPeriod(incident_id=pk, cert_id=parent, started_at=now)
            for pk, _, parent, _ in rows])
        TimelineEvent.objects.bulk_create([
            TimelineEvent(incident_id=pk, kind=EventKind.ESCALATED, at=now, actor=None,
                          old_value=names[owner], new_value=names[parent], reason=ACK_MISSED_REASON)
            for pk, owner, parent, _ in rows])
        Notification.objects.bulk_create([
            Notification(key=f"escalated:{pk}:v{version + 1}", kind=Notification.Kind.ESCALATED,
                         incident_id=pk, cert_id=parent, roles=f"{Role.HEAD},{Role.HANDLER}",
                         created_at=now)
            for pk, _, parent, version in rows], ignore_conflicts=True)
        sync_grants(ids)
    return len(rows)


def alert_missed_acknowledgements_at_root(now) -> int:
    """At the root there is no one to escalate to: alert the national duty handlers, once per
    missed deadline."""
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
                         cert_id=owner, roles=Role.HANDLER, created_at=now)
            for pk, owner, due in rows], ignore_conflicts=True)
    return len(rows)


def flag_missed_resolutions(now) -> int:
    """Mark open incidents past their resolution deadline as overdue and tell the owner's heads
    and the parent CERT; ownership does not move."""
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
        notifications = []
        for pk, owner, parent, due in rows:
            notifications.append(Notification(
                key=f"resolution_missed:{pk}:{due.isoformat()}:owner",
                kind=Notification.Kind.RESOLUTION_MISSED, incident_id=pk, cert_id=owner,
                roles=Role.HEAD, created_at=now))
            if parent is not None:
                notifications.append(Notification(
                    key=f"resolution_missed:{pk}:{due.isoformat()}:parent",
                    kind=Notification.Kind.RESOLUTION_MISSED, incident_id=pk, cert_id=parent,
                    roles=f"{Role.HEAD},{Role.HANDLER}", created_at=now))
        Notification.objects.bulk_create(notifications, ignore_conflicts=True)
    return len(rows)
