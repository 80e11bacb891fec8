"""Who holds an incident: escalation up the tree, referral down it, and shares across it
(DOMAIN.md §3, "Escalation along the hierarchy").

The hand-over has one check for people (`check_hand_over`) and one write (`hand_over`) for people
and the SLA scheduler alike, so that the rule exists once (issue 7, finding 2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from cert_portal.audit.events import incident_changes
from incidents.access import (
    Action,
    require,
)
from incidents.grants import sync_grants
from incidents.models import (
    OPEN_STATUSES,
    EventKind,
    Incident,
    IncidentShare,
    Notification,
    OwnershipPeriod,
    Status,
    TimelineEvent,
)
from incidents.services.base import (
    ConflictError,
    add_event,
    in_english,
    notify_watchers,
    record_notifications,
    require_visible,
)
from incidents.severity import Severity, deadlines
from incidents.tlp import shareable
from organizations.models import Cert


def incident_escalate(*, incident: Incident, actor, to_cert: Cert | None = None,
                      reason: str = "") -> Incident:
    """Hand the incident up to the owner's parent, or to an ancestor the handler chooses.
    Actor None is the system, e.g. the SLA pass, which calls `hand_over` directly in bulk."""
    to_cert = check_hand_over(incident=incident, actor=actor, kind=EventKind.ESCALATED,
                              to_cert=to_cert)
    hand_over(moves=[(incident, to_cert)], kind=EventKind.ESCALATED, actor=actor,
              reason=reason or "Escalated", at=timezone.now())
    return incident


def incident_refer(*, incident: Incident, actor, to_cert: Cert, reason: str = "") -> Incident:
    """Hand the incident down to one of the owner's descendants."""
    to_cert = check_hand_over(incident=incident, actor=actor, kind=EventKind.REFERRED,
                              to_cert=to_cert)
    hand_over(moves=[(incident, to_cert)], kind=EventKind.REFERRED, actor=actor,
              reason=reason or "Referred", at=timezone.now())
    return incident


def incident_share(*, incident: Incident, actor, cert: Cert, reason: str = "") -> IncidentShare:
    """Let another CERT view the incident; TLP:AMBER+STRICT and TLP:RED are never shared. The
    reason is kept in the timeline: why this CERT may now read it."""
    require_visible(actor, incident)
    if not shareable(incident.tlp):
        raise ValidationError({"cert": f"{incident.tlp} incidents are not shared outside their "
                                       "owners and earlier owners."})
    if cert.pk == incident.owner_cert_id:
        raise ValidationError({"cert": f"{cert.name} owns the incident already."})
    if not cert.is_active:
        raise ValidationError({"cert": f"{cert.name} is not active."})
    if IncidentShare.objects.filter(incident=incident, cert=cert).exists():
        raise ValidationError({"cert": f"The incident is already shared with {cert.name}."})
    if actor is not None:
        require(actor, incident, Action.SHARE)
    now = timezone.now()
    with transaction.atomic():
        # Judge the label as it is now, not as the caller's copy shows it.
        current_tlp = Incident.objects.select_for_update().values_list("tlp", flat=True).get(
            pk=incident.pk)
        if not shareable(current_tlp):
            raise ValidationError({"cert": f"{current_tlp} incidents are not shared outside "
                                           "their owners and earlier owners."})
        share = IncidentShare.objects.create(incident=incident, cert=cert, shared_by=actor)
        add_event(incident, EventKind.SHARED, actor, now, new=cert.short_name, reason=reason)
        sync_grants([incident.pk])
    return share


# The hand-over (DOMAIN.md §3, "Escalation along the hierarchy"): one check for people, one
# write for people and the scheduler, so that the rule exists once (issue 7, finding 2).

HAND_OVER_ACTIONS = {EventKind.ESCALATED: Action.ESCALATE, EventKind.REFERRED: Action.REFER}


def check_hand_over(*, incident: Incident, actor, kind: str, to_cert: Cert | None) -> Cert:
    """Check that `actor` may hand `incident` over as `kind` (escalated: up to `to_cert`, by
    default the owner's parent; referred: down to `to_cert`) and return the receiving CERT.

    Raises Http404 to who may not see the incident, before any validation message that would
    tell them about it; then ValidationError (direction, open status, active target); then
    ActionNotAllowed for a role that may not hand over. Actor None (the system) skips the access
    checks only.
    """
    require_visible(actor, incident)
    owner = incident.owner_cert
    if kind == EventKind.ESCALATED:
        if to_cert is None:
            if owner.parent_id is None:
                raise ValidationError({"to_cert": f"{owner.name} is the root of the tree: there "
                                                  "is no CERT above it to escalate to."})
            to_cert = Cert.objects.get(pk=owner.parent_id)
        if not to_cert.is_ancestor_of(owner):
            raise ValidationError({"to_cert": f"Escalation goes up the tree only: {to_cert.name} "
                                              f"is not above {owner.name}. To hand it down, refer "
                                              "it; to involve another CERT, share it."})
    elif kind == EventKind.REFERRED:
        if to_cert is None or not owner.is_ancestor_of(to_cert):
            name = to_cert.name if to_cert is not None else "No CERT"
            raise ValidationError({"to_cert": f"Referral goes down the tree only: {name} is not "
                                              f"below {owner.name}. To hand it up, escalate it."})
    else:
        raise ValueError(f"Not a hand-over: {kind!r}.")
    if incident.status not in OPEN_STATUSES:
        status = in_english(incident.get_status_display)
        raise ValidationError({"status": f"Only open incidents are handed over; "
                                         f"{incident.reference} is {status}."})
    if not to_cert.is_active:
        raise ValidationError({"to_cert": f"{to_cert.name} is not active."})
    if actor is not None:
        require(actor, incident, HAND_OVER_ACTIONS[kind])
    return to_cert


def hand_over(*, moves: Sequence[tuple[Incident, Cert]], kind: str, actor, reason: str,
              at: datetime, deliver_on_commit: bool = True) -> None:
    """Write the hand-over of each (incident, receiving CERT) in `moves` as `kind` (escalated or
    referred), in the same few queries for one incident or a thousand: the receiving CERT owns
    it from `at`, in status new, unassigned, with a fresh acknowledgement deadline; the
    ownership periods, one timeline event each, the grants and the notification to the new
    owner's heads and handlers follow.

    No checks: people come through `check_hand_over` first; the scheduler selects only what it
    may hand over. Each incident's `version` must be the version its caller read: the UPDATE is
    conditional on it, and if any incident changed since, nothing is written and ConflictError is
    raised. A caller that hands over many at once (the SLA pass) holds their row locks, so that
    none can change in between. The incidents in `moves` are updated in memory. The delivery of
    the notifications is queued on commit, unless `deliver_on_commit` is False: the SLA pass
    commits many chunks and queues it once.
    """
    if not moves:
        return
    if kind not in HAND_OVER_ACTIONS:
        raise ValueError(f"Not a hand-over: {kind!r}.")
    ids = [incident.pk for incident, _ in moves]
    with transaction.atomic():
        # One statement for every row, each guarded by its own version (CASE, not a chain of
        # ORs: SQLite refuses expressions deeper than 1000).
        updated = Incident.objects.filter(
            pk__in=ids,
            version=Case(*[When(pk=incident.pk, then=Value(incident.version))
                           for incident, _ in moves]),
        ).update(
            owner_cert=Case(*[When(pk=incident.pk, then=Value(to_cert.pk))
                              for incident, to_cert in moves]),
            status=Status.NEW, owner_since=at, assignee=None,
            ack_due_at=Case(*[When(severity=level, then=Value(deadlines(level, start=at)[0]))
                              for level in Severity]),
            version=F("version") + 1, updated_at=at,
        )
        if updated != len(moves):
            raise ConflictError(moves[0][0])  # rolls back the UPDATE with the savepoint
        OwnershipPeriod.objects.filter(incident_id__in=ids, ended_at__isnull=True).update(
            ended_at=at)
        OwnershipPeriod.objects.bulk_create([
            OwnershipPeriod(incident=incident, cert=to_cert, started_at=at)
            for incident, to_cert in moves])
        handed_over = TimelineEvent.objects.bulk_create([
            TimelineEvent(incident=incident, kind=kind, actor=actor, at=at,
                          old_value=str(incident.owner_cert.short_name)[:300],
                          new_value=str(to_cert.short_name)[:300], reason=reason)
            for incident, to_cert in moves])
        notify_watchers(handed_over, deliver_on_commit=deliver_on_commit)
        # Recorded under the CERT that owned each incident when it was handed over.
        incident_changes(handed_over, {incident.pk: (incident.reference, incident.owner_cert_id)
                                       for incident, _ in moves})
        for incident, to_cert in moves:
            incident.owner_cert = to_cert
            incident.status, incident.owner_since, incident.assignee = Status.NEW, at, None
            incident.ack_due_at = deadlines(incident.severity, start=at)[0]
            incident.version += 1
            incident.updated_at = at
        notification_kind = (Notification.Kind.ESCALATED if kind == EventKind.ESCALATED
                             else Notification.Kind.REFERRED)
        record_notifications([
            Notification(key=f"{kind}:{incident.pk}:v{incident.version}", kind=notification_kind,
                         incident=incident, cert=to_cert, created_at=at)
            for incident, to_cert in moves], deliver_on_commit=deliver_on_commit)
        sync_grants(ids)
