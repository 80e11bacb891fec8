"""Recognising what a file is from its first bytes, not from its name, and making the name a
client gave it safe to show."""

import unicodedata

# (magic prefix, content type). Office Open XML and OpenDocument files are ZIP archives.
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"MZ", "application/x-msdownload"),
    (b"\x7fELF", "application/x-executable"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
]


def sniff_content_type(head: bytes) -> str:
    """Return the content type that the first bytes of a file show, or
    application/octet-stream when they show none. Text is UTF-8 without NUL bytes."""
    for magic, content_type in _SIGNATURES:
        if head.startswith(magic):
            return content_type
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" not in head:
        try:
            # The head may end inside a multi-byte character: ignore a broken tail.
            head.decode("utf-8") if len(head) < 2048 else head[:-4].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
        return "text/plain"
    return "application/octet-stream"


# A name longer than this is cut, keeping its extension: 120 characters stay under the 255 bytes
# that file systems allow a name even in a script of two bytes a character (Urdu in UTF-8).
NAME_MAX_CHARS = 120
_EXTENSION_MAX_CHARS = 16
_UNNAMED = "attachment"


def display_name(name: str | bytes | None) -> str:
    """The name a client gave a file, made safe to keep, show and offer as a download name.

    Only its last path part counts (after / or \\); it is NFC-normalised; control characters
    (NUL, CR, LF, ...), format characters (bidi overrides such as U+202E, zero-width
    characters), line and paragraph separators and broken surrogates (from a name that was not
    UTF-8) are dropped; so are leading dots and trailing dots and spaces. A name longer than
    NAME_MAX_CHARS is cut, keeping its extension; a name with nothing left is "attachment".
    It is never used on disk (incidents.models.attachment_path), and templates escape it.
    """
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name
                   if unicodedata.category(ch)[0] != "C" and unicodedata.category(ch) not in {"Zl", "Zp"})
    name = unicodedata.normalize("NFC", name).strip().lstrip(".").rstrip(". ")
    if len(name) > NAME_MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= _EXTENSION_MAX_CHARS and " " not in extension:
            name = stem[:NAME_MAX_CHARS - len(extension) - 1].rstrip(". ") + "." + extension
        else:
            name = name[:NAME_MAX_CHARS].rstrip(". ")
    return name or _UNNAMED
