"""Delivery of the notification outbox (incidents.models.Notification) by e-mail.

Services record notifications in their transaction; after commit one django-q2 task delivers
every pending row. A row is claimed with a conditional UPDATE before sending and marked sent
after, so a task delivered twice, or two workers at once, send each e-mail once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from incidents.models import Notification
from incidents.reporter_token import derive_token
from organizations.models import Membership

logger = logging.getLogger(__name__)

DELIVERY_TASK = "incidents.tasks.deliver_notifications"
# A claim older than this belongs to a worker that died mid-send: the row is tried again.
STALE_CLAIM = timedelta(minutes=10)


def enqueue_delivery() -> None:
    from django_q.tasks import async_task

    async_task(DELIVERY_TASK, task_name="deliver incident notifications", group="notifications")


def deliver_pending(*, now=None) -> int:
    """Send every pending notification; return how many were sent. Raises after trying all
    when any failed, so that the task is retried for those."""
    now = now or timezone.now()
    pending = (Notification.objects
               .filter(sent_at__isnull=True)
               .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM))
               .select_related("incident", "incident__owner_cert", "cert", "user")
               .order_by("pk"))
    sent, failures = 0, []
    for notification in pending:
        claimed = (Notification.objects
                   .filter(pk=notification.pk, sent_at__isnull=True,
                           claimed_at=notification.claimed_at)
                   .update(claimed_at=now))
        if not claimed:
            continue  # another worker has it
        try:
            recipients = _send(notification)
        except Exception as error:  # noqa: BLE001 - any mail failure is retried later
            Notification.objects.filter(pk=notification.pk).update(claimed_at=None)
            failures.append(f"{notification.key}: {error}")
            continue
        Notification.objects.filter(pk=notification.pk).update(
            sent_at=timezone.now(), recipients=", ".join(recipients))
        sent += 1
    if failures:
        raise RuntimeError("Some notifications could not be sent and will be retried: "
                           + "; ".join(failures))
    return sent


def recipients_for(notification: Notification) -> list[str]:
    if notification.kind == Notification.Kind.REPORT_CONFIRMATION:
        email = notification.incident.reporter_email
        return [email] if email else []
    if notification.user_id is not None:
        user = notification.user
        return [user.email] if user.is_active and user.email else []
    roles = [role for role in notification.roles.split(",") if role]
    return sorted(set(Membership.objects
                      .filter(cert_id=notification.cert_id, role__in=roles, user__is_active=True)
                      .exclude(user__email="")
                      .values_list("user__email", flat=True)))


def _send(notification: Notification) -> list[str]:
    recipients = recipients_for(notification)
    if not recipients:
        logger.warning("notification %s has no recipient with an e-mail address", notification.key)
        return []
    incident = notification.incident
    if notification.kind == Notification.Kind.REPORT_CONFIRMATION:
        subject, body = _report_confirmation(incident)
        send_mail(subject, body, None, recipients)
        return recipients
    subject = (f"[{incident.tlp}] {incident.reference} {notification.get_kind_display().lower()}: "
               f"{incident.title}")[:250]
    base = getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    body = "\n".join([
        f"{incident.tlp} — handle according to the Traffic Light Protocol 2.0.",
        "",
        f"{notification.get_kind_display()}: {incident.reference}",
        f"Title: {incident.title}",
        f"Owner: {incident.owner_cert.name}",
        f"Status: {incident.get_status_display()}",
        f"Severity: {incident.get_severity_display()}",
        f"Acknowledge by: {timezone.localtime(incident.ack_due_at):%Y-%m-%d %H:%M %Z}",
        f"Resolve by: {timezone.localtime(incident.resolve_due_at):%Y-%m-%d %H:%M %Z}",
        "",
        f"Open it: {base}{incident.get_absolute_url()}",
    ])
    send_mail(subject, body, None, recipients)
    return recipients


def _report_confirmation(incident) -> tuple[str, str]:
    """The reporter's receipt, in the language they reported in would be better; English and
    Urdu side by side until reports remember their language."""
    base = getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    token = derive_token(incident)
    subject = f"Your incident report {incident.reference} was received"
    body = "\n".join([
        "Thank you. Your report was received by the national CERT network.",
        "آپ کی رپورٹ موصول ہو گئی ہے۔",
        "",
        f"Tracking reference: {incident.reference}",
        f"Secret token: {token}",
        "",
        "Keep both: with them you can see what happens to your report and add information at",
        f"{base}/report/status/",
        "Do not share the token: anyone who has it can read the replies to your report.",
        "",
        "If you did not send this report, ignore this e-mail.",
    ])
    return subject, body
