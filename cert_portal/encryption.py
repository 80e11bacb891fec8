"""Encryption at rest of the files the portal keeps (issue 13): incident attachments and the
monthly report PDFs, which carry malware samples, leaked data and incident figures.

Fernet from cryptography (AES-128-CBC with an HMAC-SHA256 over the whole token), through
MultiFernet over settings.ATTACHMENT_ENCRYPTION_KEYS: the first key encrypts, every key decrypts.
A key is rotated by putting a new one first, running `manage.py rotate_attachment_keys` (which
re-encrypts every file under the first key), then removing the old one (see .env.example).

Fernet works on whole messages in memory: a file is read, encrypted or decrypted, and written at
once. That is acceptable because what is encrypted is bounded: an attachment is at most
INCIDENT_ATTACHMENT_MAX_BYTES (10 MiB by default; PUBLIC_REPORT_MAX_FILE_BYTES for the public),
and a report PDF is far smaller, so a file costs a few times its size in memory while it is
handled (the plaintext, the ciphertext and its base64 token).

This module is imported by the settings to read the keys, so it imports nothing of Django that
needs configured settings at import time.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

SETTING = "ATTACHMENT_ENCRYPTION_KEYS"
MAKE_A_KEY = ("python3 -c 'import base64, os; "
              "print(base64.urlsafe_b64encode(os.urandom(32)).decode())'")
# HKDF's "info": binds the development key to this one use of SECRET_KEY.
_DEVELOPMENT_KEY_INFO = b"cert-portal attachment encryption, development only"


class UndecryptableFile(Exception):
    """A stored file that no key of ATTACHMENT_ENCRYPTION_KEYS decrypts (a key was removed too
    early, the wrong keys are configured, or the file was altered)."""

    def __init__(self, name: str = ""):
        self.name = name
        super().__init__(f"No key in {SETTING} decrypts the stored file {name or '(unnamed)'}.")


def parse_keys(value: str) -> list[str]:
    """The Fernet keys of a comma-separated `value`, in order; ImproperlyConfigured naming the
    setting and the position of a malformed key (never the key itself, which is a secret)."""
    keys = [item.strip() for item in value.split(",") if item.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError, binascii.Error):
            raise ImproperlyConfigured(
                f"{SETTING}: key {position} of {len(keys)} is not a Fernet key (32 random bytes, "
                f"url-safe base64, 44 characters ending in '='). Make one with: {MAKE_A_KEY}"
            ) from None
    return keys


def development_key(secret_key: str) -> str:
    """A Fernet key derived from `secret_key` with HKDF-SHA256, for a developer's machine only:
    files encrypted with it are lost if SECRET_KEY changes."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_DEVELOPMENT_KEY_INFO).derive(secret_key.encode("utf-8"))
    return base64.urlsafe_b64encode(derived).decode("ascii")


def configured_keys(value: str | None, *, debug: bool, secret_key: str) -> list[str]:
    """The keys the settings use: those of `value` (the environment variable); with none, a
    refusal to start when `debug` is off, and with `debug` on the development key and a warning.

    Not a silent default in production: a key made up at start would be lost at the next start,
    and with it every file encrypted meanwhile."""
    keys = parse_keys(value or "")
    if keys:
        return keys
    if not debug:
        raise ImproperlyConfigured(
            f"{SETTING} is not set. Attachments and report PDFs are encrypted at rest with it: set "
            f"it to a Fernet key (more, comma-separated, while rotating: the first encrypts). "
            f"Make one with: {MAKE_A_KEY}. `make run` writes one to .env for you."
        )
    logger.warning(
        "%s is not set: files are encrypted with a development key derived from SECRET_KEY, and "
        "cannot be read again if SECRET_KEY changes. Set %s (see .env.example) to keep them.",
        SETTING, SETTING)
    return [development_key(secret_key)]


@functools.lru_cache(maxsize=4)
def _multi_fernet(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    fernets = [Fernet(key.encode("ascii")) for key in keys]
    return fernets[0], MultiFernet(fernets)


def _fernets() -> tuple[Fernet, MultiFernet]:
    """(the encrypting key, all keys) of the settings as they are now (tests override them)."""
    from django.conf import settings

    return _multi_fernet(tuple(settings.ATTACHMENT_ENCRYPTION_KEYS))


def encrypt(data: bytes) -> bytes:
    """The Fernet token of `data` under the first key: what is written to storage."""
    return _fernets()[0].encrypt(data)


def decrypt(token: bytes, *, name: str = "") -> bytes:
    """The plaintext of a stored token; UndecryptableFile (naming the file `name`) if no
    configured key decrypts it or it was altered."""
    try:
        return _fernets()[1].decrypt(token)
    except InvalidToken:
        raise UndecryptableFile(name) from None


def is_current(token: bytes) -> bool:
    """Whether `token` is already under the first key. Checks the token's HMAC only (Fernet's
    extract_timestamp verifies it without decrypting), so that a rotation run again skips such
    files cheaply."""
    try:
        _fernets()[0].extract_timestamp(token)
    except InvalidToken:
        return False
    return True


def rotate(token: bytes, *, name: str = "") -> bytes:
    """`token` re-encrypted under the first key; UndecryptableFile if no configured key
    decrypts it."""
    try:
        return _fernets()[1].rotate(token)
    except InvalidToken:
        raise UndecryptableFile(name) from None


def read_stored(field_file, *, encrypted: bool) -> bytes:
    """The plaintext of a stored FileField file: decrypted when `encrypted`, as it is when not (a
    file stored before issue 13, until rotate_attachment_keys encrypts it). OSError when the
    file is missing; UndecryptableFile when no key decrypts it."""
    with field_file.storage.open(field_file.name, "rb") as stored:
        data = stored.read()
    return decrypt(data, name=field_file.name) if encrypted else data


__all__ = ["MAKE_A_KEY", "SETTING", "UndecryptableFile", "configured_keys", "decrypt",
           "development_key", "encrypt", "is_current", "parse_keys", "read_stored", "rotate"]
