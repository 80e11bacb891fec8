"""A "try again" answer instead of a server error when the database or the file store fails
(issue 13, item 4).

When the database goes away (restarted, failed over, the network cut: OperationalError or
InterfaceError) or the attachment store cannot write (disk full, I/O error, read-only: OSError
with ENOSPC, EDQUOT, EIO or EROFS while handling a write), the view's exception reaches
`process_exception` here and the visitor gets 503 with Retry-After: a page in their language
that says whether what they sent was stored and to send it again in a few minutes, or for the
API a problem document. The services write in one transaction and delete the files they stored
when it fails (incidents.public.reports.submit_report, incidents.services.contributions.
incident_attach), so a failed write leaves nothing behind, and sending the same report form
again is safe: its submission key gives back the first report if that one was stored after all.

The page is rendered without the request's context processors, which read the session and the
signed-in user from the database that just failed. Errors outside a view (a session saved after
the view answered) still get the 500 page, which also says to try again. Each failure is logged
at ERROR with its traceback: administrators see it wherever the logs go.
"""

from __future__ import annotations

import errno
import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# "A few minutes", as the page says: clients and proxies that honour Retry-After wait this long.
RETRY_AFTER_SECONDS = 120
# The errors of a file store that cannot write now but may later; other OSErrors (a missing
# file, a permission denied by a wrong deployment) stay server errors.
STORE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def failed_part(request, exception: Exception) -> str | None:
    """"database" or "store" if `exception` is a failure this middleware answers; else None."""
    if isinstance(exception, OperationalError | InterfaceError):
        return "database"
    if (isinstance(exception, OSError) and exception.errno in STORE_ERRNOS
            and request.method in WRITE_METHODS):
        return "store"
    return None


class UnavailableMiddleware:
    """After every middleware that handles exceptions, so that its process_exception is the first
    to see a view's error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        part = failed_part(request, exception)
        if part is None:
            return None
        logger.error("%s %s: the %s failed, answered 503", request.method, request.path, part,
                     exc_info=exception)
        sent = request.method in WRITE_METHODS
        if request.path.startswith("/api/"):
            from cert_portal.api.problems import problem

            return problem(503, _api_detail(part, sent=sent),
                           headers={"Retry-After": str(RETRY_AFTER_SECONDS),
                                    "Cache-Control": "no-store"})
        html = render_to_string("503.html", {"part": part, "sent": sent,
                                             "PORTAL_NAME": settings.PORTAL_NAME})
        response = HttpResponse(html, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response


def _api_detail(part: str, *, sent: bool) -> str:
    # The API speaks English only (issue 11), like its other problem documents.
    cause = ("The portal's database is not reachable right now." if part == "database"
             else "The portal's file store cannot save files right now.")
    if not sent:
        return f"{cause} Try again in a few minutes."
    return f"{cause} Nothing of this request was stored: send it again in a few minutes."

