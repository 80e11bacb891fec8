"""Text that cannot be text, refused before a view sees it (issue 13, item 6).

Two kinds of input reach views as strings that look valid and are not:
- NUL characters (U+0000, "%00" in an address or a form). PostgreSQL refuses them in every text
  value, so a NUL in an incident reference in the address, a search box or a field a view reads
  without a form (the queue's saved filters) made a query fail with a 500 there, and on SQLite
  was stored as it came.
- Bytes that are not UTF-8 ("%FF" in an address, a form sent in another encoding). Django decodes
  them with a replacement character (U+FFFD) and would store that in place of what was typed.

InputChecksMiddleware answers both with 400 and a message naming the parameter or field, in the
visitor's language, and stores nothing: a page for people, a problem document under /api/ and
/taxii2/. JSON bodies are the API's parsers' business (invalid UTF-8: 400; NUL in a string: the
serializers' "Null characters are not allowed"). It sits after RequestLimitsMiddleware, which has
parsed a posted form by then, and before CsrfViewMiddleware.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_to_bytes

from django.shortcuts import render
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

NUL = "\x00"
REPLACEMENT = "\ufffd"
_MULTIPART = "multipart/form-data"
_URLENCODED = "application/x-www-form-urlencoded"


def _not_utf8(raw: str | bytes) -> list[str]:
    """The names of the parameters of a query string or urlencoded body whose name or value is
    not UTF-8 once percent-decoded ("+" is a space)."""
    if isinstance(raw, str):
        raw = raw.encode("latin-1")  # WSGI hands the query string over as bytes in a str
    names = []
    for pair in raw.split(b"&"):
        name, _sep, value = pair.partition(b"=")
        name, value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in (name, value))
        try:
            name.decode()
            value.decode()
        except UnicodeDecodeError:
            names.append(name.decode(errors="replace"))
    return names


def _with_nul(data) -> list[str]:
    return [name for name, values in data.lists()
            if NUL in name or any(NUL in value for value in values)]


def _first_problem(request) -> tuple[str | None, str] | None:
    """(the parameter or field at fault, or None for the address itself; the message), or None
    when the request holds neither a NUL nor bytes that are not UTF-8."""
    if NUL in request.path_info:
        return None, _("The address contains a NUL character (U+0000), which no address of the "
                       "portal has: remove it.")
    bad = _not_utf8(request.META.get("QUERY_STRING", ""))
    if bad:
        return bad[0], _("The address parameter “%(name)s” is not valid UTF-8 text: correct the "
                         "address.") % {"name": bad[0]}
    bad = _with_nul(request.GET)
    if bad:
        return bad[0], _("The address parameter “%(name)s” contains a NUL character (U+0000): "
                         "remove it.") % {"name": bad[0]}
    if request.method != "POST":
        return None
    content_type = request.content_type or ""
    if content_type == _URLENCODED:
        bad = _not_utf8(request.body)
    elif content_type == _MULTIPART:
        # The parts were decoded already, bad bytes replaced: a replacement character is all
        # that is left of them.
        bad = [name for name, values in request.POST.lists()
               if REPLACEMENT in name or any(REPLACEMENT in value for value in values)]
    else:
        return None
    if bad:
        return bad[0], _("The field “%(name)s” is not valid UTF-8 text (the form was sent in "
                         "another encoding, or with damaged characters): type it "
                         "again.") % {"name": bad[0]}
    bad = _with_nul(request.POST)
    if bad:
        return bad[0], _("The field “%(name)s” contains a NUL character, which text cannot "
                         "hold: remove it.") % {"name": bad[0]}
    return None


class InputChecksMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        found = _first_problem(request)
        if found is None:
            return None
        field, reason = found
        logger.info("Refused malformed input to %s: %s", request.path, reason)
        if request.path.startswith("/taxii2/"):
            from cert_portal.taxii.views import taxii_error

            return taxii_error(400, "Bad request", str(reason))
        if request.path.startswith("/api/"):
            from cert_portal.api.problems import problem

            return problem(400, str(reason), errors={field: [str(reason)]} if field else None)
        return render(request, "400.html", {"reason": reason}, status=400)
