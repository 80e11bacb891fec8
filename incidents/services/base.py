"""The pieces every incident service shares: the versioned conditional write, the timeline event,
the outbox record, and the 404-first visibility check (DOMAIN.md §2, §3)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from cert_portal.audit.events import incident_changes
from incidents.access import Action, require
from incidents.models import EventKind, Incident, IncidentWatch, Notification, TimelineEvent
from incidents.notifications import WATCH_KEY_PREFIX, enqueue_delivery
from incidents.severity import Severity
from incidents.webhooks import record_hand_over_notices, record_timeline_events


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


def in_english(display: Callable[[], object]) -> str:
    """`display()` (a choice's label, e.g. incident.get_status_display) in English, whatever
    language the request that called the service speaks: the timeline stores it, and the
    services' messages are written in English (issue 9 translated the labels for the pages)."""
    with translation.override("en"):
        return str(display())


def mark_changed(incident: Incident, at) -> None:
    """Move the incident's updated_at to `at` for an addition that leaves its row alone (a
    comment, an observable, a file), so that the queue marks it unread and "new since your last
    visit" for those who have not seen it (issue 9). Not a versioned write: an addition never
    conflicts with a change of the row."""
    Incident.objects.filter(pk=incident.pk, updated_at__lt=at).update(updated_at=at)


def add_event(incident, kind, actor, at, *, old: str = "", new: str = "", reason: str = "") -> TimelineEvent:
    """Append one timeline event, and tell the incident's watchers of it (`notify_watchers`)
    and the CERTs' webhooks (issue 11; who receives it is decided at delivery, as for e-mail);
    the audit trail gets its INCIDENT_CHANGED event (issue 13)."""
    event = TimelineEvent.objects.create(incident=incident, kind=kind, actor=actor, at=at,
                                         old_value=str(old)[:300], new_value=str(new)[:300],
                                         reason=reason)
    notify_watchers([event])
    record_timeline_events([event])
    incident_changes([event], {incident.pk: (incident.reference, incident.owner_cert_id)})
    return event


# The activity a watcher hears of (issue 9): what changes the incident's course or adds to it, not
# the bookkeeping (grants, shares, deadlines flagged by the scheduler, tasks, links).
WATCHED_EVENT_KINDS = frozenset({
    EventKind.STATUS, EventKind.ESCALATED, EventKind.REFERRED, EventKind.ASSIGNED,
    EventKind.SEVERITY, EventKind.TLP, EventKind.COMMENT, EventKind.OBSERVABLE,
    EventKind.ATTACHMENT, EventKind.MERGED,
})


def notify_watchers(events: list[TimelineEvent], *, deliver_on_commit: bool = True) -> None:
    """Record one WATCHED_ACTIVITY notification per saved event of a watched kind whose incident
    has a watcher other than the event's actor (key "watch:<event id>"), in one query to find them
    (an EXISTS for one incident) and one INSERT. Which watchers receive it, and only while they
    may view the incident, is decided at delivery (incidents.access.message_recipients)."""
    events = [event for event in events if event.kind in WATCHED_EVENT_KINDS]
    if not events:
        return
    watched: set[int] = set()
    for actor_id in {event.actor_id for event in events}:
        incident_ids = {event.incident_id for event in events if event.actor_id == actor_id}
        watches = IncidentWatch.objects.filter(incident_id__in=incident_ids)
        if actor_id is not None:
            watches = watches.exclude(user_id=actor_id)
        if len(incident_ids) == 1:
            watched |= incident_ids if watches.exists() else set()
        else:
            watched |= set(watches.values_list("incident_id", flat=True).distinct())
    notifications = [
        Notification(key=f"{WATCH_KEY_PREFIX}{event.pk}", kind=Notification.Kind.WATCHED_ACTIVITY,
                     incident_id=event.incident_id, user_id=event.actor_id, created_at=event.at)
        for event in events if event.incident_id in watched and event.pk is not None]
    if notifications:
        record_notifications(notifications, deliver_on_commit=deliver_on_commit)


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
    # A hand-over's notice to the receiving CERT is its webhooks' "escalated or referred to us".
    record_hand_over_notices(notifications, deliver_on_commit=deliver_on_commit)
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
