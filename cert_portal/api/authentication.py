"""API keys as DRF authentication (issue 11): `Authorization: Bearer cpk_...`.

A request with a key acts as the key's CERT through its service user
(organizations.api_keys.acting_user). A wrong, revoked or expired key is refused with 401 and
the same message, so that a caller learns nothing about which keys exist. Every request a key
authenticates is an API_KEY_USED event of the audit trail, recorded when it is authenticated (so
that a request that fails later, even with a 500, is still on the trail; the status is therefore
not in it).
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from cert_portal.audit.models import AuditKind
from cert_portal.audit.record import record
from organizations.api_keys import acting_user, key_for_secret


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as \"Authorization: Bearer <key>\", with one space and no quotes.")
        key = key_for_secret(header[1])
        if key is None:
            raise exceptions.AuthenticationFailed(
                "This API key is not valid: it is unknown, revoked or expired. Ask a head of your "
                "CERT for a new one.")
        user = acting_user(key)
        record(AuditKind.API_KEY_USED, request=request, actor=user, obj=key,
               detail={"method": request.method, "path": request.path[:300]})
        return user, key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return f'{self.keyword} realm="api"'


def request_api_key(request):
    """The ApiKey of the request, or None for a signed-in member (session)."""
    auth = getattr(request, "auth", None)
    from organizations.models import ApiKey

    return auth if isinstance(auth, ApiKey) else None
