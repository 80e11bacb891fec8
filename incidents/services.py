"""Every change of an incident, one function each (DOMAIN.md §3).

Each service checks the actor's right through incidents.access (actor None is the system: the SLA
scheduler, a management command, the public form), writes the incident with a conditional UPDATE
on its version (a stale write raises ConflictError, never overwrites), appends its timeline event
in the same transaction, re-derives the grants when owner, shares or TLP change, and records its
notifications in the outbox, delivered after commit by a django-q2 task.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from incidents import taxonomy
from incidents.access import Action, require
from incidents.files import sniff_content_type
from incidents.grants import sync_grants
from incidents.models import (
    OPEN_STATUSES,
    Attachment,
    Comment,
    EventKind,
    Incident,
    IncidentShare,
    Notification,
    Observable,
    OwnershipPeriod,
    ReferenceCounter,
    Source,
    Status,
    TimelineEvent,
)
from incidents.observables import extract, normalise
from incidents.severity import Severity, deadlines, sla_targets
from incidents.tlp import Tlp, as_tlp, is_less_strict, shareable
from organizations.models import Cert, Membership, Role

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


class ConflictError(Exception):
    """The incident changed since the caller read it; nothing was written."""

    def __init__(self, incident: Incident):
        super().__init__(f"{incident.reference} was changed by someone else since you opened it. "
                         "Reload it to see the change, then try again.")


def reference_prefix() -> str:
    return getattr(settings, "INCIDENT_REFERENCE_PREFIX", "PK-INC")


def next_reference(*, at: datetime) -> str:
    """Hand out the next reference, e.g. PK-INC-2026-000123, unique under concurrent creation:
    the counter row is locked (PostgreSQL) or the transaction holds SQLite's write lock."""
    prefix, year = reference_prefix(), timezone.localtime(at).year
    with transaction.atomic():
        try:
            with transaction.atomic():
                ReferenceCounter.objects.get_or_create(prefix=prefix, year=year)
        except IntegrityError:
            pass  # created by a concurrent transaction a moment ago
        counter = ReferenceCounter.objects.select_for_update().get(prefix=prefix, year=year)
        counter.last_number += 1
        counter.save(update_fields=["last_number"])
    return f"{prefix}-{year}-{counter.last_number:06d}"


def incident_create(*, actor, owner_cert: Cert, title: str, classification: str,
                    incident_type: str, description: str = "", severity: int = Severity.MEDIUM,
                    tlp: str = Tlp.AMBER, source: str = Source.STAFF, **details) -> Incident:
    """Open an incident owned by `owner_cert`, with its deadlines, first timeline event, ownership
    record, observables found in the description, and grants."""
    allowed_details = {"reporter_name", "reporter_email", "reporter_phone",
                       "reporter_consents_to_contact", "reporter_token_hash",
                       "reporter_token_salt", "submission_key", "impact", "is_public_body",
                       "affected_organization", "sector", "region", "is_cii", "occurred_at",
                       "detected_at"}
    unknown = set(details) - allowed_details
    if unknown:
        raise TypeError(f"Unknown incident fields: {', '.join(sorted(unknown))}")
    errors = {}
    if not (title or "").strip():
        errors["title"] = "Give the incident a title."
    try:
        taxonomy.validate_classification(classification, incident_type)
    except ValidationError as error:
        field = "classification" if error.code == "unknown_classification" else "incident_type"
        errors[field] = error.messages
    try:
        severity = _parse_severity(severity)
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
        _require_member(actor, owner_cert, {Role.HEAD, Role.HANDLER, Role.ANALYST})

    now = timezone.now()
    ack_due_at, resolve_due_at = deadlines(severity, start=now)
    with transaction.atomic():
        incident = Incident(
            reference=next_reference(at=now), title=title.strip(), description=description,
            classification=classification, incident_type=incident_type, severity=severity,
            tlp=tlp, status=Status.NEW, owner_cert=owner_cert, source=source, reported_at=now,
            owner_since=now, ack_due_at=ack_due_at, resolve_due_at=resolve_due_at,
            created_by=actor, **details,
        )
        incident.full_clean(exclude={"reference", "submission_key"})
        incident.save()
        OwnershipPeriod.objects.create(incident=incident, cert=owner_cert, started_at=now)
        _event(incident, EventKind.CREATED, actor, now, new=owner_cert.short_name,
               reason=f"Source: {incident.get_source_display()}")
        Observable.objects.bulk_create(
            [Observable(incident=incident, type=kind, value=value, created_at=now, added_by=actor)
             for kind, value in extract(f"{title}\n{description}")],
            ignore_conflicts=True,
        )
        sync_grants([incident.pk])
    return incident


def incident_transition(*, incident: Incident, actor, to_status: str, reason: str = "") -> Incident:
    """Move the incident along the lifecycle table."""
    _require_visible(actor, incident)
    if to_status not in Status.values:
        raise ValidationError({"status": f"Unknown status {to_status!r}."})
    if to_status not in TRANSITIONS[incident.status]:
        allowed = ", ".join(sorted(TRANSITIONS[incident.status])) or "none"
        raise ValidationError({"status": f"{incident.get_status_display()} cannot become "
                                         f"{Status(to_status).label}; allowed next: {allowed}."})
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
    old = incident.get_status_display()
    with transaction.atomic():
        _write(incident, **changes)
        _event(incident, EventKind.STATUS, actor, now, old=old,
               new=incident.get_status_display(), reason=reason)
    return incident


def incident_acknowledge(*, incident: Incident, actor) -> Incident:
    return incident_transition(incident=incident, actor=actor, to_status=Status.ACKNOWLEDGED)


def incident_assign(*, incident: Incident, actor, assignee) -> Incident:
    """Give the incident to a member of its owner CERT (or to nobody, with None)."""
    _require_visible(actor, incident)
    if assignee is not None and not Membership.objects.filter(
            user=assignee, cert_id=incident.owner_cert_id).exists():
        raise ValidationError({"assignee": f"{assignee} is not a member of "
                                           f"{incident.owner_cert.name}, which owns the incident."})
    if actor is not None:
        require(actor, incident, Action.ASSIGN)
    now = timezone.now()
    old = str(incident.assignee or "")
    with transaction.atomic():
        _write(incident, assignee=assignee)
        event = _event(incident, EventKind.ASSIGNED, actor, now, old=old, new=str(assignee or ""))
        if assignee is not None and assignee != actor:
            _notify(Notification.Kind.ASSIGNED, incident, now, key=f"assigned:{event.pk}",
                    user=assignee)
    return incident


def incident_change_severity(*, incident: Incident, actor, severity: int, reason: str = "") -> Incident:
    """Change the severity and recompute both deadlines from their own starting points."""
    _require_visible(actor, incident)
    try:
        severity = _parse_severity(severity)
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
    old = incident.get_severity_display()
    with transaction.atomic():
        _write(incident, **changes)
        _event(incident, EventKind.SEVERITY, actor, now, old=old,
               new=incident.get_severity_display(), reason=reason)
    return incident


def incident_change_tlp(*, incident: Incident, actor, tlp: str, reason: str = "") -> Incident:
    """Change the TLP label: stricter by anyone who works the incident, less strict by heads only.
    The grants follow."""
    _require_visible(actor, incident)
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
        _write(incident, tlp=tlp)
        _event(incident, EventKind.TLP, actor, now, old=old, new=tlp, reason=reason)
        sync_grants([incident.pk])
    return incident


def incident_comment(*, incident: Incident, actor, body: str, reporter_visible: bool = False) -> Comment:
    """Add a comment: internal, or visible to the public reporter. Actor None is the reporter."""
    _require_visible(actor, incident)
    if not (body or "").strip():
        raise ValidationError({"body": "Write something before sending the comment."})
    if actor is not None:
        require(actor, incident, Action.COMMENT)
    now = timezone.now()
    with transaction.atomic():
        comment = Comment.objects.create(incident=incident, author=actor, body=body.strip(),
                                         reporter_visible=reporter_visible, created_at=now)
        _event(incident, EventKind.COMMENT, actor, now,
               new="reporter-visible" if reporter_visible else "internal")
    return comment


def incident_add_observable(*, incident: Incident, actor, type: str, value: str) -> Observable:
    """Record one observable, normalised; an observable already recorded is returned as it is."""
    _require_visible(actor, incident)
    normalised = normalise(type, value)
    if actor is not None:
        require(actor, incident, Action.ADD_OBSERVABLE)
    existing = Observable.objects.filter(incident=incident, type=type, value=normalised).first()
    if existing is not None:
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            observable = Observable.objects.create(incident=incident, type=type, value=normalised,
                                                   created_at=now, added_by=actor)
            _event(incident, EventKind.OBSERVABLE, actor, now, new=f"{type}: {normalised}"[:300])
    except IntegrityError:
        # Recorded by a concurrent request a moment ago: the same answer as above.
        return Observable.objects.get(incident=incident, type=type, value=normalised)
    return observable


def attachment_max_bytes() -> int:
    return getattr(settings, "INCIDENT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)


def incident_attach(*, incident: Incident, actor, uploaded_file) -> Attachment:
    """Store a file outside the web root with its size, SHA-256 and detected content type.
    If anything fails after the file was written, the file is removed again."""
    _require_visible(actor, incident)
    size = uploaded_file.size or 0
    if size == 0:
        raise ValidationError({"file": "The file is empty."})
    if size > attachment_max_bytes():
        raise ValidationError({"file": f"The file is {size:,} bytes; the limit is "
                                       f"{attachment_max_bytes():,} bytes."})
    if actor is not None:
        require(actor, incident, Action.ATTACH)
    digest = hashlib.sha256()
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    head = uploaded_file.read(2048)
    uploaded_file.seek(0)
    name = (uploaded_file.name or "attachment").replace("\\", "/").rsplit("/", 1)[-1][:255]
    now = timezone.now()
    attachment = Attachment(incident=incident, original_name=name, size=size,
                            sha256=digest.hexdigest(), content_type=sniff_content_type(head),
                            uploaded_by=actor, created_at=now)
    try:
        with transaction.atomic():
            attachment.file.save(name, uploaded_file, save=False)
            attachment.save()
            _event(incident, EventKind.ATTACHMENT, actor, now,
                   new=f"{name} ({size:,} bytes, sha256 {attachment.sha256[:12]}…)")
    except BaseException:
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


def incident_escalate(*, incident: Incident, actor, to_cert: Cert | None = None,
                      reason: str = "") -> Incident:
    """Hand the incident up to the owner's parent, or to an ancestor the handler chooses."""
    _require_visible(actor, incident)
    owner = incident.owner_cert
    if to_cert is None:
        if owner.parent_id is None:
            raise ValidationError({"to_cert": f"{owner.name} is the root of the tree: there is no "
                                              "CERT above it to escalate to."})
        to_cert = Cert.objects.get(pk=owner.parent_id)
    if not to_cert.is_ancestor_of(owner):
        raise ValidationError({"to_cert": f"Escalation goes up the tree only: {to_cert.name} is "
                                          f"not above {owner.name}. To hand it down, refer it; to "
                                          "involve another CERT, share it."})
    return _hand_over(incident, actor, to_cert, EventKind.ESCALATED, Action.ESCALATE,
                      reason or "Escalated")


def incident_refer(*, incident: Incident, actor, to_cert: Cert, reason: str = "") -> Incident:
    """Hand the incident down to one of the owner's descendants."""
    _require_visible(actor, incident)
    owner = incident.owner_cert
    if not owner.is_ancestor_of(to_cert):
        raise ValidationError({"to_cert": f"Referral goes down the tree only: {to_cert.name} is "
                                          f"not below {owner.name}. To hand it up, escalate it."})
    return _hand_over(incident, actor, to_cert, EventKind.REFERRED, Action.REFER,
                      reason or "Referred")


def incident_share(*, incident: Incident, actor, cert: Cert) -> IncidentShare:
    """Let another CERT view the incident; TLP:AMBER+STRICT and TLP:RED are never shared."""
    _require_visible(actor, incident)
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
        _event(incident, EventKind.SHARED, actor, now, new=cert.short_name)
        sync_grants([incident.pk])
    return share


# Internals ----------------------------------------------------------------------------------

def _hand_over(incident, actor, to_cert, kind, action, reason) -> Incident:
    if incident.status not in OPEN_STATUSES:
        raise ValidationError({"status": f"Only open incidents are handed over; "
                                         f"{incident.reference} is {incident.get_status_display()}."})
    if not to_cert.is_active:
        raise ValidationError({"to_cert": f"{to_cert.name} is not active."})
    if actor is not None:
        require(actor, incident, action)
    now = timezone.now()
    old_owner = incident.owner_cert
    with transaction.atomic():
        _write(incident, owner_cert=to_cert, status=Status.NEW, owner_since=now, assignee=None,
               ack_due_at=deadlines(incident.severity, start=now)[0])
        OwnershipPeriod.objects.filter(incident=incident, ended_at__isnull=True).update(ended_at=now)
        OwnershipPeriod.objects.create(incident=incident, cert=to_cert, started_at=now)
        _event(incident, kind, actor, now, old=old_owner.short_name, new=to_cert.short_name,
               reason=reason)
        sync_grants([incident.pk])
        notification_kind = (Notification.Kind.ESCALATED if kind == EventKind.ESCALATED
                             else Notification.Kind.REFERRED)
        _notify(notification_kind, incident, now, cert=to_cert, roles=[Role.HEAD, Role.HANDLER],
                key=f"{kind}:{incident.pk}:v{incident.version}")
    return incident


def _write(incident: Incident, **changes) -> None:
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


def _event(incident, kind, actor, at, *, old: str = "", new: str = "", reason: str = "") -> TimelineEvent:
    return TimelineEvent.objects.create(incident=incident, kind=kind, actor=actor, at=at,
                                        old_value=str(old)[:300], new_value=str(new)[:300],
                                        reason=reason)


def _notify(kind, incident, at, *, key: str, cert=None, user=None, roles=()) -> None:
    from incidents.notifications import enqueue_delivery

    Notification.objects.bulk_create(
        [Notification(key=key, kind=kind, incident=incident, cert=cert, user=user,
                      roles=",".join(roles), created_at=at)],
        ignore_conflicts=True,  # the same key twice is the same notification
    )
    # Delivery is idempotent, so enqueueing when the row already existed costs one empty run.
    transaction.on_commit(enqueue_delivery)


def _parse_severity(value) -> Severity:
    try:
        return Severity(int(value))
    except (TypeError, ValueError):
        raise ValidationError(f"Severity {value!r} is not a level from 0 (baseline) to 5 "
                              "(emergency).") from None


def _require_visible(actor, incident: Incident) -> None:
    """Answer 404 before anything else to a person who may not see the incident, so that no
    validation message tells them about it (DOMAIN.md §2). The system (None) sees everything."""
    if actor is not None:
        require(actor, incident, Action.VIEW)


def _require_member(actor, cert: Cert, roles: set[str]) -> None:
    if not Membership.objects.filter(user=actor, cert=cert, role__in=roles).exists():
        raise ValidationError({"owner_cert": f"You may open incidents only for a CERT you work in "
                                             f"as head, handler or analyst; not {cert.name}."})
