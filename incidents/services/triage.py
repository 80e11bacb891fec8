"""Intake (issue 9, items 3 and 6): the public reports a CERT has still to triage and what triage
does with them (accept, reject with a reason the reporter reads; merging is
incidents.services.merge, routing is incidents.services.incident_refer), and incidents that staff
enter themselves with the indicators they reviewed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce

from cert_portal.pagination import Cursor, Direction, Position, encode_cursor
from incidents import access
from incidents.access import visible_incidents
from incidents.models import Attachment, Incident, Observable, Source, Status
from incidents.observables import normalise
from incidents.services.base import require_visible
from incidents.services.contributions import incident_comment
from incidents.services.lifecycle import (
    incident_acknowledge,
    incident_assign,
    incident_create,
    incident_transition,
)
from organizations.models import Cert

TRIAGE_PAGE_SIZE = 25


@dataclass
class TriagePage:
    """One page of a CERT's triage list, oldest report first, with the cursors of the pages
    after and before it (None where there is none) and the count of the whole list, capped."""

    reports: list[Incident]
    next_cursor: str | None
    previous_cursor: str | None
    count: int
    count_is_capped: bool


def _count_of(model, field: str = "incident"):
    rows = (model.objects.filter(**{field: OuterRef("pk")}).order_by()
            .values(field).annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def triage_reports(user, cert: Cert):
    """The public reports that `cert` owns and nobody has accepted or rejected yet, of those
    `user` may see (incidents.access decides), in no particular order."""
    return visible_incidents(user, Incident.objects.filter(
        owner_cert=cert, source=Source.PUBLIC_FORM, status=Status.NEW))


def triage_page(user, *, cert: Cert, cursor: Cursor | None = None,
                size: int = TRIAGE_PAGE_SIZE) -> TriagePage:
    """A page of `triage_reports`, oldest report first (they have waited longest), after the
    position of `cursor` (Direction.OLDER: the page after it in this list's order; NEWER: the page
    before it). Each report comes with its sector, its observables and the counts `file_count`
    and `observable_count`. Three queries whatever the length of the list: the page, its
    observables, and the count (at most COUNT_CAP + 1 rows read)."""
    reports = triage_reports(user, cert)
    backwards = cursor is not None and cursor.direction is Direction.NEWER
    page = reports
    if cursor is not None:
        at, pk = cursor.position.at, cursor.position.pk
        page = page.filter(Q(reported_at__lt=at) | Q(reported_at=at, pk__lt=pk) if backwards
                           else Q(reported_at__gt=at) | Q(reported_at=at, pk__gt=pk))
    order = ("-reported_at", "-pk") if backwards else ("reported_at", "pk")
    rows = list(page.select_related("sector").annotate(
        file_count=_count_of(Attachment), observable_count=_count_of(Observable),
    ).prefetch_related(Prefetch("observables", queryset=Observable.objects.order_by("type", "value")))
        .order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_next = (not backwards and more) or (backwards and bool(rows))
    has_previous = (backwards and more) or (not backwards and cursor is not None and bool(rows))
    cap = access.COUNT_CAP  # read now, not at import: a test may lower it
    counted = reports.order_by().values("pk")[: cap + 1].count()

    def position(row: Incident) -> Position:
        return Position(row.reported_at, row.pk)

    return TriagePage(
        reports=rows,
        next_cursor=encode_cursor(Direction.OLDER, position(rows[-1])) if has_next else None,
        previous_cursor=(encode_cursor(Direction.NEWER, position(rows[0]))
                         if has_previous else None),
        count=min(counted, cap), count_is_capped=counted > cap,
    )


def report_accept(*, incident: Incident, actor, assign_to_me: bool = False) -> Incident:
    """Accept a report: acknowledge it and, asked to, assign it to the actor; both or neither."""
    with transaction.atomic():
        incident_acknowledge(incident=incident, actor=actor)
        if assign_to_me:
            incident_assign(incident=incident, actor=actor, assignee=actor)
    return incident


def report_reject(*, incident: Incident, actor, reason: str) -> Incident:
    """Reject a public report with `reason`, which its reporter reads on their status page (and
    is sent, if they gave an address and agreed to be contacted): the status change, the
    reporter-visible comment and the notification in one transaction."""
    require_visible(actor, incident)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the report is rejected: the reporter reads "
                                         "it."})
    if incident.source != Source.PUBLIC_FORM:
        raise ValidationError({"reason": f"{incident.reference} is not a report from the public: "
                                         "it has no reporter to tell. Change its status in its "
                                         "workspace."})
    with transaction.atomic():
        incident_transition(incident=incident, actor=actor, to_status=Status.REJECTED,
                            reason=reason)
        incident_comment(incident=incident, actor=actor, body=reason, reporter_visible=True)
    return incident


def incident_create_with_observables(*, actor, owner_cert: Cert,
                                     observables: Iterable[tuple[str, str]],
                                     submission_key: str | None = None, **fields) -> Incident:
    """Open an incident (incident_create, whose validation and rules apply) with exactly the
    `observables` (type, value) a person reviewed, normalised, in one transaction.

    Only the reviewed observables are saved, not all incident_create would find in the text, so
    that one left out in the review is not saved. A `submission_key` seen
    before returns the incident it created, so a form sent twice opens one incident.
    """
    chosen: dict[tuple[str, str], None] = {}
    for kind, value in observables:
        try:
            chosen[(kind, normalise(kind, value))] = None
        except ValidationError as error:
            raise ValidationError({"observables": error.messages}) from None
    existing = _sent_before(submission_key, actor)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            incident = incident_create(actor=actor, owner_cert=owner_cert, observables=chosen,
                                       submission_key=submission_key or None, **fields)
    except IntegrityError:
        # The same form, sent twice at once: the other request opened the incident.
        existing = _sent_before(submission_key, actor)
        if existing is None:
            raise
        return existing
    return incident


def _sent_before(submission_key: str | None, actor) -> Incident | None:
    """The incident this form opened already, if it was sent before (by the same person)."""
    if not submission_key:
        return None
    existing = Incident.objects.filter(submission_key=submission_key).first()
    if existing is not None and existing.created_by_id != getattr(actor, "pk", None):
        raise ValidationError("This form was used already. Reload the page and enter the "
                              "incident again.")
    return existing
