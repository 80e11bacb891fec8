"""The public reporter's secret token (DOMAIN.md §4): derived, never stored.

The token is an HMAC of the server secret and the incident's own salt, so the confirmation e-mail
can be written after commit without the token ever sitting in the database, the queue or the
session; only its SHA-256 is stored to check it. A module of its own because both the public
reporting services and the notification outbox need it, and neither may import the other.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def derive_token(incident) -> str:
    """The reporter's token for `incident` (needs its public_id and reporter_token_salt)."""
    mac = hmac.new(settings.SECRET_KEY.encode(),
                   f"report-token:{incident.public_id}:{incident.reporter_token_salt}".encode(),
                   hashlib.sha256)
    return mac.hexdigest()[:32]
