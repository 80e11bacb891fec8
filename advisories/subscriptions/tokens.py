"""The signed links of public subscriptions (django.core.signing): confirm and unsubscribe.

Nothing secret is stored: a link is the subscriber's public id (and, to confirm, the settings
asked for and when the confirmation was sent) signed with SECRET_KEY under a salt of its own, so
a confirmation link cannot be used to unsubscribe, nor the reverse, and a leaked database lets
nobody make either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core import signing

CONFIRM_SALT = "advisories.subscription.confirm"
UNSUBSCRIBE_SALT = "advisories.subscription.unsubscribe"
# How long a confirmation link works (issue 10: double opt-in, a link valid 7 days).
CONFIRMATION_VALID_FOR = timedelta(days=7)

# Both raise signing.BadSignature (SignatureExpired is one) for a link that is not ours.
BadLink = signing.BadSignature
ExpiredLink = signing.SignatureExpired


@dataclass(frozen=True)
class ConfirmationRequest:
    """What a confirmation link asks for: these settings, for this subscriber, as requested by the
    confirmation e-mail sent at `sent_at` (an ISO timestamp; only the latest one is honoured)."""

    public_id: uuid.UUID
    language: str
    min_severity: int
    sent_at: str


def confirmation_token(*, public_id: uuid.UUID, language: str, min_severity: int,
                       sent_at: str) -> str:
    return signing.dumps({"id": str(public_id), "lang": language, "sev": int(min_severity),
                          "at": sent_at}, salt=CONFIRM_SALT, compress=True)


def read_confirmation_token(token: str) -> ConfirmationRequest:
    """Raise BadLink for a tampered link, ExpiredLink for one older than 7 days."""
    data = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRMATION_VALID_FOR)
    try:
        return ConfirmationRequest(public_id=uuid.UUID(data["id"]), language=str(data["lang"]),
                                   min_severity=int(data["sev"]), sent_at=str(data["at"]))
    except (KeyError, TypeError, ValueError):
        # Signed by us but not in this shape (an older format): as good as no link.
        raise BadLink("The link does not say what to confirm.") from None


def unsubscribe_token(public_id: uuid.UUID) -> str:
    """A link that never expires: an e-mail read a year later must still stop the next one."""
    return signing.dumps(str(public_id), salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> uuid.UUID:
    """Raise BadLink for a link that is not ours."""
    value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadLink("The link does not name a subscription.") from None
