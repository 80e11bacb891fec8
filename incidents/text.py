"""Text that goes into one line: incident titles, and the subjects and headers of e-mails.

A title with CR/LF from the public form once made every later staff e-mail about its incident fail
("Header values can't contain newlines") and bidi overrides can make a title read differently
from what it is (issue 7, finding 4). Titles are cleaned on input by incidents.services; e-mail
subjects are cleaned again at send time, for rows stored before that.
"""

from __future__ import annotations

import unicodedata

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
