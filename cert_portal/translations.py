"""Compile gettext catalogues (.po) to the binary form (.mo) Django loads, in pure Python.

`make run` has to work on a machine without GNU gettext, so the portal does not depend on
`msgfmt`: the .mo files are committed, and this module rebuilds them from the .po files. It writes
the format described in the GNU gettext manual, "The Format of GNU MO Files": little-endian, no
hash table (the table is optional; Python's gettext, and so Django, never reads it).
"""

import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

MO_MAGIC = 0x950412DE
_HEADER_SIZE = 7 * 4
# msgctxt and msgid are stored as one key, joined by EOT, as GNU gettext and Python's pgettext expect.
CONTEXT_SEPARATOR = "\x04"

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}
_ESCAPE_RE = re.compile(r'\\(?:([0-7]{1,3})|x([0-9A-Fa-f]+)|(.))')
_KEYWORD_RE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')
_CHARSET_RE = re.compile(r"^Content-Type:.*charset=([^\s;]+)", re.MULTILINE | re.IGNORECASE)


class PoSyntaxError(ValueError):
    """The .po text is not a catalogue msgfmt would accept."""

    def __init__(self, message: str, line: int):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass
class _Entry:
    line: int
    fuzzy: bool = False
    msgctxt: str | None = None
    msgid: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)


def _unquote(quoted: str, line: int) -> str:
    if len(quoted) < 2 or not (quoted.startswith('"') and quoted.endswith('"')):
        raise PoSyntaxError(f"expected a quoted string, got {quoted!r}", line)
    body = quoted[1:-1]
    if re.search(r'(?<!\\)(?:\\\\)*"', body):
        raise PoSyntaxError("unescaped double quote inside a string", line)

    def replace(match: re.Match) -> str:
        octal, hexa, char = match.groups()
        if octal:
            return chr(int(octal, 8))
        if hexa:
            return chr(int(hexa, 16))
        if char in _ESCAPES:
            return _ESCAPES[char]
        raise PoSyntaxError(f"unknown escape sequence \\{char}", line)

    return _ESCAPE_RE.sub(replace, body)


def parse_po(po_text: str) -> list[_Entry]:
    """Return the active entries of a .po text, fuzzy ones included and marked; raise PoSyntaxError."""
    entries: list[_Entry] = []
    entry: _Entry | None = None
    # The field the next continuation line ("...") appends to: (name, plural index or None).
    current: tuple[str, int | None] | None = None
    flags_for_next = False

    def finish():
        nonlocal entry
        if entry is not None:
            if entry.msgid is None:
                raise PoSyntaxError("entry without msgid", entry.line)
            if not entry.msgstr:
                raise PoSyntaxError("entry without msgstr", entry.line)
            if entry.msgid_plural is None and set(entry.msgstr) != {0}:
                raise PoSyntaxError("msgstr[N] without msgid_plural", entry.line)
            if entry.msgid_plural is not None and sorted(entry.msgstr) != list(range(len(entry.msgstr))):
                raise PoSyntaxError("plural forms must be msgstr[0], msgstr[1], ...", entry.line)
            entries.append(entry)
        entry = None

    for number, raw in enumerate(po_text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#~"):
            continue  # an obsolete entry: kept in the .po for translators, never compiled
        if line.startswith("#"):
            if entry is not None and entry.msgstr:
                finish()
                current = None
            if line.startswith("#,"):
                flags = {flag.strip() for flag in line[2:].split(",")}
                flags_for_next = flags_for_next or "fuzzy" in flags
            continue
        if line.startswith('"'):
            if entry is None or current is None:
                raise PoSyntaxError("string continuation outside an entry", number)
            name, index = current
            text = _unquote(line, number)
            if name == "msgstr":
                entry.msgstr[index] += text
            else:
                setattr(entry, name, getattr(entry, name) + text)
            continue
        match = _KEYWORD_RE.match(line)
        if not match:
            raise PoSyntaxError(f"cannot parse {line!r}", number)
        keyword, index, quoted = match.groups()
        text = _unquote(quoted, number)
        # A new entry starts at msgctxt, or at msgid unless a msgctxt of the same entry came just before.
        starts_entry = keyword == "msgctxt" or (
            keyword == "msgid" and (entry is None or entry.msgid is not None or entry.msgstr))
        if starts_entry:
            finish()
            entry = _Entry(line=number, fuzzy=flags_for_next)
            flags_for_next = False
        if entry is None:
            raise PoSyntaxError(f"{keyword} before msgid", number)
        if keyword.startswith("msgstr"):
            position = 0 if index is None else int(index)
            if index is None and entry.msgid_plural is not None:
                raise PoSyntaxError("plural entry needs msgstr[N]", number)
            if position in entry.msgstr:
                raise PoSyntaxError(f"duplicate {keyword}", number)
            entry.msgstr[position] = text
            current = ("msgstr", position)
        else:
            if getattr(entry, keyword) is not None or entry.msgstr:
                raise PoSyntaxError(f"unexpected {keyword}", number)
            setattr(entry, keyword, text)
            current = (keyword, None)
    finish()
    return entries


def compile_po(po_text: str) -> bytes:
    """Return the GNU .mo bytes of a UTF-8 .po text, as `msgfmt` would compile it.

    Fuzzy and untranslated entries are left out, except the header entry (msgid ""), which Django
    needs for its Plural-Forms. Keys are sorted by their UTF-8 bytes, as the format requires.
    """
    messages: dict[bytes, bytes] = {}
    for entry in parse_po(po_text):
        is_header = entry.msgid == "" and entry.msgctxt is None
        if is_header:
            charset = _CHARSET_RE.search(entry.msgstr[0])
            if charset and charset.group(1).lower().replace("_", "-") not in ("utf-8", "charset"):
                raise PoSyntaxError(f"only UTF-8 catalogues are supported, not {charset.group(1)}",
                                    entry.line)
        if entry.fuzzy and not is_header:
            continue
        forms = [entry.msgstr[index] for index in sorted(entry.msgstr)]
        if not is_header and not any(forms):
            continue  # untranslated: gettext falls back to the msgid
        key = entry.msgid if entry.msgid_plural is None else f"{entry.msgid}\x00{entry.msgid_plural}"
        if entry.msgctxt is not None:
            key = f"{entry.msgctxt}{CONTEXT_SEPARATOR}{key}"
        key_bytes = key.encode("utf-8")
        if key_bytes in messages:
            raise PoSyntaxError("duplicate message definition", entry.line)
        messages[key_bytes] = "\x00".join(forms).encode("utf-8")

    keys = sorted(messages)
    count = len(keys)
    originals_offset = _HEADER_SIZE
    translations_offset = originals_offset + 8 * count
    strings_offset = translations_offset + 8 * count
    originals_table, translations_table, strings = [], [], bytearray()
    for table, values in ((originals_table, keys), (translations_table, [messages[k] for k in keys])):
        for value in values:
            table.append((len(value), strings_offset + len(strings)))
            strings += value + b"\x00"
    header = struct.pack("<7I", MO_MAGIC, 0, count, originals_offset, translations_offset, 0,
                         strings_offset)
    tables = b"".join(struct.pack("<2I", *pair) for pair in originals_table + translations_table)
    return header + tables + bytes(strings)


def po_files(locale_dir: Path | str) -> list[Path]:
    """Return the catalogues under a locale directory (<lang>/LC_MESSAGES/<domain>.po), sorted."""
    return sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po"))


def stale_mo_files(locale_dir: Path | str) -> list[Path]:
    """Return the .mo files that are missing or differ from what their .po compiles to.

    Contents are compared, not modification times: a git checkout sets every mtime to its own time.
    """
    stale = []
    for po_path in po_files(locale_dir):
        mo_path = po_path.with_suffix(".mo")
        expected = compile_po(po_path.read_text(encoding="utf-8"))
        if not mo_path.exists() or mo_path.read_bytes() != expected:
            stale.append(mo_path)
    return stale


def compile_all(locale_dir: Path | str) -> list[Path]:
    """Compile every .po under locale_dir to a .mo beside it; return the .mo files written.

    A .mo that is already up to date is not rewritten. The new file replaces the old one in a
    single rename, so that a running server never reads a half-written catalogue.
    """
    written = []
    for po_path in po_files(locale_dir):
        mo_path = po_path.with_suffix(".mo")
        compiled = compile_po(po_path.read_text(encoding="utf-8"))
        if mo_path.exists() and mo_path.read_bytes() == compiled:
            continue
        partial = mo_path.with_name(f".{mo_path.name}.tmp")
        partial.write_bytes(compiled)
        os.replace(partial, mo_path)
        written.append(mo_path)
    return written
