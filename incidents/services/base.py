"""The pieces every incident service shares: the versioned conditional write, the timeline event,
the outbox record, and the 404-first visibility check (DOMAIN.md §2, §3)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.access import Action, require
from incidents.models import Incident, Notification, TimelineEvent
from incidents.notifications import enqueue_delivery
from incidents.severity import Severity


class ConflictError(Exception):
    """The incident changed since the caller read it; nothing was written."""

    def __init__(self, incident: Incident):
        super().__init__(f"{incident.reference} was changed by someone else since you opened it. "
                         "Reload it to see the change, then try again.")


def write_incident(incident: Incident, **changes) -> None:
    """Apply `changes` only if the incident is still at the version the caller read."""
    now = timezone.now()
    updated = Incident.objects.filter(pk=incident.pk, version=incident.version).update(
        **changes, version=F("version") + 1, updated_at=now)
    if updated != 1:
        raise ConflictError(incident)
    for name, value in changes.items():
        setattr(incident, name, value)
    incident.version += 1
    incident.updated_at = now


def add_event(incident, kind, actor, at, *, old: str = "", new: str = "", reason: str = "") -> TimelineEvent:
    return TimelineEvent.objects.create(incident=incident, kind=kind, actor=actor, at=at,
                                        old_value=str(old)[:300], new_value=str(new)[:300],
                                        reason=reason)


def notify(kind, incident, at, *, key: str, cert=None, user=None) -> None:
    """Record a notification of `kind` about `incident` in the outbox, once per `key`, and have
    it delivered after commit. `cert` limits it to that CERT's members, `user` names the person
    it is about; who among them receives it (which roles, and whether they may view the incident
    at all) is decided at delivery by incidents.access.message_recipients."""
    record_notifications([Notification(key=key, kind=kind, incident=incident, cert=cert,
                                       user=user, created_at=at)])


def record_notifications(notifications: list[Notification], *, deliver_on_commit: bool = True) -> None:
    """Write unsaved outbox rows in one INSERT (the SLA pass hands over a thousand at once) and,
    unless the caller queues it itself, enqueue their delivery after commit. A key already
    recorded is the same notification."""
    Notification.objects.bulk_create(notifications, ignore_conflicts=True)
    # Delivery is idempotent, so enqueueing when the rows already existed costs one empty run.
    if deliver_on_commit:
        transaction.on_commit(enqueue_delivery)


def parse_severity(value) -> Severity:
    try:
        return Severity(int(value))
    except (TypeError, ValueError):
        raise ValidationError(f"Severity {value!r} is not a level from 0 (baseline) to 5 "
                              "(emergency).") from None


def require_visible(actor, incident: Incident) -> None:
    """Answer 404 before anything else to a person who may not see the incident, so that no
    validation message tells them about it (DOMAIN.md §2). The system (None) sees everything."""
    if actor is not None:
        require(actor, incident, Action.VIEW)
