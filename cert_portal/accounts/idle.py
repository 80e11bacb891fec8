"""Sign staff out after STAFF_IDLE_MINUTES without a request (issue 9, item 1), and
SESSION_MAX_HOURS after signing in however active they are (issue 13, ASVS 5.0 V7.3.2).

A dashboard left open on an unattended desk must not stay signed in overnight. The time of the
last request is kept in the session, written at most once a minute, so that an active member costs
one session write a minute rather than one a request. Visitors without a signed-in session (the
public reporting an incident or following a report) are not touched: their requests read no
session here at all when they carry no session cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext

LAST_ACTIVITY_SESSION_KEY = "staff_last_activity"
SIGNED_IN_SESSION_KEY = "staff_signed_in_at"
# How stale the stored time may get before it is written again.
WRITE_EVERY_SECONDS = 60


def mark_active(request) -> None:
    """Record a request now, and the sign-in now (sign-in calls it, so that a new session starts
    both clocks)."""
    now = timezone.now().timestamp()
    request.session[LAST_ACTIVITY_SESSION_KEY] = now
    request.session[SIGNED_IN_SESSION_KEY] = now


class IdleTimeoutMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware: ends a signed-in session that saw no
    request for STAFF_IDLE_MINUTES, or that began more than SESSION_MAX_HOURS ago, and sends the
    member to sign in again, back to this page. The session row's own expiry cannot bound the
    lifetime: every write of the last activity pushes it SESSION_COOKIE_AGE further."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SESSION_COOKIE_NAME in request.COOKIES and auth.SESSION_KEY in request.session:
            now = timezone.now().timestamp()
            last = request.session.get(LAST_ACTIVITY_SESSION_KEY)
            idle_seconds = settings.STAFF_IDLE_MINUTES * 60
            if isinstance(last, int | float) and now - last > idle_seconds:
                return self._sign_out(request)
            signed_in = request.session.get(SIGNED_IN_SESSION_KEY)
            if isinstance(signed_in, int | float) and now - signed_in > settings.SESSION_COOKIE_AGE:
                return self._sign_out(request, reason="lifetime")
            if not isinstance(signed_in, int | float):
                # A session signed in without mark_active (before issue 13, or force_login in
                # a test): its lifetime counts from now.
                request.session[SIGNED_IN_SESSION_KEY] = now
            if not isinstance(last, int | float) or now - last >= WRITE_EVERY_SECONDS:
                request.session[LAST_ACTIVITY_SESSION_KEY] = now
        return self.get_response(request)

    def _sign_out(self, request, reason: str = "idle"):
        request.sign_out_reason = reason  # for the audit trail's SIGN_OUT event
        auth.logout(request)
        if reason == "lifetime":
            hours = settings.SESSION_MAX_HOURS
            messages.info(request, ngettext(
                "You were signed out %(hours)d hour after signing in. Sign in again to continue.",
                "You were signed out %(hours)d hours after signing in. Sign in again to continue.",
                hours) % {"hours": hours})
        else:
            minutes = settings.STAFF_IDLE_MINUTES
            messages.info(request, ngettext(
                "You were signed out after %(minutes)d minute without activity. Sign in again to "
                "continue.",
                "You were signed out after %(minutes)d minutes without activity. Sign in again to "
                "continue.", minutes) % {"minutes": minutes})
        target = _return_to(request)
        login = redirect_to_login(target, settings.LOGIN_URL)
        if request.headers.get("HX-Request"):
            # An htmx request would swap the sign-in page into a fragment: ask for a full load.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = login["Location"]
            return response
        return login


def _return_to(request) -> str:
    """Where to come back to after signing in again: this page for a GET, the page the form was
    on for anything else (a form's target may answer only POST)."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()},
                                                   require_https=request.is_secure()):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return resolve_url(settings.LOGIN_REDIRECT_URL)
