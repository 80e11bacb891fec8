"""Rate limits per API key (and per member for the browsable API), issue 11."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from cert_portal.api.authentication import request_api_key


class PerKeyThrottle(SimpleRateThrottle):
    """settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"] per key, or per member."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = request_api_key(request)
        if key is not None:
            ident = f"key-{key.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
