"""Staff sign-in throttle (issue 7, finding 7), by django-axes.

After AXES_FAILURE_LIMIT wrong passwords for one account from one client address (an IPv6 client
by its /64, behind our proxies as cert_portal.ratelimit reads it), that account is locked for that
address for AXES_COOLOFF_MINUTES, the right password included. Locking the pair rather than the
account alone keeps an attacker elsewhere from locking a night-shift handler out of the portal
during an incident; locking the pair rather than the address alone keeps one office's typing
errors from locking out everyone behind the same NAT. A portal administrator can lift a lock in
the admin (Axes: access attempts) or with `manage.py axes_reset_username USERNAME`.

A few guesses for each of many accounts (password spraying) never reach the per-account limit,
so failed sign-ins are also counted per address, at the rate SIGNIN_FAILURE_RATE_LIMIT (by
django-ratelimit, like the public forms); past it, that address gets the same lock-out page until
the window ends.
"""

from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from cert_portal import ratelimit

_ADDRESS_FAILURES = {"scope": "signin-failures", "setting": "SIGNIN_FAILURE_RATE_LIMIT"}


class SignInThrottleBackend(AxesStandaloneBackend):
    """django-axes' backend, for sign-ins that come with a request.

    Without a request there is no client to lock out: every sign-in through the web carries one
    (the admin's login form passes it), while management commands and tests call authenticate()
    without, which django-axes would refuse with an error.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        address = ratelimit.peek(request, **_ADDRESS_FAILURES)
        if not address.allowed:
            # AxesMiddleware answers with the lock-out page when this flag is set.
            request.axes_locked_out = True
            request.signin_retry_after = address.retry_after
            request.signin_refused_locked = True
            raise AxesBackendPermissionDenied("Too many failed sign-ins from this address.")
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            # Refused without looking at the password: the audit trail says "locked out".
            request.signin_refused_locked = True
            raise


# Connected when this module is imported, which authenticate() does (to load the backends) before
# it can report a failure.
@receiver(user_login_failed, dispatch_uid="cert_portal.signin.count_address_failure")
def count_address_failure(sender, credentials, request=None, **kwargs):
    """Count a failed sign-in against the address it came from."""
    if request is not None:
        ratelimit.count(request, **_ADDRESS_FAILURES)


def lockout_response(request, original_response=None, credentials=None):
    """The lock-out page (AXES_LOCKOUT_CALLABLE): 429, when to try again, whom to ask."""
    seconds = getattr(request, "signin_retry_after", None)
    whole_address = seconds is not None
    if not whole_address:
        cool_off = get_cool_off(request)
        seconds = int(cool_off.total_seconds()) if cool_off else 0
    response = render(request, "signin_locked.html",
                      {"retry_after_minutes": max(1, math.ceil(seconds / 60)),
                       "whole_address": whole_address}, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    add_never_cache_headers(response)
    return response
