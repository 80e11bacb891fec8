"""Members' secret feed addresses (issue 10, point 4): make, replace, revoke, and look one up.

RSS readers cannot sign in with two factors, so a member's feed is reached by a secret in its
address. Only the token's SHA-256 is stored (FeedToken.token_hash); the token itself is returned
once, to be shown once. A member has at most one live token: making one revokes the others. The
feed shows what the member may read at the moment it is fetched (advisories.access), so a token
is refused outright once its owner is inactive or no longer a member of an active CERT.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from advisories import access
from advisories.models import FeedToken

# A feed reader polls every few minutes: recording each fetch would be a write per poll.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def live_feed_token(user) -> FeedToken | None:
    """The member's live (not revoked) token row, if any."""
    return FeedToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-pk").first()


def feed_token_create(*, actor) -> str:
    """Make a new secret feed token for `actor`, revoke any earlier one, and return the token
    (the only time it exists outside the caller's hands: it is not stored). The user's row is
    locked so that two requests at once leave one live token, not two."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=actor.pk).first()
        FeedToken.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=now)
        FeedToken.objects.create(user=actor, token_hash=hash_token(token), created_at=now)
    return token


def feed_token_revoke(*, actor) -> int:
    """Revoke `actor`'s live token(s); return how many were live (0 when none was)."""
    return FeedToken.objects.filter(user=actor, revoked_at__isnull=True).update(revoked_at=timezone.now())


def feed_token_user(token: str):
    """The user whose live token `token` is, if they are active and a member of an active CERT
    now; None otherwise (unknown, revoked, or a member who left). Records the use, at most once a
    minute, with a conditional UPDATE (two polls at once write once)."""
    if not token or len(token) > 200:
        return None
    row = (FeedToken.objects.select_related("user")
           .filter(token_hash=hash_token(token), revoked_at__isnull=True).first())
    if row is None or not access.is_member(row.user):
        return None
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if row.last_used_at is None or row.last_used_at <= stale:
        (FeedToken.objects.filter(pk=row.pk)
         .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale))
         .update(last_used_at=now))
    return row.user
