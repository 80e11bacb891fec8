"""Compile gettext catalogues (.po) to the binary form (.mo) Django loads, with polib.

`make run` has to work on a machine without GNU gettext, so the portal does not depend on
`msgfmt`: the .mo files are committed, and `manage.py compile_translations` rebuilds them with polib,
a pure-Python library. Fuzzy, untranslated and obsolete entries are left out, as msgfmt leaves them;
the header stays, fuzzy or not, since Django needs its Plural-Forms.

A .mo is up to date when Python's gettext, which is what Django reads it with, reads the same
catalogue from it as from what its .po compiles to: the same messages and the same headers. Bytes
are not compared, so that another byte layout (another polib release, GNU msgfmt) of the same
catalogue is not reported as stale.
"""

from __future__ import annotations

import gettext
import io
import os
import struct
from pathlib import Path

import polib

# What Python's gettext raises for a catalogue it cannot read (bad magic number, truncated tables,
# unknown charset, a Plural-Forms expression it refuses).
_UNREADABLE = (OSError, ValueError, LookupError, SyntaxError, struct.error, IndexError)


class CatalogueError(ValueError):
    """A .po file that cannot be compiled; the message names the file, and the line if there is one."""


def read_po(po_path: Path) -> polib.POFile:
    """Parse a .po file; raise CatalogueError for what msgfmt would refuse to compile.

    polib accepts a duplicate message, and a plural message without msgstr[N], without a word; both
    would compile to a catalogue that silently answers the wrong text, so they are refused here.
    """
    try:
        catalogue = polib.pofile(str(po_path))
    except (OSError, ValueError) as error:  # polib: "Syntax error in po file <path> (line N)"
        raise CatalogueError(str(error)) from None
    first_line: dict[tuple[str | None, str], int] = {}
    for entry in catalogue:
        if entry.obsolete:
            continue
        # The line where the entry starts (its first comment, if any); polib numbers the first
        # entry of a file 0.
        line = entry.linenum or 1
        where = f"{po_path}, line {line}"
        key = (entry.msgctxt, entry.msgid)
        if key in first_line:
            raise CatalogueError(f"{where}: the message {entry.msgid!r} is defined twice (first at "
                                 f"line {first_line[key]}).")
        first_line[key] = line
        if entry.msgid_plural and not entry.msgstr_plural:
            raise CatalogueError(f"{where}: the plural message {entry.msgid!r} needs msgstr[0], "
                                 f"msgstr[1], ... instead of msgstr.")
    return catalogue


def compile_po(po_path: Path) -> bytes:
    """Return the .mo bytes of a .po file; raise CatalogueError if it is broken, or if Python's
    gettext, and so Django, could not read what it compiles to (an unknown charset or a broken
    Plural-Forms expression in the header)."""
    mo = read_po(po_path).to_binary()
    try:
        _as_read(mo)
    except _UNREADABLE as error:
        raise CatalogueError(f"{po_path}: Django could not load the compiled catalogue: "
                             f"{error}") from None
    return mo


def _as_read(mo: bytes) -> tuple[dict, dict]:
    """(messages, headers) of a compiled catalogue as Python's gettext reads them."""
    translations = gettext.GNUTranslations(io.BytesIO(mo))
    # _catalog is what gettext and Django answer from; the header text is left out of it and
    # compared as parsed headers, so that their order does not count.
    messages = {key: text for key, text in translations._catalog.items() if key != ""}
    return messages, translations.info()


def _is_up_to_date(mo_path: Path, compiled: bytes) -> bool:
    if not mo_path.exists():
        return False
    try:
        current = _as_read(mo_path.read_bytes())
    except _UNREADABLE:
        return False  # not a catalogue at all
    return current == _as_read(compiled)


def po_files(locale_dir: Path | str) -> list[Path]:
    """Return the catalogues under a locale directory (<lang>/LC_MESSAGES/<domain>.po), sorted."""
    return sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po"))


def stale_mo_files(locale_dir: Path | str) -> list[Path]:
    """Return the .mo files that are missing or hold another catalogue than their .po compiles to.

    Contents are compared, not modification times: a git checkout sets every mtime to its own time.
    """
    return [po_path.with_suffix(".mo") for po_path in po_files(locale_dir)
            if not _is_up_to_date(po_path.with_suffix(".mo"), compile_po(po_path))]


def compile_all(locale_dir: Path | str) -> list[Path]:
    """Compile every .po under locale_dir to a .mo beside it; return the .mo files written.

    Every .po is compiled before any .mo is written, so that a broken one leaves all as they were.
    A .mo that is already up to date is not rewritten. The new file replaces the old one in a
    single rename, so that a running server never reads a half-written catalogue.
    """
    compiled = {po_path.with_suffix(".mo"): compile_po(po_path) for po_path in po_files(locale_dir)}
    written = []
    for mo_path, mo in compiled.items():
        if _is_up_to_date(mo_path, mo):
            continue
        partial = mo_path.with_name(f".{mo_path.name}.tmp")
        partial.write_bytes(mo)
        os.replace(partial, mo_path)
        written.append(mo_path)
    return written
