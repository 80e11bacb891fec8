"""What a request body may be, answered before anything reads it (issue 7, findings 6 and 9).

RequestLimitsMiddleware refuses a body over settings.REQUEST_MAX_BYTES with 413 and a page that
says what the maximum is: from Content-Length, before a byte is read; a body without a length
(chunked) is read up to the maximum and no further. It also turns the bodies Django refuses to
parse (DATA_UPLOAD_MAX_MEMORY_SIZE, DATA_UPLOAD_MAX_NUMBER_FIELDS, DATA_UPLOAD_MAX_NUMBER_FILES)
into a 400 page that says what to fix instead of a bare "Bad Request (400)".

It sits after LocaleMiddleware, so its pages speak the visitor's language, and before
CsrfViewMiddleware, whose process_view is the first thing that reads a posted body. Under ASGI
Django reads the whole body before any middleware runs: serve the portal with a WSGI server.
"""

from __future__ import annotations

import logging
import os
import tempfile

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.handlers.wsgi import LimitedStream
from django.shortcuts import render
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024


def _size_text(size: int) -> str:
    # Imported here: the public reporting package owns how sizes are written for people, and the
    # middleware is loaded before the apps' URL modules.
    from incidents.public.reports import size_text

    return size_text(size)


class RequestLimitsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.REQUEST_MAX_BYTES
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.strip():
            try:
                too_large = int(length) > limit
            except ValueError:
                too_large = False  # Django reads such a body as empty
            if too_large:
                return self._too_large(request, limit)
        elif self._has_unsized_body(request):
            if not self._take_unsized_body(request, limit):
                return self._too_large(request, limit)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST":
            return None
        try:
            request.POST  # noqa: B018 (parse now, while the answer can still explain)
            request.FILES  # noqa: B018
        except TooManyFilesSent:
            reason = _("You sent more files than the form takes: send at most %(count)d files.") % {
                "count": settings.PUBLIC_REPORT_MAX_FILES}
        except TooManyFieldsSent:
            reason = _("The form had more fields than it can take.")
        except RequestDataTooBig:
            reason = _("A text you entered is too long. Shorten it, or put long lists in a plain "
                       "text file and attach that.")
        else:
            return None
        logger.info("Refused a form post to %s that Django could not parse: %s", request.path, reason)
        if request.path.startswith("/api/"):
            from cert_portal.api.problems import problem

            return problem(400, str(reason))
        return render(request, "400.html", {"reason": reason}, status=400)

    @staticmethod
    def _has_unsized_body(request) -> bool:
        return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()

    @staticmethod
    def _take_unsized_body(request, limit: int) -> bool:
        """Read a body of unknown length up to `limit` bytes into a spooled file and let Django
        read it from there; False, having read at most `limit` + one chunk, when it is longer."""
        source = request.META["wsgi.input"]
        spooled = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
        size = 0
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                spooled.close()
                return False
            spooled.write(chunk)
        spooled.seek(0)
        # Django's WSGIRequest took the length from CONTENT_LENGTH (none: an empty body); give it
        # the body we read and its length.
        request.META["CONTENT_LENGTH"] = str(size)
        request._stream = LimitedStream(spooled, size)
        return True

    @staticmethod
    def _too_large(request, limit: int):
        logger.info("Refused a request body over %d bytes to %s.", limit, request.path)
        if request.path.startswith("/api/"):
            # The API answers every error as a problem document (issue 11), this one too.
            from cert_portal.api.problems import problem

            return problem(413, f"The request body is larger than the {_size_text(limit)} the "
                                "portal accepts: send less, or a smaller file.")
        # No "Connection: close" here: WSGI forbids hop-by-hop headers from the application; the
        # server decides what to do with the rest of the body.
        return render(request, "413.html", {"max_size": _size_text(limit)}, status=413)


class ShortNameTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's handler for uploads over FILE_UPLOAD_MAX_MEMORY_SIZE, with the temporary file
    named after at most the last 16 characters of the upload's extension: a longer one made the
    temporary name too long for the file system, and the post a 500 (finding 9 of issue 7).
    The uploaded name itself is cleaned and shortened where it is stored."""

    def new_file(self, *args, **kwargs):
        super(TemporaryFileUploadHandler, self).new_file(*args, **kwargs)
        stem, extension = os.path.splitext(self.file_name or "")
        safe_name = stem[:100] + extension[:16]
        self.file = TemporaryUploadedFile(safe_name, self.content_type, 0, self.charset,
                                          self.content_type_extra)
        # Keep what the sender called it: shown to staff after cleaning (incidents.public.reports).
        self.file.name = self.file_name
