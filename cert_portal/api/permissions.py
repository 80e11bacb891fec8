"""Who may call the API at all (issue 11); what they may see and do is decided by the access
modules, as for the dashboard."""

from __future__ import annotations

from rest_framework import permissions

from cert_portal.api.authentication import request_api_key
from organizations.models import ApiKey


class IsMemberOrKey(permissions.BasePermission):
    """A valid API key, or a signed-in member verified with both factors (the browsable API).
    A read key may only read."""

    message = "Sign in (both factors) or send an API key."

    def has_permission(self, request, view) -> bool:
        key = request_api_key(request)
        if key is not None:
            if request.method not in permissions.SAFE_METHODS and key.scope != ApiKey.Scope.READ_WRITE:
                self.message = "This API key may only read: ask a head of your CERT for a read-write key."
                return False
            return True
        user = request.user
        if not (user and user.is_authenticated):
            return False
        from cert_portal.staff import is_two_factor_verified

        if not is_two_factor_verified(request._request):
            self.message = "Complete the second sign-in factor first."
            return False
        return True
