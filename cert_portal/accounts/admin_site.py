"""The Django admin behind the same two factors as the dashboard (issue 9, item 1).

The admin keeps no sign-in form of its own: its login page sends to /login/ (password, then the
authenticator), and a session that has not passed the second factor has no admin permission, even
for a superuser.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers


def _verified(request) -> bool:
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


class TwoFactorAdminSite(admin.AdminSite):
    def has_permission(self, request):
        return super().has_permission(request) and _verified(request)

    def login(self, request, extra_context=None):
        """Not a form: /login/ signs in, then comes back here."""
        index = reverse("admin:index", current_app=self.name)
        if self.has_permission(request):
            return HttpResponseRedirect(index)
        if request.user.is_authenticated and _verified(request):
            # Signed in with both factors, but not as staff: sending them to sign in again would
            # come straight back here.
            response = render(request, "accounts/admin_refused.html", status=403)
            add_never_cache_headers(response)
            return response
        return redirect_to_login(request.GET.get(REDIRECT_FIELD_NAME) or index, settings.LOGIN_URL)

    def logout(self, request, extra_context=None):
        from cert_portal.accounts.views import logout

        return logout(request)
