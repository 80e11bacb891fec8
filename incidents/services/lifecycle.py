"""The incident's own row: creation with its reference, the lifecycle, assignment, severity and TLP
(DOMAIN.md §3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents import taxonomy
from incidents.access import (
    Action,
    assignable_users,
    may_open_incident_for,
    require,
)
from incidents.grants import sync_grants
from incidents.models import (
    EventKind,
    Incident,
    Notification,
    Observable,
    OwnershipPeriod,
    ReferenceCounter,
    Source,
    Status,
)
from incidents.observables import extract
from incidents.services.base import (
    add_event,
    in_english,
    notify,
    parse_severity,
    require_visible,
    write_incident,
)
from incidents.severity import Severity, deadlines, sla_targets
from incidents.text import hidden_character_message, single_line
from incidents.tlp import DEFAULT_INCIDENT_TLP, as_tlp, is_less_strict
from organizations.models import Cert

# The lifecycle: status -> statuses it may move to (DOMAIN.md §3).
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.ACKNOWLEDGED, Status.REJECTED}),
    Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.REJECTED}),
    Status.IN_PROGRESS: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.CLOSED: frozenset({Status.IN_PROGRESS}),
    Status.REJECTED: frozenset({Status.NEW}),
}
# Re-opening a final decision is a head's call.
HEAD_ONLY_TRANSITIONS = frozenset({(Status.CLOSED, Status.IN_PROGRESS),
                                   (Status.REJECTED, Status.NEW)})


def reference_prefix() -> str:
    return getattr(settings, "INCIDENT_REFERENCE_PREFIX", "PK-INC")


def next_reference(*, at: datetime, prefix: str | None = None, digits: int = 6) -> str:
    """Hand out the next reference, e.g. PK-INC-2026-000123, unique under concurrent creation:
    the counter row is locked (PostgreSQL) or the transaction holds SQLite's write lock. Other
    numbered records (advisories: PK-ADV-2026-0042) pass their own prefix and width."""
    prefix, year = prefix or reference_prefix(), timezone.localtime(at).year
    with transaction.atomic():
        try:
            with transaction.atomic():
                ReferenceCounter.objects.get_or_create(prefix=prefix, year=year)
        except IntegrityError:
            pass  # created by a concurrent transaction a moment ago
        counter = ReferenceCounter.objects.select_for_update().get(prefix=prefix, year=year)
        counter.last_number += 1
        counter.save(update_fields=["last_number"])
    return f"{prefix}-{year}-{counter.last_number:0{digits}d}"


def incident_create(*, actor, owner_cert: Cert, title: str, classification: str,
                    incident_type: str, description: str = "", severity: int = Severity.MEDIUM,
                    tlp: str = DEFAULT_INCIDENT_TLP, source: str = Source.STAFF,
                    observables: Iterable[tuple[str, str]] | None = None,
                    **details) -> Incident:
    """Open an incident owned by `owner_cert`, with its deadlines, first timeline event, ownership
    record, observables, and grants. The observables are those found in the title and
    description, or exactly `observables` ((type, normalised value) pairs) when a person reviewed
    what was found (the dashboard's new-incident page)."""
    allowed_details = {"reporter_name", "reporter_email", "reporter_phone",
                       "reporter_consents_to_contact", "reporter_token_hash",
                       "reporter_token_salt", "submission_key", "impact", "is_public_body",
                       "affected_organization", "sector", "region", "is_cii", "occurred_at",
                       "detected_at", "reporter_language"}
    unknown = set(details) - allowed_details
    if unknown:
        raise TypeError(f"Unknown incident fields: {', '.join(sorted(unknown))}")
    errors = {}
    # Invisible characters in names are refused, not dropped: the person sees what was wrong
    # (issue 13, item 6).
    for field, value, label in (("title", title, _("title")),
                                ("reporter_name", details.get("reporter_name"), _("name"))):
        message = hidden_character_message(value, field=label)
        if message:
            errors[field] = message
    # One line, whoever typed it: the title goes into e-mail subjects (issue 7, finding 4).
    title = single_line(title)
    if not title and "title" not in errors:
        errors["title"] = "Give the incident a title."
    try:
        taxonomy.validate_classification(classification, incident_type)
    except ValidationError as error:
        field = "classification" if error.code == "unknown_classification" else "incident_type"
        errors[field] = error.messages
    try:
        severity = parse_severity(severity)
    except ValidationError as error:
        errors["severity"] = error.messages
    try:
        tlp = as_tlp(tlp)
    except ValidationError as error:
        errors["tlp"] = error.messages
    if source not in Source.values:
        errors["source"] = f"Unknown source {source!r}."
    if not owner_cert.is_active:
        errors["owner_cert"] = f"{owner_cert.name} is not active."
    if errors:
        raise ValidationError(errors)
    if actor is not None:
        _require_may_open(actor, owner_cert)

    now = timezone.now()
    ack_due_at, resolve_due_at = deadlines(severity, start=now)
    with transaction.atomic():
        incident = Incident(
            reference=next_reference(at=now), title=title, description=description,
            classification=classification, incident_type=incident_type, severity=severity,
            tlp=tlp, status=Status.NEW, owner_cert=owner_cert, source=source, reported_at=now,
            owner_since=now, ack_due_at=ack_due_at, resolve_due_at=resolve_due_at,
            created_by=actor, **details,
        )
        incident.full_clean(exclude={"reference", "submission_key"})
        incident.save()
        OwnershipPeriod.objects.create(incident=incident, cert=owner_cert, started_at=now)
        add_event(incident, EventKind.CREATED, actor, now, new=owner_cert.short_name,
                  reason=f"Source: {in_english(incident.get_source_display)}")
        Observable.objects.bulk_create(
            [Observable(incident=incident, type=kind, value=value, created_at=now, added_by=actor)
             for kind, value in (extract(f"{title}\n{description}") if observables is None
                                 else observables)],
            ignore_conflicts=True,
        )
        sync_grants([incident.pk])
    return incident


def incident_transition(*, incident: Incident, actor, to_status: str, reason: str = "") -> Incident:
    """Move the incident along the lifecycle table."""
    require_visible(actor, incident)
    if to_status not in Status.values:
        raise ValidationError({"status": f"Unknown status {to_status!r}."})
    if to_status not in TRANSITIONS[incident.status]:
        allowed = ", ".join(sorted(TRANSITIONS[incident.status])) or "none"
        now_status = in_english(incident.get_status_display)
        wanted = in_english(lambda: Status(to_status).label)
        raise ValidationError({"status": f"{now_status} cannot become {wanted}; "
                                         f"allowed next: {allowed}."})
    if actor is not None:
        require(actor, incident, Action.TRANSITION)
        if (incident.status, to_status) in HEAD_ONLY_TRANSITIONS:
            require(actor, incident, Action.REOPEN_FINAL)
    now = timezone.now()
    changes: dict = {"status": to_status}
    if to_status == Status.ACKNOWLEDGED and incident.acknowledged_at is None:
        changes["acknowledged_at"] = now
    if to_status in (Status.RESOLVED, Status.REJECTED):
        changes["resolved_at"] = now
    if to_status in (Status.IN_PROGRESS, Status.NEW) and incident.resolved_at is not None:
        changes["resolved_at"] = None
    if to_status == Status.NEW:
        # Back in the queue: the owner has a fresh acknowledgement deadline.
        changes["owner_since"] = now
        changes["ack_due_at"] = deadlines(incident.severity, start=now)[0]
    old = in_english(incident.get_status_display)
    with transaction.atomic():
        write_incident(incident, **changes)
        add_event(incident, EventKind.STATUS, actor, now, old=old,
                  new=in_english(incident.get_status_display), reason=reason)
    return incident


def incident_acknowledge(*, incident: Incident, actor) -> Incident:
    return incident_transition(incident=incident, actor=actor, to_status=Status.ACKNOWLEDGED)


def incident_assign(*, incident: Incident, actor, assignee) -> Incident:
    """Give the incident to a member of its owner CERT (or to nobody, with None)."""
    require_visible(actor, incident)
    if assignee is not None and not assignable_users(incident).filter(pk=assignee.pk).exists():
        raise ValidationError({"assignee": f"{assignee} is not an active member of "
                                           f"{incident.owner_cert.name}, which owns the incident."})
    if actor is not None:
        require(actor, incident, Action.ASSIGN)
    now = timezone.now()
    old = str(incident.assignee or "")
    with transaction.atomic():
        write_incident(incident, assignee=assignee)
        event = add_event(incident, EventKind.ASSIGNED, actor, now, old=old, new=str(assignee or ""))
        if assignee is not None and assignee != actor:
            notify(Notification.Kind.ASSIGNED, incident, now, key=f"assigned:{event.pk}",
                   user=assignee)
    return incident


def incident_change_severity(*, incident: Incident, actor, severity: int, reason: str = "") -> Incident:
    """Change the severity and recompute both deadlines from their own starting points."""
    require_visible(actor, incident)
    try:
        severity = parse_severity(severity)
    except ValidationError as error:
        raise ValidationError({"severity": error.messages}) from None
    if actor is not None:
        require(actor, incident, Action.CHANGE_SEVERITY)
    now = timezone.now()
    ack_target, resolve_target = sla_targets(severity)
    changes = {"severity": severity,
               "ack_due_at": deadlines(severity, start=incident.owner_since)[0],
               "resolve_due_at": deadlines(severity, start=incident.reported_at)[1]}
    if changes["resolve_due_at"] > now:
        # The new deadline has not passed: watch it again, even if the caller's copy was read
        # before the SLA pass flagged the old one.
        changes["resolution_missed_at"] = None
    old = in_english(incident.get_severity_display)
    with transaction.atomic():
        write_incident(incident, **changes)
        add_event(incident, EventKind.SEVERITY, actor, now, old=old,
                  new=in_english(incident.get_severity_display), reason=reason)
    return incident


def incident_change_tlp(*, incident: Incident, actor, tlp: str, reason: str = "") -> Incident:
    """Change the TLP label: stricter by anyone who works the incident, less strict by heads only.
    The grants follow."""
    require_visible(actor, incident)
    try:
        tlp = as_tlp(tlp)
    except ValidationError as error:
        raise ValidationError({"tlp": error.messages}) from None
    if tlp == incident.tlp:
        raise ValidationError({"tlp": f"The incident is already {tlp}."})
    if actor is not None:
        require(actor, incident, Action.LOWER_TLP if is_less_strict(tlp, incident.tlp)
                else Action.RAISE_TLP)
    now = timezone.now()
    old = incident.tlp
    with transaction.atomic():
        write_incident(incident, tlp=tlp)
        add_event(incident, EventKind.TLP, actor, now, old=old, new=tlp, reason=reason)
        sync_grants([incident.pk])
    return incident


def _require_may_open(actor, cert: Cert) -> None:
    if not may_open_incident_for(actor, cert):
        raise ValidationError({"owner_cert": f"You may open incidents only for a CERT you work in "
                                             f"as head, handler or analyst; not {cert.name}."})
