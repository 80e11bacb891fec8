"""Merging a duplicate into the incident that is handled in its place (issue 9, items 3 and 4).

`check_merge` decides (access and validation, writing nothing) and `incident_merge` checks and
writes, so that the triage tab, the workspace's related incidents and the API share one rule.

The duplicate becomes `rejected` with `merged_into` set: it drops out of every open list and its
SLA clocks stop. The lifecycle table (lifecycle.TRANSITIONS) allows rejected only from new and
acknowledged; a merge also closes an incident that is in progress, because a duplicate found
while someone worked it is still a duplicate, and the MERGED event says why it ended that way.
The reporter of a merged public report follows it to the target (incidents.public.reports).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cert_portal.audit.events import incident_changes
from incidents.access import Action, require
from incidents.grants import sync_grants
from incidents.models import (
    OPEN_STATUSES,
    EventKind,
    Incident,
    Observable,
    Status,
    TimelineEvent,
)
from incidents.services.base import add_event, in_english, require_visible, write_incident
from incidents.tlp import is_stricter


def check_merge(*, incident: Incident, actor, into: Incident) -> None:
    """Check that `actor` may merge the duplicate `incident` into `into`; write nothing.

    Raises Http404 when the actor may not see either incident (before any message that would tell
    them about it); then ValidationError: the two are the same, the duplicate is not open or was
    merged already, `into` was itself merged or rejected, or the duplicate's TLP is stricter than
    the target's (its observables would reach more people; raise the target's label, or have a
    head lower the duplicate's, first); then ActionNotAllowed when the actor may not work the
    duplicate (Action.MERGE). Actor None (the system) skips the access checks only.
    """
    require_visible(actor, incident)
    require_visible(actor, into)
    if into.pk == incident.pk:
        raise ValidationError({"into": f"{incident.reference} cannot be merged into itself."})
    if incident.merged_into_id is not None:
        raise ValidationError({"incident": f"{incident.reference} was merged already."})
    if incident.status not in OPEN_STATUSES:
        raise ValidationError({"incident": f"Only open incidents are merged; {incident.reference} "
                                           f"is {in_english(incident.get_status_display)}."})
    if into.merged_into_id is not None:
        raise ValidationError({"into": f"{into.reference} was itself merged into "
                                       f"{into.merged_into.reference}: merge into that one."})
    if into.status == Status.REJECTED:
        raise ValidationError({"into": f"{into.reference} was rejected: merge into an incident "
                                       "that is being handled."})
    if is_stricter(incident.tlp, into.tlp):
        raise ValidationError({"into": f"{incident.reference} is {incident.tlp} and "
                                       f"{into.reference} only {into.tlp}: its observables would "
                                       f"reach more people. Make {into.reference} at least "
                                       f"{incident.tlp} first, or have a head lower the label "
                                       f"of {incident.reference}."})
    if actor is not None:
        require(actor, incident, Action.MERGE)


def incident_merge(*, incident: Incident, actor, into: Incident, reason: str = "") -> Incident:
    """Merge the duplicate `incident` into `into` and return the duplicate, updated.

    In one transaction: the duplicate's observables are copied to `into` (those it has already are
    skipped); the duplicate becomes rejected, with `merged_into` and the status event's reason
    "merged into <reference>"; duplicates merged earlier into the duplicate now point at `into`
    (so that `merged_into` always names an incident that is not merged itself); each incident
    gets a MERGED event (old value the duplicate's reference, new value the target's); the grants
    are re-derived. Both incidents are written with a conditional UPDATE on the version the
    caller read (ConflictError if either changed since, and nothing is written), in the order of
    their keys, so that two merges of the same pair wait for each other instead of deadlocking.
    """
    check_merge(incident=incident, actor=actor, into=into)
    now = timezone.now()
    note = f"merged into {into.reference}"
    old_status = in_english(incident.get_status_display)
    with transaction.atomic():
        for row in sorted((incident, into), key=lambda row: row.pk):
            if row is incident:
                write_incident(incident, status=Status.REJECTED, resolved_at=now, merged_into=into)
            else:
                write_incident(into)  # no change of its own: the version guards it all the same
        have = set(Observable.objects.filter(incident=into).values_list("type", "value"))
        copied = [Observable(incident=into, type=kind, value=value, created_at=now, added_by=actor)
                  for kind, value in Observable.objects.filter(incident=incident)
                  .values_list("type", "value") if (kind, value) not in have]
        Observable.objects.bulk_create(copied, ignore_conflicts=True)
        followers = list(Incident.objects.filter(merged_into=incident)
                         .values_list("pk", "reference", "owner_cert_id"))
        if followers:
            Incident.objects.filter(pk__in=[pk for pk, _, _ in followers]).update(
                merged_into=into, version=F("version") + 1, updated_at=now)
            moved = TimelineEvent.objects.bulk_create([
                TimelineEvent(incident_id=pk, kind=EventKind.MERGED, actor=actor, at=now,
                              old_value=reference, new_value=into.reference,
                              reason=f"{incident.reference}, into which it was merged, was {note}")
                for pk, reference, _ in followers])
            incident_changes(moved, {pk: (reference, owner) for pk, reference, owner in followers})

        add_event(incident, EventKind.STATUS, actor, now, old=old_status,
                  new=in_english(incident.get_status_display), reason=note)
        add_event(incident, EventKind.MERGED, actor, now, old=incident.reference,
                  new=into.reference, reason=reason)
        copied_text = f"{len(copied)} observable{'' if len(copied) == 1 else 's'} copied"
        add_event(into, EventKind.MERGED, actor, now, old=incident.reference, new=into.reference,
                  reason=f"{incident.reference} merged into this incident ({copied_text})"
                         + (f": {reason}" if reason else ""))
        sync_grants([incident.pk, into.pk])
    return incident
