"""Serving a stored file (an attachment, a report PDF) as a download that no browser renders
(issue 13): whatever it holds, a malware sample or a page of HTML, it is saved, never shown."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from urllib.parse import quote

from django.http import FileResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from incidents.files import display_name

logger = logging.getLogger(__name__)

# What a quoted-string in a header may hold as it is (RFC 9110 §5.6.4), less `"`, `\` (which it
# could hold escaped) and `%` (which some clients percent-decode in filename=).
_PLAIN_FILENAME = re.compile(r"[ \x21\x23-\x24\x26-\x5b\x5d-\x7e]+")


def content_disposition(filename: str) -> str:
    """`attachment` with the file name as RFC 6266 gives it: filename="..." when the (cleaned)
    name is plain ASCII; else an ASCII stand-in in filename= for old clients and the real name,
    UTF-8 and percent-encoded, in filename*= (RFC 8187), which every current browser prefers."""
    name = display_name(filename)
    if _PLAIN_FILENAME.fullmatch(name):
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{_ascii_stand_in(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def _ascii_stand_in(name: str) -> str:
    # Letters with accents lose them; anything else that is not plain becomes "_". A name of
    # another script (Urdu) keeps only its extension, so it gets a readable stem instead.
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    folded = "".join(ch if _PLAIN_FILENAME.fullmatch(ch) else "_" for ch in folded)
    stem, dot, extension = folded.rpartition(".")
    if not dot:
        stem, extension = folded, ""
    if not any(ch.isalnum() for ch in stem):
        stem = "download"
    return stem + (f".{extension}" if extension else "")


def file_download(data: bytes, filename: str) -> FileResponse:
    """`data` as a download: application/octet-stream, always `Content-Disposition: attachment`
    with a safe name, nosniff, a sandboxing Content-Security-Policy (should a browser open it
    after all) and `Cache-Control: no-store`."""
    # From memory: the file was decrypted whole (cert_portal/encryption.py says why that is fine).
    response = FileResponse(io.BytesIO(data), content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition(filename)
    response["X-Content-Type-Options"] = "nosniff"
    # Set here, django-csp's middleware leaves it as it is.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    add_never_cache_headers(response)
    return response


def unreadable_file(request, *, what: str, name: str, error: Exception):
    """The page for a stored file that cannot be served: missing from storage, or no key of
    ATTACHMENT_ENCRYPTION_KEYS decrypts it. Logged as an error for the administrators; the
    member is told it is not their doing. 503: the portal cannot serve it now, and it can again
    once an administrator restores the file or the key (a 4xx would blame the request)."""
    logger.error("%s %s cannot be served: %s", what, name, error)
    response = render(request, "dashboard/file_unreadable.html", {}, status=503)
    add_never_cache_headers(response)
    return response
