"""What the portal records, in the domain's words: the views of incidents and protected
advisories, and the changes that are rows elsewhere (an incident's timeline). Each function is one
INSERT (or one for a batch); the interfaces and services call them where the thing happens."""

from __future__ import annotations

from collections.abc import Iterable

from cert_portal.audit.models import AuditKind
from cert_portal.audit.record import build, record, record_many


def incident_viewed(request, incident, *, detail: dict | None = None) -> None:
    """Record that the request's actor was shown `incident` (the owner at this moment is the
    object's CERT: it sees who outside it looked)."""
    record(AuditKind.INCIDENT_VIEWED, request=request, obj=incident, detail=detail)


def is_protected_advisory(advisory, tlp: str | None = None) -> bool:
    """Whether a view of `advisory` is recorded: anything but a published (or withdrawn, which
    stays readable) TLP:CLEAR one, which the public pages show to anyone. `tlp` is the label of
    the revision shown, when it is not the advisory's own."""
    from incidents.tlp import Tlp

    return (tlp or advisory.tlp) != Tlp.CLEAR or not advisory.is_published


def advisory_viewed(request, advisory, *, tlp: str | None = None,
                    detail: dict | None = None) -> None:
    """Record a view of `advisory` by the request's actor, if it is protected."""
    if is_protected_advisory(advisory, tlp):
        record(AuditKind.ADVISORY_VIEWED, request=request, obj=advisory,
               detail={"tlp": tlp or advisory.tlp, **(detail or {})})


def incident_changes(events: Iterable, incidents: dict[int, tuple[str, int | None]]) -> None:
    """One INCIDENT_CHANGED event per timeline event (saved or not), in one INSERT, in the
    caller's transaction. `incidents` maps each incident's key to (reference, owner CERT's key)
    as they were when the change was made. The actor is the timeline's: a person, a key's service
    user, or None for the system (the scheduler, or the public on the reporting pages)."""
    record_many(
        build(AuditKind.INCIDENT_CHANGED, actor=event.actor, object_type="incident",
              object_id=str(event.incident_id), object_label=incidents[event.incident_id][0],
              object_cert=incidents[event.incident_id][1],
              detail={"event": event.kind, "old": event.old_value, "new": event.new_value})
        for event in events)


def permission_changes(object_type: str, objects: dict[int, tuple[str, int | None]],
                       added: dict[int, list[str]], removed: dict[int, list[str]]) -> None:
    """One PERMISSION_CHANGED event per object whose grants changed, in one INSERT. `objects`
    maps each key to (label, owner CERT's key); `added` and `removed` name the grants given and
    taken, as "<group or user name>: <permission>", sorted so that the trail reads the same
    whatever order the sets came in."""
    record_many(
        build(AuditKind.PERMISSION_CHANGED, object_type=object_type, object_id=str(pk),
              object_label=objects[pk][0], object_cert=objects[pk][1],
              detail={"added": sorted(added.get(pk, [])), "removed": sorted(removed.get(pk, []))})
        for pk in sorted(set(added) | set(removed)))


def grant_names(rows: Iterable[tuple[int, int, int]], holder_names: dict[int, str],
                codenames: dict[int, str]) -> dict[int, list[str]]:
    """{object key: ["<holder>: <codename>", ...]} of (object, holder, permission) rows."""
    named: dict[int, list[str]] = {}
    for object_id, holder_id, permission_id in rows:
        named.setdefault(object_id, []).append(
            f"{holder_names.get(holder_id, holder_id)}: {codenames.get(permission_id, permission_id)}")
    return named
