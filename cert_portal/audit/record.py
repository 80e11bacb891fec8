"""Writing the audit trail: `record` for one event, `build` + `record_many` for a batch.

Call `record` where the thing happens, inside the same transaction as a change (so that a change
rolled back leaves no event claiming it happened), and in autocommit for what is not a change
(a view, a failed sign-in). Each call is one INSERT. The actor, their CERT, the client address
and the channel are read from the request when one is given; pass them for work without one
(tasks, commands).

A service deep below a view has no request to pass: AuditRequestMiddleware keeps the request
being answered in a context variable, and `build` reads it when the caller gives no `request`
argument at all (`request=None` says "no request": a task run inline must not be attributed to
the person whose request queued it). Work outside any request is a background task unless the
caller runs inside `audit_channel(Channel.COMMAND)` (the management commands that write).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

from cert_portal.audit.models import AuditEvent, AuditKind, Channel

_current_request: ContextVar = ContextVar("audit_current_request", default=None)
_current_channel: ContextVar = ContextVar("audit_current_channel", default=None)
# `build`'s default for `request`: the request being answered, if any.
_AMBIENT = object()


def current_request():
    """The request being answered in this thread (AuditRequestMiddleware), or None."""
    return _current_request.get()


@contextmanager
def audit_request(request) -> Iterator[None]:
    """Make `request` the one `build` reads while the block runs."""
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


@contextmanager
def audit_channel(channel: str) -> Iterator[None]:
    """Record work done outside a request in the block as done through `channel` (a management
    command wraps its work in `audit_channel(Channel.COMMAND)`)."""
    token = _current_channel.set(channel)
    try:
        yield
    finally:
        _current_channel.reset(token)

# Object type names by model label: what the trail calls each kind of object.
_OBJECT_TYPES = {
    "incidents.incident": "incident",
    "incidents.attachment": "attachment",
    "incidents.webhookendpoint": "webhook",
    "advisories.advisory": "advisory",
    "organizations.cert": "cert",
    "organizations.sector": "sector",
    "organizations.membership": "membership",
    "organizations.apikey": "api_key",
    "auth.user": "user",
}


def describe(obj) -> tuple[str, str, str, int | None]:
    """(object_type, object_id, object_label, object_cert_id) of a model instance: its type in
    the trail's words, its key, what it is called, and the CERT that owns it."""
    label = obj._meta.label_lower
    object_type = _OBJECT_TYPES.get(label, label)
    owner_id = None
    name = str(obj)
    if object_type == "incident":
        name, owner_id = obj.reference, obj.owner_cert_id
    elif object_type == "attachment":
        incident = obj.incident
        name, owner_id = f"{incident.reference}: {obj.original_name}", incident.owner_cert_id
    elif object_type == "advisory":
        name, owner_id = obj.reference, obj.author_cert_id
    elif object_type == "cert":
        owner_id = obj.pk
    elif object_type in {"membership", "api_key", "webhook"}:
        owner_id = obj.cert_id
    return object_type, str(obj.pk), name[:300], owner_id


def request_client_address(request) -> str | None:
    from cert_portal.ratelimit import client_ip

    address = client_ip(request) if request is not None else ""
    return address or None


def _request_channel(request) -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith(("/api/", "/taxii2/", "/taxii/", "/misp/")):
        return Channel.API
    # The staff sign-in and account pages live at the root (cert_portal/accounts/urls.py).
    if path.startswith(("/dashboard/", "/accounts/", "/admin/", "/login/", "/logout/",
                        "/account/")):
        return Channel.DASHBOARD
    return Channel.PUBLIC


def build(kind: AuditKind | str, *, request=_AMBIENT, actor=None, actor_label: str = "", cert=None,
          obj=None,
          object_type: str = "", object_id: str = "", object_label: str = "", object_cert=None,
          detail: dict | None = None, channel: str | None = None,
          at: datetime | None = None) -> AuditEvent:
    """An unsaved event; see `record`."""
    if request is _AMBIENT:
        request = current_request()
    # An actor_label without an actor names someone with no user row (an unknown name typed at
    # sign-in): not whoever the request's session belongs to.
    if actor is None and not actor_label and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    api_key = getattr(actor, "api_key", None) if actor is not None else None
    if cert is None:
        if api_key is not None:
            cert = api_key.cert_id
        elif request is not None and getattr(request, "staff", None) is not None:
            cert = request.staff.cert
    object_cert_id = getattr(object_cert, "pk", object_cert)
    if obj is not None:
        described_type, described_id, described_label, owner_id = describe(obj)
        object_type = object_type or described_type
        object_id = object_id or described_id
        object_label = object_label or described_label
        if object_cert is None:
            object_cert_id = owner_id
    if channel is None:
        channel = Channel.API if api_key is not None else (
            _request_channel(request) if request is not None
            else _current_channel.get() or Channel.TASK)
    if actor is not None and not actor_label:
        actor_label = actor.get_username()
    return AuditEvent(
        at=at or timezone.now(), kind=kind, channel=channel,
        actor_id=getattr(actor, "pk", None), actor_label=actor_label[:150],
        api_key_id=getattr(api_key, "pk", None),
        cert_id=getattr(cert, "pk", cert),
        client_address=request_client_address(request) if request is not None else None,
        object_type=object_type, object_id=str(object_id)[:64], object_label=str(object_label)[:300],
        object_cert_id=object_cert_id, detail=detail or {},
    )


def record(kind: AuditKind | str, **fields) -> AuditEvent:
    """Append one event to the trail and return it.

    `request` (by default the request being answered, if any; None for none) gives the actor
    (its signed-in user or API key's service user), the CERT it acts as (the key's CERT, the
    dashboard's active CERT), the client address and the channel; any of them can be passed
    instead. `obj` gives the object's type, key, label and owning CERT.
    `actor_label` names an actor with no user row (the name typed in a failed sign-in).
    `detail` is a small JSON object: what changed, why it failed."""
    event = build(kind, **fields)
    event.save()
    return event


def record_many(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """Append events made by `build`, in one INSERT."""
    events = list(events)
    return AuditEvent.objects.bulk_create(events) if events else []


def command_channel(handle):
    """Decorate a management command's `handle`: what it records is done at the command line."""
    import functools

    @functools.wraps(handle)
    def wrapper(*args, **kwargs):
        with audit_channel(Channel.COMMAND):
            return handle(*args, **kwargs)

    return wrapper
