"""Recognising what a file is from its first bytes, not from its name."""

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
