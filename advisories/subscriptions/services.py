"""Every write of advisory subscriptions (issue 10, point 7): a member's choice of which advisories
reach them by e-mail, and the public's double opt-in subscription to TLP:CLEAR advisories.

Each write has its check (validation, no writes) first. Who receives an advisory is still decided
by advisories.access.distribution_recipients: a subscription only narrows what a reader gets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from advisories.models import AdvisorySeverity, MemberSubscription, PublicSubscriber
from advisories.subscriptions import tokens
from advisories.subscriptions.rules import format_product_lines, parse_product_lines
from incidents.text import single_line
from organizations.models import Sector

logger = logging.getLogger(__name__)

# One confirmation e-mail per address in this time, however often the form is sent for it (by
# anyone, from any address: the per-client rate limit alone would let many clients flood one
# mailbox).
RESEND_CONFIRMATION_AFTER = timedelta(minutes=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- members -------------------------------------------------------------------------------

def check_member_subscription(*, mode: str, min_severity: int, sector_ids, products: str) -> dict:
    """Validate a member's choices; return them in stored form (products lower-cased, one filter
    per line) or raise ValidationError({field: [message]})."""
    errors: dict[str, list[str]] = {}
    if mode not in MemberSubscription.Mode.values:
        errors["mode"] = [_("Choose one of the options.")]
    try:
        min_severity = int(min_severity)
    except (TypeError, ValueError):
        min_severity = -1
    if min_severity not in AdvisorySeverity.values:
        errors["min_severity"] = [_("Choose a severity from the list.")]
    try:
        sector_ids = sorted({int(pk) for pk in sector_ids or ()})
    except (TypeError, ValueError):
        sector_ids = None
    if sector_ids is None or Sector.objects.filter(pk__in=sector_ids).count() != len(sector_ids):
        errors["sectors"] = [_("Choose sectors from the list.")]
    try:
        filters = parse_product_lines(products or "")
    except ValidationError as error:
        errors["products"] = error.messages
        filters = []
    if errors:
        raise ValidationError(errors)
    return {"mode": mode, "min_severity": min_severity, "sector_ids": sector_ids,
            "products": format_product_lines(filters)}


def member_subscription_set(*, user, mode: str, min_severity: int, sector_ids=(),
                            products: str = "") -> MemberSubscription:
    """Save which advisories reach `user` by e-mail (one row per user, made on first save)."""
    cleaned = check_member_subscription(mode=mode, min_severity=min_severity,
                                        sector_ids=sector_ids, products=products)
    with transaction.atomic():
        subscription, _created = MemberSubscription.objects.update_or_create(
            user=user, defaults={"mode": cleaned["mode"], "min_severity": cleaned["min_severity"],
                                 "products": cleaned["products"], "updated_at": timezone.now()})
        subscription.sectors.set(cleaned["sector_ids"])
    return subscription


# --- the public ----------------------------------------------------------------------------

class SubscriptionLinkError(Exception):
    """A confirmation or unsubscribe link that cannot be used; `reason` says why:
    "invalid" (not ours, or changed), "expired" (a confirmation older than 7 days), "replaced"
    (a newer confirmation e-mail was sent, or the address unsubscribed since)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def stamp(at: datetime) -> str:
    """`at` as whole microseconds since 1970: exact, whatever the database's datetime format."""
    return str((at - _EPOCH) // timedelta(microseconds=1))


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def check_subscription_request(*, email: str, language: str, min_severity) -> dict:
    errors: dict[str, list[str]] = {}
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter an e-mail address such as name@example.com.")]
    if language not in language_codes():
        errors["language"] = [_("Choose a language from the list.")]
    try:
        min_severity = int(min_severity)
    except (TypeError, ValueError):
        min_severity = -1
    if min_severity not in AdvisorySeverity.values:
        errors["min_severity"] = [_("Choose a severity from the list.")]
    if errors:
        raise ValidationError(errors)
    return {"email": email, "language": language, "min_severity": min_severity}


def subscription_request(*, email: str, language: str, min_severity) -> PublicSubscriber:
    """Ask to receive TLP:CLEAR advisories at `email`: send a confirmation e-mail with a signed
    link, valid 7 days, that applies `language` and `min_severity` when followed (double opt-in).

    Nothing is sent to the address before the link is followed, and nothing about the address's
    current subscription changes before that either: a stranger who types someone's address only
    makes them one confirmation e-mail (at most one per 10 minutes). The caller answers the same
    whether or not the address was known, so the form tells nobody who subscribed. An address
    that unsubscribed starts again with a new confirmation."""
    cleaned = check_subscription_request(email=email, language=language, min_severity=min_severity)
    now = timezone.now()
    with transaction.atomic():
        subscriber, _created = PublicSubscriber.objects.get_or_create(
            email=cleaned["email"], defaults={"language": cleaned["language"],
                                              "min_severity": cleaned["min_severity"],
                                              "created_at": now})
        earlier = subscriber.confirmation_sent_at
        if earlier is not None and now - earlier < RESEND_CONFIRMATION_AFTER:
            return subscriber
        # Conditional, so that two requests at once send one e-mail.
        if not PublicSubscriber.objects.filter(pk=subscriber.pk,
                                               confirmation_sent_at=earlier).update(
                confirmation_sent_at=now):
            return subscriber
        subscriber.confirmation_sent_at = now
        token = tokens.confirmation_token(public_id=subscriber.public_id,
                                          language=cleaned["language"],
                                          min_severity=cleaned["min_severity"], sent_at=stamp(now))
        transaction.on_commit(lambda: send_confirmation(subscriber, token=token,
                                                        language=cleaned["language"],
                                                        min_severity=cleaned["min_severity"]))
    return subscriber


def portal_url(path: str) -> str:
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def send_confirmation(subscriber: PublicSubscriber, *, token: str, language: str,
                      min_severity: int) -> bool:
    """Send the confirmation e-mail, in the language asked for. A failed send is logged and
    forgotten (confirmation_sent_at cleared), so that the person can ask again at once."""
    with translation.override(language):
        context = {
            "confirm_url": portal_url(reverse("advisory_subscriptions:confirm", args=[token])),
            "subscribe_url": portal_url(reverse("advisory_subscriptions:subscribe")),
            "severity": AdvisorySeverity(min_severity).label,
            "days": tokens.CONFIRMATION_VALID_FOR.days,
            "portal": settings.PORTAL_NAME,
        }
        subject = _("Confirm your subscription to the advisories of %(portal)s") % context
        body = render_to_string("advisories/mail/subscription_confirm.txt", context)
    message = EmailMessage(single_line(subject), body, None, [subscriber.email],
                           headers={"Auto-Submitted": "auto-generated"})
    try:
        message.send()
    except Exception:  # noqa: BLE001 - the page already answered; the person may ask again
        logger.exception("the confirmation e-mail of subscriber %s could not be sent",
                         subscriber.public_id)
        PublicSubscriber.objects.filter(
            pk=subscriber.pk, confirmation_sent_at=subscriber.confirmation_sent_at,
        ).update(confirmation_sent_at=None)
        return False
    return True


@dataclass(frozen=True)
class PendingConfirmation:
    subscriber: PublicSubscriber
    language: str
    min_severity: int

    @property
    def language_name(self) -> str:
        return dict(settings.LANGUAGES).get(self.language, self.language)

    @property
    def min_severity_label(self) -> str:
        return AdvisorySeverity(self.min_severity).label


def check_subscription_confirm(*, token: str) -> PendingConfirmation:
    """What the confirmation link asks; SubscriptionLinkError when it cannot be used. Only the
    link of the latest confirmation e-mail works, and none after an unsubscription: an old
    link found in a mailbox does not subscribe anybody again."""
    try:
        asked = tokens.read_confirmation_token(token)
    except tokens.ExpiredLink:
        raise SubscriptionLinkError("expired") from None
    except tokens.BadLink:
        raise SubscriptionLinkError("invalid") from None
    subscriber = PublicSubscriber.objects.filter(public_id=asked.public_id).first()
    if (subscriber is None or subscriber.confirmation_sent_at is None
            or stamp(subscriber.confirmation_sent_at) != asked.sent_at):
        raise SubscriptionLinkError("replaced")
    language = asked.language if asked.language in language_codes() else settings.LANGUAGE_CODE
    severity = (asked.min_severity if asked.min_severity in AdvisorySeverity.values
                else AdvisorySeverity.INFORMATIONAL)
    return PendingConfirmation(subscriber, language, severity)


def subscription_confirm(*, token: str) -> PublicSubscriber:
    """Follow a confirmation link: the address receives TLP:CLEAR advisories from now on, in the
    language and from the severity it asked for. Following it again changes nothing."""
    pending = check_subscription_confirm(token=token)
    subscriber = pending.subscriber
    now = timezone.now()
    PublicSubscriber.objects.filter(pk=subscriber.pk).update(
        confirmed_at=subscriber.confirmed_at if subscriber.is_active else now,
        unsubscribed_at=None, language=pending.language, min_severity=pending.min_severity)
    subscriber.refresh_from_db()
    return subscriber


def check_unsubscribe(*, token: str) -> PublicSubscriber | None:
    """The subscription an unsubscribe link names (None when it is gone); SubscriptionLinkError
    for a link that is not ours. The link itself is the proof: it never expires."""
    try:
        public_id = tokens.read_unsubscribe_token(token)
    except tokens.BadLink:
        raise SubscriptionLinkError("invalid") from None
    return PublicSubscriber.objects.filter(public_id=public_id).first()


def subscription_unsubscribe(*, token: str) -> PublicSubscriber | None:
    """Stop every e-mail to the address the link names, at once: pending deliveries are checked
    again before they are sent (advisories.distribution). Earlier confirmation links stop working
    too. Unsubscribing twice changes nothing."""
    subscriber = check_unsubscribe(token=token)
    if subscriber is None:
        return None
    PublicSubscriber.objects.filter(pk=subscriber.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=timezone.now(), confirmation_sent_at=None)
    subscriber.refresh_from_db()
    return subscriber


def unsubscribe_url(subscriber: PublicSubscriber) -> str:
    """The one-click unsubscribe address of every message to `subscriber` (RFC 8058)."""
    return portal_url(reverse("advisory_subscriptions:unsubscribe",
                              args=[tokens.unsubscribe_token(subscriber.public_id)]))
