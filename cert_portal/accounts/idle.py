"""Sign staff out after STAFF_IDLE_MINUTES without a request (issue 9, item 1).

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
# How stale the stored time may get before it is written again.
WRITE_EVERY_SECONDS = 60


def mark_active(request) -> None:
    """Record a request now (sign-in calls it, so that a new session starts its clock)."""
    request.session[LAST_ACTIVITY_SESSION_KEY] = timezone.now().timestamp()


class IdleTimeoutMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware: ends a signed-in session that saw no
    request for STAFF_IDLE_MINUTES and sends the member to sign in again, back to this page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SESSION_COOKIE_NAME in request.COOKIES and auth.SESSION_KEY in request.session:
            now = timezone.now().timestamp()
            last = request.session.get(LAST_ACTIVITY_SESSION_KEY)
            idle_seconds = settings.STAFF_IDLE_MINUTES * 60
            if isinstance(last, int | float) and now - last > idle_seconds:
                return self._sign_out(request)
            if not isinstance(last, int | float) or now - last >= WRITE_EVERY_SECONDS:
                request.session[LAST_ACTIVITY_SESSION_KEY] = now
        return self.get_response(request)

    def _sign_out(self, request):
        auth.logout(request)
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
