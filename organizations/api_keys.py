"""Issuing, revoking and recognising partner API keys (DOMAIN.md §6, issue 11).

`api_key_issue` and `api_key_revoke` are the only writes (check, then write); the dashboard, the
admin and `manage.py create_api_key` call them. `key_for_secret` is what the API's
authentication asks.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cert_portal.audit.models import AuditKind
from cert_portal.audit.record import record
from incidents.text import hidden_character_message
from organizations.access import may_manage_members
from organizations.models import ApiKey, Cert, Role

# Secrets look like "cpk_<prefix>_<rest>": the prefix finds the row, the whole is hashed.
SECRET_PREFIX = "cpk_"  # nosec B105 # the public prefix of every key, not a secret
PREFIX_LENGTH = 10
MAX_EXPIRY_DAYS = 3650
# last_used_at is written at most this often per key: every request of a busy partner would
# otherwise be a write.
USE_RECORD_INTERVAL = timedelta(minutes=1)
# What each scope's service user may do, as a member's role: the access modules decide the rest.
SERVICE_ROLES = {ApiKey.Scope.READ: Role.LIAISON, ApiKey.Scope.READ_WRITE: Role.HANDLER}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_api_key_issue(*, actor, cert: Cert, name: str, scope: str,
                        expires_days: int | None) -> tuple[str, str, int | None]:
    """Raise PermissionDenied unless `actor` is a head of `cert` (None: an operator at the
    command line), ValidationError for bad fields; return (name, scope, days)."""
    if actor is not None and not may_manage_members(actor, cert):
        raise PermissionDenied(f"Only a head of {cert.short_name} issues its API keys.")
    errors = {}
    hidden = hidden_character_message(name, field=_("name"))
    name = " ".join((name or "").split())
    if hidden:
        errors["name"] = [hidden]
    elif not name:
        errors["name"] = ["Name the key after what uses it, e.g. \"SOAR at the SOC\"."]
    elif len(name) > 100:
        errors["name"] = ["At most 100 characters."]
    if scope not in ApiKey.Scope.values:
        errors["scope"] = [f"Choose a scope: {', '.join(ApiKey.Scope.values)}."]
    if expires_days is not None and not (1 <= expires_days <= MAX_EXPIRY_DAYS):
        errors["expires_days"] = [f"A key expires after 1 to {MAX_EXPIRY_DAYS} days."]
    if not cert.is_active:
        errors["cert"] = [f"{cert.name} is not active: it gets no new keys."]
    if errors:
        raise ValidationError(errors)
    return name, scope, expires_days


def api_key_issue(*, actor, cert: Cert, name: str, scope: str,
                  expires_days: int | None = 90) -> tuple[ApiKey, str]:
    """Issue a key to `cert`; return the row and the secret, which is shown once and never again."""
    name, scope, expires_days = check_api_key_issue(actor=actor, cert=cert, name=name, scope=scope,
                                                    expires_days=expires_days)
    now = timezone.now()
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = f"{SECRET_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    User = get_user_model()
    with transaction.atomic():
        user = User(username=f"api-{prefix}", first_name="API key", last_name=name[:150],
                    is_active=True, is_staff=False)
        user.set_unusable_password()
        user.save()
        key = ApiKey.objects.create(
            cert=cert, name=name, scope=scope, prefix=prefix, key_hash=_hash(secret),
            service_user=user, created_by=actor, created_at=now,
            expires_at=now + timedelta(days=expires_days) if expires_days else None)
        record(AuditKind.API_KEY_CHANGED, actor=actor, obj=key,
               detail={"action": "issue", "scope": scope, "prefix": prefix,
                       "expires_at": key.expires_at.isoformat() if key.expires_at else None})
    return key, secret


def api_key_revoke(*, actor, key: ApiKey) -> ApiKey:
    """Revoke `key` at once (a head of its CERT, or an operator: actor None)."""
    if actor is not None and not may_manage_members(actor, key.cert):
        raise PermissionDenied(f"Only a head of {key.cert.short_name} revokes its API keys.")
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor)
        # Revoking a revoked key changes nothing, and so records nothing.
        if revoked:
            record(AuditKind.API_KEY_CHANGED, actor=actor, obj=key,
                   detail={"action": "revoke", "prefix": key.prefix})
    key.refresh_from_db()
    return key


def key_for_secret(secret: str, *, now=None) -> ApiKey | None:
    """The usable key whose secret this is (revoked, expired, unknown or malformed: None), with
    its CERT and service user. Records the use at most once a minute."""
    now = now or timezone.now()
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    prefix = secret[len(SECRET_PREFIX):].split("_", 1)[0]
    key = (ApiKey.objects.select_related("cert", "service_user")
           .filter(prefix=prefix).first())
    if key is None or not secrets.compare_digest(key.key_hash, _hash(secret)):
        return None
    if not key.is_usable(now) or not key.cert.is_active or not key.service_user.is_active:
        return None
    if key.last_used_at is None or key.last_used_at <= now - USE_RECORD_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - USE_RECORD_INTERVAL)
        ).update(last_used_at=now)
    return key


def acting_user(key: ApiKey):
    """The user a request with `key` acts as: the key's service user, a member of the key's CERT
    in the role of its scope for this request only. The role is given to the access modules
    through the cache they read first (incidents.access._roles_by_group), not by a Membership row,
    so that a key is never counted, listed, assigned or e-mailed as a person of the CERT."""
    user = key.service_user
    user._cert_roles_by_group = {key.cert.group_id: SERVICE_ROLES[key.scope]}
    user.api_key = key
    return user
