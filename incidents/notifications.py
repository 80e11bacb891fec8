"""Delivery of the notification outbox (incidents.models.Notification) by e-mail and in-app.

Services record notifications in their transaction; after commit one django-q2 task delivers
every pending row, and a schedule runs the same task every minute for rows whose next attempt
is due. A row is claimed with a conditional UPDATE before sending and marked sent after, so a
task delivered twice, or two workers at once, send each e-mail once.

Who receives a row is decided here, at delivery, by incidents.access.message_recipients from the
grants of that moment. Every staff recipient gets an in-app notice (an InboxItem, written before
the e-mail is tried, so a mail relay that is down delays no notice); the e-mail goes to those of
them with an address who did not mute the kind (issue 9). A send that fails is tried again after
1, 2, 4, ... minutes, up to NOTIFICATION_MAX_ATTEMPTS times in all, then the row is marked failed
with its last error and shown to administrators. The task itself never raises for a failed send:
the outbox, not django-q2's retry of failed tasks, owns the retry schedule (issue 7, finding 4: a
row that could never be sent was retried on every run for ever).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cert_portal.pagination import Cursor, Direction, Position, encode_cursor
from incidents.access import Recipient, email_addresses, message_recipients, visible_incidents
from incidents.models import InboxItem, Incident, Notification, TimelineEvent
from incidents.reporter_token import derive_token
from incidents.text import single_line

logger = logging.getLogger(__name__)

DELIVERY_TASK = "incidents.tasks.deliver_notifications"
# What a row's last error may hold; longer errors are cut.
ERROR_LIMIT = 2000


def enqueue_delivery() -> None:
    from django_q.tasks import async_task

    async_task(DELIVERY_TASK, task_name="deliver incident notifications", group="notifications")


def stale_claim() -> timedelta:
    """How old a claim must be to belong to a worker that died mid-send, so that the row is tried
    again (settings.OUTBOX_STALE_CLAIM_SECONDS, above the task timeout). Shared by every outbox."""
    return timedelta(seconds=settings.OUTBOX_STALE_CLAIM_SECONDS)


def max_attempts() -> int:
    return getattr(settings, "NOTIFICATION_MAX_ATTEMPTS", 5)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 1, 2, 4, 8 ... minutes."""
    base = getattr(settings, "NOTIFICATION_RETRY_DELAY_SECONDS", 60)
    return timedelta(seconds=base * 2 ** (attempts - 1))


def deliver_pending(*, now=None) -> int:
    """Send every notification that is due; return how many were sent. Never raises for a failed
    send: the row records the failure and when to try again (or that it failed for good)."""
    now = now or timezone.now()
    due = list(Notification.objects
               .filter(sent_at__isnull=True, failed_at__isnull=True)
               .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
               .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - stale_claim()))
               .select_related("incident", "incident__owner_cert")
               .order_by("pk"))
    if not due:
        return 0
    chosen = message_recipients(due)
    write_inbox(due, chosen)
    events = watched_events(due)
    sent = 0
    for notification, recipients in zip(due, chosen, strict=True):
        claimed = (Notification.objects
                   .filter(pk=notification.pk, sent_at__isnull=True, failed_at__isnull=True,
                           claimed_at=notification.claimed_at)
                   .update(claimed_at=now))
        if not claimed:
            continue  # another worker has it
        try:
            if recipients is None:
                raise LookupError(f"incidents.access has no rule for {notification.kind!r}")
            addresses = email_addresses(recipients)
            _send(notification, addresses, event=events.get(notification.pk))
        except Exception as error:  # noqa: BLE001 - any failure is recorded and retried later
            _record_failure(notification, error, now)
            continue
        Notification.objects.filter(pk=notification.pk).update(
            sent_at=timezone.now(), recipients=", ".join(addresses),
            attempts=notification.attempts + 1, last_error="")
        sent += 1
    return sent


def write_inbox(notifications: list[Notification],
                recipients: list[list[Recipient] | None]) -> None:
    """Write the in-app notice of each staff recipient of each notification, in one INSERT for
    all of them. Delivery can repeat (a retry after a failed e-mail, two workers at once): a
    notice already written is the same notice."""
    InboxItem.objects.bulk_create([
        InboxItem(user_id=recipient.user_id, notification=notification,
                  created_at=notification.created_at)
        for notification, chosen in zip(notifications, recipients, strict=True)
        for recipient in chosen or () if recipient.user_id is not None
    ], ignore_conflicts=True)


def write_pending_notices() -> int:
    """Write the in-app notices of every notification not yet delivered, without sending its
    e-mail (delivery still does that, and finds the notices there already); return how many
    notices were new. For the demo loader: unread notices from the first sign-in, without
    printing every demo e-mail into the output of `make run`."""
    pending = list(Notification.objects.filter(sent_at__isnull=True, failed_at__isnull=True)
                   .select_related("incident").order_by("pk"))
    if not pending:
        return 0
    before = InboxItem.objects.count()
    write_inbox(pending, message_recipients(pending))
    return InboxItem.objects.count() - before


WATCH_KEY_PREFIX = "watch:"


def watched_event_id(notification: Notification) -> int | None:
    """The timeline event a WATCHED_ACTIVITY notification reports (its key is "watch:<event id>")."""
    if notification.kind != Notification.Kind.WATCHED_ACTIVITY:
        return None
    _, _, event_id = notification.key.partition(WATCH_KEY_PREFIX)
    return int(event_id) if event_id.isdigit() else None


def watched_events(notifications) -> dict[int, TimelineEvent]:
    """{notification id: the event it reports} for the WATCHED_ACTIVITY ones, in one query (none
    when there are none)."""
    event_ids = {notification.pk: watched_event_id(notification) for notification in notifications}
    event_ids = {pk: event_id for pk, event_id in event_ids.items() if event_id is not None}
    if not event_ids:
        return {}
    events = TimelineEvent.objects.select_related("actor").in_bulk(set(event_ids.values()))
    return {pk: events[event_id] for pk, event_id in event_ids.items() if event_id in events}



def _record_failure(notification: Notification, error: Exception, now) -> None:
    changes = failed_attempt(what="notification", key=notification.key,
                             attempts=notification.attempts, error=error,
                             title=notification.incident.title, now=now)
    Notification.objects.filter(pk=notification.pk).update(**changes)


def failed_attempt(*, what: str, key: str, attempts: int, error: Exception, title: str, now) -> dict:
    """The changes to an outbox row after a failed send (attempt number `attempts` + 1): the
    error, and when to try again, or that it is given up after the last allowed attempt. Logs
    it. Shared by every outbox (incident notifications, advisory e-mails)."""
    attempts += 1
    # The error may quote the subject; administrators see errors, and the title is not theirs to
    # read (DOMAIN.md §1: superusers are no backdoor into incidents or advisories).
    text = f"{type(error).__name__}: {error}"
    for secret in {title, single_line(title)} - {""}:
        text = text.replace(secret, "[title]")
    changes = {"attempts": attempts, "claimed_at": None, "last_error": text[:ERROR_LIMIT]}
    if attempts >= max_attempts():
        changes["failed_at"] = now
        logger.error("%s %s failed %d times and is given up: %s", what, key, attempts,
                     changes["last_error"])
    else:
        changes["next_attempt_at"] = now + retry_delay(attempts)
        logger.warning("%s %s failed (attempt %d of %d), next at %s: %s", what, key, attempts,
                       max_attempts(), changes["next_attempt_at"], changes["last_error"])
    return changes


def base_url() -> str:
    return settings.PORTAL_BASE_URL.rstrip("/")


def _send(notification: Notification, recipients: list[str], *, event=None) -> None:
    if not recipients:
        logger.info("notification %s has nobody to go to now", notification.key)
        return
    incident = notification.incident
    if notification.kind == Notification.Kind.REPORT_CONFIRMATION:
        subject, body = _report_confirmation(incident)
    elif notification.kind == Notification.Kind.REPORTER_REPLY:
        subject, body = _reporter_reply(incident)
    else:
        subject, body = _staff_message(notification, event)
    # Headers must be one line whatever was stored (rows from before titles were cleaned).
    send_mail(single_line(subject)[:250], body, None, recipients)


def describe_event(event: TimelineEvent) -> str:
    """What happened, in one line: "Status changed: new -> acknowledged, by Ayesha Khan"."""
    change = " -> ".join(value for value in (event.old_value, event.new_value) if value)
    who = ((event.actor.get_full_name() or event.actor.get_username()) if event.actor
           else "the system")
    text = event.get_kind_display() + (f": {change}" if change else "")
    return single_line(f"{text}, by {who}")


def _staff_message(notification: Notification, event: TimelineEvent | None = None) -> tuple[str, str]:
    incident = notification.incident
    title = single_line(incident.title)
    subject = (f"[{incident.tlp}] {incident.reference} "
               f"{notification.get_kind_display().lower()}: {title}")
    happened = []
    if notification.kind == Notification.Kind.WATCHED_ACTIVITY:
        happened = [f"What happened: {describe_event(event)}" if event is not None
                    else "What happened: see the incident's timeline"]
        if event is not None and event.reason:
            happened.append(f"Reason: {single_line(event.reason)[:200]}")
    body = "\n".join([
        f"{incident.tlp} — handle according to the Traffic Light Protocol 2.0.",
        "",
        f"{notification.get_kind_display()}: {incident.reference}",
        *happened,
        f"Title: {title}",
        f"Owner: {incident.owner_cert.name}",
        f"Status: {incident.get_status_display()}",
        f"Severity: {incident.get_severity_display()}",
        f"Acknowledge by: {timezone.localtime(incident.ack_due_at):%Y-%m-%d %H:%M %Z}",
        f"Resolve by: {timezone.localtime(incident.resolve_due_at):%Y-%m-%d %H:%M %Z}",
        "",
        f"Open it: {base_url()}{incident.get_absolute_url()}",
    ])
    return subject, body


def _reporter_language(incident) -> str:
    # Checked against settings.LANGUAGES when the report was made; rows from before that field
    # existed have none.
    return incident.reporter_language or settings.LANGUAGE_CODE


def _report_confirmation(incident) -> tuple[str, str]:
    """The reporter's receipt, in the language they reported in, with the token they need."""
    with translation.override(_reporter_language(incident)):
        values = {"reference": incident.reference, "token": derive_token(incident),
                  "url": f"{base_url()}{reverse('incidents_public:status')}"}
        subject = _("Your incident report %(reference)s was received") % values
        body = "\n".join([
            _("Thank you. Your report was received by the national CERT network."),
            "",
            _("Tracking reference: %(reference)s") % values,
            _("Secret token: %(token)s") % values,
            "",
            _("Keep both: with them you can see what happens to your report and add "
              "information at %(url)s") % values,
            _("Do not share the token: anyone who has it can read the replies to your report."),
            "",
            _("If you did not send this report, ignore this e-mail."),
        ])
    return subject, body


def _reporter_reply(incident) -> tuple[str, str]:
    """Tell the reporter a CERT wrote to them, and where to read it. Neither the message nor the
    token is in the e-mail: whoever reads the mailbox should not read the report with it."""
    with translation.override(_reporter_language(incident)):
        values = {"reference": incident.reference,
                  "url": f"{base_url()}{reverse('incidents_public:status')}"}
        subject = _("New message about your report %(reference)s") % values
        body = "\n".join([
            _("A CERT has written a new message about your report %(reference)s.") % values,
            "",
            _("To read it, open %(url)s and enter your tracking reference and the secret token "
              "you received when you sent the report.") % values,
            _("For your safety this e-mail contains neither the message nor the token."),
            "",
            _("If you did not send this report, ignore this e-mail."),
        ])
    return subject, body


# --- Reading the in-app notices (issue 9: the inbox) ----------------------------------------------


@dataclass
class Notice:
    """One in-app notice as the inbox shows it. `incident` is None when the member may no longer
    see the incident (its label became stricter, say): then nothing about it may be shown."""

    item: InboxItem
    kind: str
    incident: Incident | None
    event: TimelineEvent | None = None

    @property
    def is_unread(self) -> bool:
        return self.item.read_at is None


@dataclass
class NoticePage:
    notices: list[Notice]
    older_cursor: str | None = None
    newer_cursor: str | None = None


def inbox_page(user, *, size: int, cursor: Cursor | None = None) -> NoticePage:
    """A page of `user`'s notices, newest first, after `cursor` (keyset pagination on the time
    and id of the notice), in four queries whatever the page's size: the notices with their
    incidents, which of those incidents the user may see now (incidents.access), and the events
    of the notices about watched activity (when there are any)."""
    items = InboxItem.objects.filter(user=user).select_related("notification__incident")
    newer = cursor is not None and cursor.direction is Direction.NEWER
    if cursor is not None:
        at, pk = cursor.position.at, cursor.position.pk
        beyond = (Q(created_at__gt=at) | Q(created_at=at, pk__gt=pk) if newer
                  else Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
        items = items.filter(beyond)
    order = ("created_at", "pk") if newer else ("-created_at", "-pk")
    rows = list(items.order_by(*order)[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if newer:
        rows.reverse()
    if not rows:
        return NoticePage([])
    notifications = [item.notification for item in rows]
    visible = set(visible_incidents(user, Incident.objects.filter(
        pk__in={notification.incident_id for notification in notifications}))
        .values_list("pk", flat=True))
    events = watched_events([n for n in notifications if n.incident_id in visible])
    notices = [Notice(item=item, kind=item.notification.kind,
                      incident=(item.notification.incident
                                if item.notification.incident_id in visible else None),
                      event=events.get(item.notification_id))
               for item in rows]
    first = Position(rows[0].created_at, rows[0].pk)
    last = Position(rows[-1].created_at, rows[-1].pk)
    has_older = more if not newer else True
    has_newer = more if newer else cursor is not None
    return NoticePage(notices,
                      older_cursor=encode_cursor(Direction.OLDER, last) if has_older else None,
                      newer_cursor=encode_cursor(Direction.NEWER, first) if has_newer else None)
