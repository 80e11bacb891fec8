"""Webhooks (issue 11, point 8): a CERT's partner systems told of events by signed HTTPS POSTs.

- Registering: `webhook_endpoint_create` (a head of the CERT; https only, no host that is not
  public unless settings.WEBHOOK_ALLOW_LOOPBACK) returns the endpoint and its secret, shown once.
- Recording: the incident services call `record_timeline_events` and `record_hand_over_notices`
  (incidents.services.base), the advisories' publishing write calls `record_advisory_published`,
  inside their transactions: one WebhookDelivery row per endpoint subscribed to the event (an
  outbox, like incidents.models.Notification), delivered after commit and by a schedule.
- Delivering: `deliver_due` decides at delivery, by the same rule as e-mail, whether the
  endpoint's CERT may see the subject now (incidents.access.certs_that_may_view;
  advisories.access.certs_that_may_read); a row it may not see is deleted unsent, so the
  endpoint gets nothing and its heads see nothing of it. Each send is signed
  (`X-Portal-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">`), names the event
  (`X-Portal-Event-Id`, the same on every retry, for idempotent receivers), follows no redirect,
  has a short timeout, and keeps at most an excerpt of the answer. A failed send is retried after
  a growing delay a bounded number of times (incidents.notifications.failed_attempt), and each
  attempt is recorded for the heads' page.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone, translation

from cert_portal.audit.models import AuditKind, Channel
from cert_portal.audit.record import record
from cert_portal.pagination import Cursor, Direction, Position, encode_cursor
from incidents.models import (
    EventKind,
    Incident,
    Notification,
    Status,
    TimelineEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from incidents.notifications import base_url, failed_attempt, stale_claim
from organizations.access import may_manage_members
from organizations.models import Cert

logger = logging.getLogger(__name__)

DELIVERY_TASK = "incidents.webhooks.deliver_due"
SIGNATURE_HEADER = "X-Portal-Signature"
EVENT_ID_HEADER = "X-Portal-Event-Id"
EVENT_TYPE_HEADER = "X-Portal-Event"
# What a receiver accepts by default: a signature made at most this long ago (against replay).
DEFAULT_TOLERANCE_SECONDS = 300
TIMEOUT_SECONDS = 5
# Of an answer, only this much is read and kept, for the heads' page.
EXCERPT_LIMIT = 200
BATCH = 200
MAX_ENDPOINTS_PER_CERT = 20

# Timeline events that are webhook events (whatever the endpoint's CERT is).
TIMELINE_EVENTS = {
    EventKind.CREATED: WebhookEvent.INCIDENT_CREATED,
    EventKind.STATUS: WebhookEvent.INCIDENT_STATUS,
    EventKind.COMMENT: WebhookEvent.INCIDENT_COMMENTED,
}
# Hand-over notices (addressed to the receiving CERT): "escalated or referred to us".
HAND_OVER_KINDS = {Notification.Kind.ESCALATED: "escalated", Notification.Kind.REFERRED: "referred"}


def allow_loopback() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_LOOPBACK", False))


# --- signing ----------------------------------------------------------------------------------

def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The value of the signature header for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes,
                     tolerance: int = DEFAULT_TOLERANCE_SECONDS, *, now: float | None = None) -> bool:
    """Whether `header` (the X-Portal-Signature value) signs `body` with `secret`, made at most
    `tolerance` seconds from `now` (unix seconds; default: the current time). What a receiver
    runs: a signature that is right but too old is a replay and is refused."""
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


# --- endpoints ----------------------------------------------------------------------------------

def _address_is_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return allow_loopback()
    return ip.is_global


def check_url(url: str) -> str:
    """The URL cleaned, or ValidationError saying what to fix: https only (http and loopback
    hosts only with WEBHOOK_ALLOW_LOOPBACK, for tests and development), no credentials in it,
    and no address that is not public."""
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": ["Give the https:// address of your receiver."]})
    if len(url) > 500:
        raise ValidationError({"url": ["At most 500 characters."]})
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValidationError({"url": ["This is not a valid address."]}) from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValidationError({"url": ["Give a full address starting with https://."]})
    if parts.username or parts.password:
        raise ValidationError({"url": ["Leave the user name and password out of the address: "
                                       "deliveries are signed instead."]})
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    loopback = (literal is not None and literal.is_loopback) or host == "localhost"
    if parts.scheme == "http" and not (loopback and allow_loopback()):
        raise ValidationError({"url": ["Use https://: deliveries carry incident data and are "
                                       "never sent unencrypted."]})
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        if not (host == "localhost" and allow_loopback()):
            raise ValidationError({"url": ["The address must be reachable on the public "
                                           "internet, not a local name."]})
    elif literal is not None and not _address_is_allowed(host):
        raise ValidationError({"url": ["The address must be a public one, not a private, "
                                       "loopback or reserved network."]})
    return url


def check_webhook_endpoint_create(*, actor, cert: Cert, url: str, events: Iterable[str]):
    """PermissionDenied unless `actor` is a head of `cert`; ValidationError naming the fields;
    the cleaned (url, events)."""
    if not may_manage_members(actor, cert):
        raise PermissionDenied(f"Only a head of {cert.short_name} registers its webhooks.")
    errors = {}
    try:
        url = check_url(url)
    except ValidationError as error:
        errors.update(error.message_dict)
    events = sorted(set(events or ()))
    if not events:
        errors["events"] = ["Choose at least one event to receive."]
    elif not set(events) <= set(WebhookEvent.values):
        errors["events"] = [f"Choose events among: {', '.join(WebhookEvent.values)}."]
    if WebhookEndpoint.objects.filter(cert=cert).count() >= MAX_ENDPOINTS_PER_CERT:
        errors["url"] = [f"A CERT has at most {MAX_ENDPOINTS_PER_CERT} endpoints: remove one first."]
    if errors:
        raise ValidationError(errors)
    return url, events


def webhook_endpoint_create(*, actor, cert: Cert, url: str,
                            events: Iterable[str]) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint of `cert`; return it and its signing secret, which is shown once."""
    url, events = check_webhook_endpoint_create(actor=actor, cert=cert, url=url, events=events)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(cert=cert, url=url, events=events, secret=secret,
                                                  created_by=actor, created_at=timezone.now())
        record(AuditKind.WEBHOOK_CHANGED, actor=actor, obj=endpoint,
               detail={"action": "create", "url": url, "events": events})
    return endpoint, secret


def webhook_endpoint_set_active(*, actor, endpoint: WebhookEndpoint, active: bool) -> WebhookEndpoint:
    """Pause or resume an endpoint. A paused one is sent nothing: what was waiting is dropped."""
    if not may_manage_members(actor, endpoint.cert):
        raise PermissionDenied(f"Only a head of {endpoint.cert.short_name} manages its webhooks.")
    with transaction.atomic():
        if WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=not active).update(
                is_active=active):
            record(AuditKind.WEBHOOK_CHANGED, actor=actor, obj=endpoint,
                   detail={"action": "resume" if active else "pause", "url": endpoint.url})
        if not active:
            WebhookDelivery.objects.filter(endpoint=endpoint, delivered_at__isnull=True,
                                           failed_at__isnull=True).delete()
    endpoint.is_active = active
    return endpoint


def webhook_endpoint_delete(*, actor, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its delivery history."""
    if not may_manage_members(actor, endpoint.cert):
        raise PermissionDenied(f"Only a head of {endpoint.cert.short_name} manages its webhooks.")
    with transaction.atomic():
        record(AuditKind.WEBHOOK_CHANGED, actor=actor, obj=endpoint,
               detail={"action": "delete", "url": endpoint.url})
        endpoint.delete()


def managed_endpoints(user, cert: Cert) -> list[WebhookEndpoint]:
    """`cert`'s endpoints, for a head of it; nobody else sees them (404)."""
    if not may_manage_members(user, cert):
        raise Http404("No webhook matches the given query.")
    return list(WebhookEndpoint.objects.filter(cert=cert).order_by("created_at", "pk"))


def get_managed_endpoint(user, public_id) -> WebhookEndpoint:
    """The endpoint, for a head of its CERT; 404 for anyone else, as for one that does not exist."""
    try:
        endpoint = WebhookEndpoint.objects.select_related("cert").get(public_id=public_id)
    except (WebhookEndpoint.DoesNotExist, ValidationError, ValueError):
        raise Http404("No webhook matches the given query.") from None
    if not may_manage_members(user, endpoint.cert):
        raise Http404("No webhook matches the given query.")
    return endpoint


# --- recording events ----------------------------------------------------------------------------

def _subscribed(event: str, cert_ids: set[int] | None = None) -> list[WebhookEndpoint]:
    endpoints = WebhookEndpoint.objects.filter(is_active=True, cert__is_active=True)
    if cert_ids is not None:
        endpoints = endpoints.filter(cert_id__in=cert_ids)
    # events is a short JSON list: filtered here, which works alike on SQLite and PostgreSQL.
    return [endpoint for endpoint in endpoints.only("pk", "events") if event in endpoint.events]


def _record(rows: list[WebhookDelivery], deliver_on_commit: bool) -> None:
    if not rows:
        return
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    if deliver_on_commit:
        transaction.on_commit(enqueue_delivery)


def _status_value(label: str) -> str:
    """The status value ("in_progress") of the English label the timeline keeps ("In progress")."""
    with translation.override("en"):
        values = {str(text): value for value, text in Status.choices}
    return values.get(label, label)


def record_timeline_events(events: list[TimelineEvent], *, deliver_on_commit: bool = True) -> None:
    """Record a delivery per subscribed endpoint of each saved timeline event that is a webhook
    event (created, status changed, commented). Who receives it is decided at delivery."""
    wanted = [event for event in events if event.kind in TIMELINE_EVENTS and event.pk is not None]
    if not wanted:
        return
    endpoints: dict[str, list[WebhookEndpoint]] = {}
    rows = []
    for event in wanted:
        name = TIMELINE_EVENTS[event.kind]
        if name not in endpoints:
            endpoints[name] = _subscribed(name)
        event_id = uuid.uuid4()
        data = ({"old": _status_value(event.old_value), "new": _status_value(event.new_value)}
                if event.kind == EventKind.STATUS else {})
        rows.extend(WebhookDelivery(endpoint=endpoint, event_id=event_id, event=name,
                                    incident_id=event.incident_id, data=data, created_at=event.at)
                    for endpoint in endpoints[name])
    _record(rows, deliver_on_commit)


def record_hand_over_notices(notifications: list[Notification], *, deliver_on_commit: bool = True) -> None:
    """Record "escalated or referred to us" for the receiving CERT's subscribed endpoints, from
    the hand-over's notices to that CERT (incidents.services.handover.hand_over)."""
    handed = [n for n in notifications if n.kind in HAND_OVER_KINDS and n.cert_id is not None]
    if not handed:
        return
    by_cert: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
            is_active=True, cert_id__in={n.cert_id for n in handed}).only("pk", "cert_id", "events"):
        if WebhookEvent.INCIDENT_RECEIVED in endpoint.events:
            by_cert.setdefault(endpoint.cert_id, []).append(endpoint)
    rows = []
    for notice in handed:
        event_id = uuid.uuid4()
        rows.extend(WebhookDelivery(endpoint=endpoint, event_id=event_id,
                                    event=WebhookEvent.INCIDENT_RECEIVED, incident=notice.incident,
                                    data={"how": HAND_OVER_KINDS[notice.kind]},
                                    created_at=notice.created_at)
                    for endpoint in by_cert.get(notice.cert_id, ()))
    _record(rows, deliver_on_commit)


def record_advisory_published(advisory, revision, *, at) -> None:
    """Record "advisory published" for every subscribed endpoint; which CERTs may read the
    advisory is decided at delivery (advisories.access.certs_that_may_read)."""
    event_id = uuid.uuid4()
    _record([WebhookDelivery(endpoint=endpoint, event_id=event_id,
                             event=WebhookEvent.ADVISORY_PUBLISHED, advisory=advisory,
                             data={"revision": revision.number}, created_at=at)
             for endpoint in _subscribed(WebhookEvent.ADVISORY_PUBLISHED)], True)


def enqueue_delivery() -> None:
    from django_q.tasks import async_task

    async_task(DELIVERY_TASK, task_name="deliver webhooks", group="webhooks")


# --- delivering -----------------------------------------------------------------------------------

class DeliveryError(Exception):
    """A send that did not succeed; `status` is the HTTP status when there was an answer."""

    def __init__(self, message: str, status: int | None = None, excerpt: str = ""):
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt


def _may_receive(rows: list[WebhookDelivery]) -> set[int]:
    """The ids of the rows whose endpoint's CERT may see the subject now (the e-mail rule)."""
    from advisories.access import certs_that_may_read
    from incidents.access import certs_that_may_view

    allowed: set[int] = set()
    pairs = {(row.incident_id, row.endpoint.cert_id) for row in rows if row.incident_id}
    viewing = certs_that_may_view(pairs)
    by_advisory: dict[int, list[WebhookDelivery]] = {}
    for row in rows:
        if not (row.endpoint.is_active and row.endpoint.cert.is_active):
            continue
        if row.incident_id and (row.incident_id, row.endpoint.cert_id) in viewing:
            allowed.add(row.pk)
        elif row.advisory_id:
            by_advisory.setdefault(row.advisory_id, []).append(row)
    for chosen in by_advisory.values():
        readers = certs_that_may_read(chosen[0].advisory, {row.endpoint.cert_id for row in chosen})
        allowed |= {row.pk for row in chosen if row.endpoint.cert_id in readers}
    return allowed


def payload(row: WebhookDelivery) -> dict:
    """What is sent: the event and the subject's headline, each part of it something the
    endpoint's CERT may see (checked just before). Details are read through the API."""
    body = {"id": str(row.event_id), "type": row.event, "occurred_at": row.created_at.isoformat(),
            "cert": row.endpoint.cert.slug, "data": dict(row.data)}
    if row.incident_id:
        incident = row.incident
        body["incident"] = {
            "reference": incident.reference, "title": incident.title, "tlp": incident.tlp,
            "status": incident.status, "severity": incident.severity,
            "owner_cert": incident.owner_cert.slug,
            "url": f"{base_url()}{incident.get_absolute_url()}",
        }
    else:
        advisory = row.advisory
        revision = advisory.current_revision
        body["advisory"] = {
            "reference": advisory.reference, "title": revision.title if revision else "",
            "tlp": advisory.tlp, "severity": revision.severity if revision else None,
            "author_cert": advisory.author_cert.slug,
        }
    return body


def _connection(url: str):
    """An HTTP(S) connection to the address the URL's host resolves to, checked to be allowed
    (no private or reserved network; loopback only when allowed) and then used as resolved, so
    that a name resolving differently a moment later cannot send the request elsewhere."""
    parts = urlsplit(url)
    host, https = parts.hostname, parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise DeliveryError(f"The host name {host} could not be resolved: {error}") from None
    addresses = [info[4][0] for info in infos]
    if not addresses or not all(_address_is_allowed(address) for address in addresses):
        raise DeliveryError(f"{host} resolves to an address that is not public: not sent.")
    address = addresses[0]

    class Pinned(http.client.HTTPSConnection if https else http.client.HTTPConnection):
        def connect(self):
            sock = socket.create_connection((address, port), TIMEOUT_SECONDS)
            self.sock = self._context.wrap_socket(sock, server_hostname=host) if https else sock

    if https:
        return Pinned(host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context())
    return Pinned(host, port, timeout=TIMEOUT_SECONDS)


def send(row: WebhookDelivery, *, now) -> int:
    """POST the row's event to its endpoint, signed; return the HTTP status (2xx), or raise
    DeliveryError. Redirects are not followed: a 3xx is a failure like any other answer."""
    endpoint = row.endpoint
    body = json.dumps(payload(row), separators=(",", ":"), sort_keys=True).encode()
    parts = urlsplit(endpoint.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Content-Type": "application/json", "User-Agent": "cert-portal-webhooks/1",
               SIGNATURE_HEADER: sign(endpoint.secret, body, int(now.timestamp())),
               EVENT_ID_HEADER: str(row.event_id), EVENT_TYPE_HEADER: row.event}
    connection = _connection(endpoint.url)
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_LIMIT * 2).decode("utf-8", "replace")[:EXCERPT_LIMIT]
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return response.status
    if 300 <= response.status < 400:
        raise DeliveryError(f"HTTP {response.status}: redirects are not followed; register the "
                            "final address.", response.status, excerpt)
    raise DeliveryError(f"HTTP {response.status}", response.status, excerpt)


def deliver_due(*, now=None) -> int:
    """Send every delivery that is due; return how many succeeded. Never raises for a failed
    send: the row records it and when to try again, or that it is given up."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects
               .filter(delivered_at__isnull=True, failed_at__isnull=True)
               .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
               .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - stale_claim()))
               .select_related("endpoint__cert", "incident__owner_cert",
                               "advisory__author_cert", "advisory__current_revision")
               .order_by("pk")[:BATCH])
    if not due:
        return 0
    allowed = _may_receive(due)
    # Nothing of what the CERT may not see is sent, kept or shown.
    WebhookDelivery.objects.filter(pk__in=[row.pk for row in due if row.pk not in allowed]).delete()
    delivered = 0
    for row in (row for row in due if row.pk in allowed):
        claimed = (WebhookDelivery.objects
                   .filter(pk=row.pk, delivered_at__isnull=True, failed_at__isnull=True,
                           claimed_at=row.claimed_at)
                   .update(claimed_at=now))
        if not claimed:
            continue  # another worker has it
        attempt_at = timezone.now()
        entry = {"at": attempt_at.isoformat(), "status": None, "error": "", "excerpt": ""}
        try:
            entry["status"] = send(row, now=attempt_at)
        except Exception as error:  # noqa: BLE001 - any failure is recorded and retried later
            entry.update(status=getattr(error, "status", None), error=str(error)[:500],
                         excerpt=getattr(error, "excerpt", ""))
            title = row.incident.title if row.incident_id else ""
            changes = failed_attempt(what="webhook", key=str(row.event_id), attempts=row.attempts,
                                     error=error, title=title, now=now)
            WebhookDelivery.objects.filter(pk=row.pk).update(
                attempt_log=[*row.attempt_log, entry], **changes)
            _audit_attempt(row, entry)
            continue
        WebhookDelivery.objects.filter(pk=row.pk).update(
            delivered_at=attempt_at, attempts=row.attempts + 1, claimed_at=None, last_error="",
            attempt_log=[*row.attempt_log, entry])
        _audit_attempt(row, entry)
        delivered += 1
    return delivered


def _audit_attempt(row: WebhookDelivery, entry: dict) -> None:
    """WEBHOOK_DELIVERED for one attempt: the scheduler's work, under the endpoint's CERT (no
    request even when a test runs the task inline inside one)."""
    record(AuditKind.WEBHOOK_DELIVERED, request=None, channel=Channel.TASK,
           cert=row.endpoint.cert_id, obj=row.endpoint, at=timezone.now(),
           detail={"status": entry["status"] if entry["status"] is not None else entry["error"],
                   "error": entry["error"], "attempt": row.attempts + 1, "event": row.event,
                   "event_id": str(row.event_id)})


# --- the heads' page -----------------------------------------------------------------------------

@dataclass
class DeliveryRow:
    delivery: WebhookDelivery
    # The subject's reference when the viewer may still see it; "" otherwise.
    subject: str

    @property
    def attempts(self) -> list[dict]:
        """Each attempt (time, HTTP status, error), oldest first, with its time as a datetime."""
        shown = []
        for entry in self.delivery.attempt_log:
            # The error repeats the status ("HTTP 500"): the page shows what it adds, if anything.
            detail = entry.get("error", "")
            if entry.get("status"):
                detail = detail.removeprefix(f"HTTP {entry['status']}").lstrip(": ")
            shown.append({**entry, "at": datetime.fromisoformat(entry["at"]), "detail": detail})
        return shown

    @property
    def state(self) -> str:
        if self.delivery.delivered_at:
            return "delivered"
        if self.delivery.failed_at:
            return "failed"
        return "retrying"


@dataclass
class DeliveryPage:
    rows: list[DeliveryRow]
    older_cursor: str | None = None


def delivery_page(user, endpoint: WebhookEndpoint, *, size: int = 25,
                  cursor: Cursor | None = None) -> DeliveryPage:
    """The endpoint's attempted deliveries, newest first (keyset on time and id), in three
    queries whatever the page's size. A row waiting for its first attempt is not listed: it has
    not yet been checked against what the CERT may see. A subject the viewer may no longer see
    (its label became stricter since) is not named."""
    from advisories.access import readable_advisories
    from advisories.models import Advisory
    from incidents.access import visible_incidents

    rows = WebhookDelivery.objects.filter(endpoint=endpoint, attempts__gt=0)
    if cursor is not None and cursor.direction is Direction.OLDER:
        at, pk = cursor.position.at, cursor.position.pk
        rows = rows.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    found = list(rows.order_by("-created_at", "-pk")[:size + 1])
    more = len(found) > size
    found = found[:size]
    incident_ids = {row.incident_id for row in found if row.incident_id}
    advisory_ids = {row.advisory_id for row in found if row.advisory_id}
    incidents = dict(visible_incidents(user, Incident.objects.filter(pk__in=incident_ids))
                     .values_list("pk", "reference")) if incident_ids else {}
    advisories = dict(readable_advisories(user, Advisory.objects.filter(pk__in=advisory_ids))
                      .values_list("pk", "reference")) if advisory_ids else {}
    result = [DeliveryRow(row, incidents.get(row.incident_id, "") if row.incident_id
                          else advisories.get(row.advisory_id, "")) for row in found]
    older = (encode_cursor(Direction.OLDER, Position(found[-1].created_at, found[-1].pk))
             if more else None)
    return DeliveryPage(result, older_cursor=older)


__all__ = ["DEFAULT_TOLERANCE_SECONDS", "EVENT_ID_HEADER", "SIGNATURE_HEADER", "check_url",
           "deliver_due", "delivery_page", "get_managed_endpoint", "managed_endpoints",
           "record_advisory_published", "record_hand_over_notices", "record_timeline_events",
           "sign", "verify_signature", "webhook_endpoint_create", "webhook_endpoint_delete",
           "webhook_endpoint_set_active"]
