"""Related incidents (issue 9, item 4): two incidents a member marks as belonging together.

A link is stored once per pair, the lower id first (IncidentLink's constraints), so that it reads
the same from either side; each side's timeline gets a LINKED event naming the other. A link
changes neither incident's row, so it needs no version. Who may: incidents.access, Action.LINK on
the incident the member works from, and sight of the other one (404 otherwise, as for anything
the member may not see).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.access import Action, require
from incidents.models import EventKind, Incident, IncidentLink
from incidents.services.base import add_event, require_visible


def check_link(*, incident: Incident, actor, other: Incident) -> None:
    """Http404 for who may not see either incident; ValidationError for an incident linked to
    itself or a pair already linked; ActionNotAllowed for who may not link from `incident`."""
    require_visible(actor, incident)
    require_visible(actor, other)
    if other.pk == incident.pk:
        raise ValidationError({"reference": _("An incident cannot be related to itself.")})
    if are_linked(incident, other):
        raise ValidationError({"reference": _("%(reference)s is already related to this "
                                              "incident.") % {"reference": other.reference}})
    if actor is not None:
        require(actor, incident, Action.LINK)


def are_linked(first: Incident, second: Incident) -> bool:
    low, high = sorted((first.pk, second.pk))
    return IncidentLink.objects.filter(incident_id=low, related_id=high).exists()


def incident_link(*, incident: Incident, actor, other: Incident, reason: str = "") -> IncidentLink:
    """Mark `other` as related to `incident`: one IncidentLink row for the pair and a LINKED
    event on each incident, in one transaction."""
    check_link(incident=incident, actor=actor, other=other)
    low, high = sorted((incident, other), key=lambda row: row.pk)
    now = timezone.now()
    reason = (reason or "").strip()
    try:
        with transaction.atomic():
            link = IncidentLink.objects.create(incident=low, related=high, created_by=actor,
                                               created_at=now)
            add_event(incident, EventKind.LINKED, actor, now, new=other.reference, reason=reason)
            add_event(other, EventKind.LINKED, actor, now, new=incident.reference, reason=reason)
    except IntegrityError:
        # Linked by a concurrent request a moment ago: the same answer as above.
        raise ValidationError({"reference": _("%(reference)s is already related to this "
                                              "incident.") % {"reference": other.reference}}
                              ) from None
    return link


def links_of(incident: Incident) -> Q:
    """The condition on IncidentLink rows that involve `incident`, from either side."""
    return Q(incident=incident) | Q(related=incident)
