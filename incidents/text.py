"""Text that goes into one line: incident titles, the names of things, and the subjects and headers
of e-mails.

A title with CR/LF from the public form once made every later staff e-mail about its incident fail
("Header values can't contain newlines") and bidi overrides can make a title read differently
from what it is (issue 7, finding 4). Titles are cleaned on input by incidents.services; e-mail
subjects are cleaned again at send time, for rows stored before that.
"""

from __future__ import annotations

import unicodedata

from django.utils.translation import gettext as _

# Bidirectional embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069): removed.
# The invisible marks U+200E/U+200F and the joiners U+200C/U+200D stay: Urdu spelling needs them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def single_line(text: str | None) -> str:
    """Return `text` as one line: bidi controls removed, line breaks, tabs and other control
    characters turned into spaces, runs of whitespace collapsed, no space at either end."""
    kept = []
    for char in text or "":
        if char in BIDI_CONTROLS:
            continue
        kept.append(" " if char.isspace() or unicodedata.category(char) == "Cc" else char)
    return " ".join("".join(kept).split())


# Refused in the names of things (issue 13, item 6): the bidi controls above, which make
# "invoice\u202egnp.exe" read as "invoiceexe.png", and the invisible characters that make two
# names that look alike differ: zero-width space, word joiner, byte order mark and the Mongolian
# vowel separator. The joiners U+200C/U+200D stay: Urdu spelling needs them.
HIDDEN_IN_NAMES = BIDI_CONTROLS | frozenset("\u200b\u2060\ufeff\u180e")


def hidden_character_message(text: str | None, *, field: str) -> str | None:
    """Return the message that asks to remove the first character of `text` that
    HIDDEN_IN_NAMES refuses, naming `field` (what the person called it, e.g. "title") and the
    character; None when there is none. The services of every channel (public form, dashboard,
    API, TAXII) ask it for the titles and names they store, before single_line would drop the
    bidi controls silently."""
    for char in text or "":
        if char in HIDDEN_IN_NAMES:
            return _("Remove the invisible %(character)s character (U+%(code)04X) from the "
                     "%(field)s.") % {"character": unicodedata.name(char).lower(),
                                      "code": ord(char), "field": field}
    return None

