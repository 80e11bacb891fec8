"""Observables (indicators) in incident reports: types, refanging, normalising, extracting.

DOMAIN.md §7: observables are extracted from report text, defanged forms included, normalised and
de-duplicated per incident. This module is the pure part of that: text in, (type, value) out.
It uses the standard library only, and every pattern is linear in the length of its input (no
nested or overlapping repetition), so a hostile 200 KB report cannot stall a worker.

Canonical forms (what `normalise` returns):

- ipv4: dotted decimal, e.g. "192.0.2.1" (leading zeros are refused: "010" is ambiguous).
- ipv6: compressed lower-case form from `ipaddress`, e.g. "2001:db8::1"; zone indices ("%eth0")
  are refused.
- domain: lower case, trailing dots removed, internationalised labels as A-labels
  ("bücher.de" -> "xn--bcher-kva.de", with the stdlib IDNA 2003 codec); at least two labels of
  letters, digits and hyphens; the top-level label is letters (two or more) or an "xn--" label.
- url: scheme and host lower case, host checked as above (a domain, an IPv4 address, or an IPv6
  address in brackets), an empty path written "/"; user info, port, path, query and fragment kept
  as given. Schemes: http, https, ftp, ftps.
- email: lower case as a whole (local part included: mailbox case is not significant in
  practice), domain as above.
- md5 / sha1 / sha256: lower-case hexadecimal of 32 / 40 / 64 digits.
- cve: upper case, "CVE-YYYY-NNNN" with at least four digits after the year.

`normalise` refangs its input first, so "example[.]com" is accepted as "example.com".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models


class ObservableType(models.TextChoices):
    IPV4 = "ipv4", "IPv4 address"
    IPV6 = "ipv6", "IPv6 address"
    DOMAIN = "domain", "Domain name"
    URL = "url", "URL"
    EMAIL = "email", "Email address"
    MD5 = "md5", "MD5 hash"
    SHA1 = "sha1", "SHA-1 hash"
    SHA256 = "sha256", "SHA-256 hash"
    CVE = "cve", "CVE ID"


URL_SCHEMES = ("http", "https", "ftp", "ftps")

# The labels as they read inside a sentence ("... is not a valid domain name").
_NOUNS = {
    t: t.label if t.label[:2].isupper() else t.label[0].lower() + t.label[1:]
    for t in ObservableType
}

# Extraction only: a word with a dot whose last part is one of these is taken for a file name,
# not a domain ("report.pdf", "invoice.exe", "jquery.min.js"). A few are also real top-level
# domains (cab, md, mov, one, py, sh, zip): such domains are still found inside URLs and email
# addresses, and accepted when someone enters them as a domain, but free text naming one on its
# own is read as a file name, which in incident reports it far more often is.
FILE_EXTENSIONS = frozenset(
    {
        # documents and data
        "pdf", "doc", "docx", "docm", "dotm", "xls", "xlsx", "xlsm", "xlsb", "ppt", "pptx",
        "pptm", "odt", "ods", "odp", "rtf", "txt", "csv", "tsv", "log", "xml", "json", "yaml",
        "yml", "ini", "cfg", "conf", "md", "eml", "msg", "pst", "one",
        # archives and disk images
        "zip", "rar", "tar", "gz", "tgz", "xz", "cab", "iso", "img", "vhd", "vhdx", "dmg",
        # executables, libraries and scripts
        "exe", "dll", "sys", "drv", "scr", "msi", "msp", "bat", "cmd", "vbs", "vbe",
        "js", "jse", "wsf", "wsh", "hta", "lnk", "jar", "class", "apk", "ipa", "bin", "elf",
        "dat", "tmp", "sh", "bash", "py", "pyc", "rb", "php", "asp", "aspx",
        "jsp", "cgi", "html", "htm", "xhtml", "css", "swf",
        # images, audio and video
        "png", "jpg", "jpeg", "gif", "bmp", "svg", "ico", "webp", "tif", "tiff", "heic",
        "mp3", "mp4", "wav", "avi", "mov", "mkv", "wmv", "flv", "webm",
    }
)

# Longer than any email address (254) or domain name (253): nothing to find in such a word.
_MAX_WORD = 254

_HEX_DIGITS = frozenset("0123456789abcdef")
_HASH_TYPES = {32: ObservableType.MD5, 40: ObservableType.SHA1, 64: ObservableType.SHA256}
_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_CVE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")
_IPV4_SHAPE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_EMAIL_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+")

# Defanging conventions seen in reports and threat feeds. Possessive quantifiers (Python 3.11)
# keep the bracket forms from backtracking over runs of blanks.
_DEFANG = re.compile(
    r"""
      (?P<scheme>\b(?:hxxps?|fxps?)(?=[\[({]?:))           # hxxp://  hxxps[:]//  fxp://
    | (?P<dot>[\[({][ \t]*+(?:\.|dot)[ \t]*+[\])}])[ \t]*+  # [.]  (.)  {.}  [dot]  ( dot )
    | (?P<at>[\[({][ \t]*+(?:@|at)[ \t]*+[\])}])[ \t]*+     # [@]  (@)  [at]  (at)
    | (?P<slashes>[\[({]://[\])}])                          # [://]
    | (?P<colon>[\[({]:[\])}])                              # [:]  (:)  {:}
    | (?P<slash>[\[({]/[\])}])                              # [/]
    | (?P<escaped_dot>\\\.)                                 # example\.com
    """,
    re.IGNORECASE | re.VERBOSE,
)
_REFANGED = {"dot": ".", "at": "@", "slashes": "://", "colon": ":", "slash": "/",
             "escaped_dot": "."}
_SCHEMES = {"hxxp": "http", "hxxps": "https", "fxp": "ftp", "fxps": "ftps"}

# A URL runs from its scheme to the first blank, quote or angle bracket; trailing punctuation is
# trimmed afterwards (`_trim_url`). One character class to the end: nothing to backtrack into.
_URL_CANDIDATE = re.compile(r"\b(?:https?|ftps?)://[^\s<>\"'`]+", re.IGNORECASE)
# Everything else is looked for in words: maximal runs of these characters (Unicode letters and
# digits included, for internationalised domains), classified one by one in `_classify_word`.
_WORD = re.compile(r"[\w.@:+-]+")
_WORD_EDGES = ".-+@_"
# ASCII punctuation, and the Urdu comma, full stop and question mark (U+060C, U+06D4, U+061F):
# reports in Urdu end their sentences with those right after a URL.
_URL_TRAILING = ".,;:!?'\"*\u060c\u06d4\u061f"
_URL_CLOSERS = {")": "(", "]": "[", "}": "{"}


class _Invalid(Exception):
    """Why a value is not a valid observable; `normalise` turns it into a ValidationError."""


def refang(text: str) -> str:
    """Return `text` with common defanging undone.

    Handles hxxp/hxxps/fxp/fxps schemes (any case), [.] (.) {.} [dot] for dots, [@] (@) [at] (at)
    for at signs, [:] (:) {:} for colons, [://], [/] and "\\.". Blanks around the dot and at forms
    are dropped ("user [at] example [dot] com" -> "user@example.com"). Meant for machine
    extraction: it may also rewrite prose such as "(at)", so do not display its output.
    """
    pieces: list[str] = []
    position = 0
    for match in _DEFANG.finditer(text):
        before = text[position : match.start()]
        kind = match.lastgroup
        if kind in ("dot", "at"):
            before = before.rstrip(" \t")
        pieces.append(before)
        if kind == "scheme":
            pieces.append(_SCHEMES[match[0].lower()])
        else:
            pieces.append(_REFANGED[kind])
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


def normalise(type: str, value: str) -> str:
    """Return the canonical form of `value` as an observable of `type` (see the module docstring).

    Refang and strip `value` first. Raise ValidationError with code "unknown_observable_type" for
    an unknown `type`, and code "invalid_observable" for a value that is not a valid observable
    of that type; the message names the value, the type and what is wrong.
    """
    try:
        observable_type = ObservableType(type)
    except ValueError:
        raise ValidationError(
            f"{type!r} is not an observable type. Use one of: {', '.join(ObservableType.values)}.",
            code="unknown_observable_type",
        ) from None
    try:
        if not isinstance(value, str):
            raise _Invalid("it is not text")
        text = refang(value).strip()
        if not text:
            raise _Invalid("it is empty")
        return _NORMALISERS[observable_type](text)
    except _Invalid as reason:
        raise ValidationError(
            f"{_show(value)} is not a valid {_NOUNS[observable_type]}: {reason}.",
            code="invalid_observable",
        ) from None


def extract(text: str) -> list[tuple[ObservableType, str]]:
    """Return the observables in `text` as (type, normalised value), each once, in order of first
    appearance.

    `text` is refanged first. Rules, chosen to keep false positives down:

    - A URL (http, https, ftp or ftps, with "://") yields only the URL: its host, path and query
      are not searched for domains, addresses or hashes. A URL whose host is not a domain or an
      IP address (e.g. "http://localhost/") yields nothing.
    - An email address yields only the address, not its domain. A word with an "@" that is not a
      valid address yields nothing (e.g. "image@2x.png").
    - A domain needs at least two labels and a top-level label of two or more letters (or an
      "xn--" label) that is not in FILE_EXTENSIONS: "report.pdf" and "<sha256>.exe" are file
      names, "e.g." and "v1.2" are nothing. A URL without a scheme ("www.example.com/x") yields
      its domain.
    - IPv4 addresses in dotted decimal, also with a port ("192.0.2.1:443") or a prefix length
      ("192.0.2.0/24" yields 192.0.2.0). Version numbers shaped like addresses are addresses.
    - IPv6 addresses need at least two colons and must parse; MAC addresses and times do not.
    - Hashes are words of exactly 32, 40 or 64 hexadecimal digits; CVE IDs are "CVE-YYYY-NNNN+"
      in any case.
    - Invalid candidates ("192.0.2.999") are skipped, not reported.
    """
    text = refang(text)
    found: dict[tuple[ObservableType, str], None] = {}  # an ordered set
    position = 0
    for match in _URL_CANDIDATE.finditer(text):
        _extract_words(text[position : match.start()], found)
        _add(found, ObservableType.URL, _trim_url(match[0]))
        position = match.end()
    _extract_words(text[position:], found)
    return list(found)


# Normalisers: each takes refanged, stripped, non-empty text and returns the canonical form or
# raises _Invalid with the reason, worded to follow "... is not a valid <type>: ".


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise _Invalid(
            "expected four numbers from 0 to 255 without leading zeros, separated by dots, "
            "such as 192.0.2.1"
        ) from None


def _ipv6(text: str) -> str:
    if "%" in text:
        raise _Invalid("zone indices such as %eth0 are not part of an observable")
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        raise _Invalid("expected an IPv6 address such as 2001:db8::1") from None


def _domain(text: str) -> str:
    # "example.com." is the fully qualified spelling of the same name.
    name = text.rstrip(".").lower()
    if len(name) > 253:
        raise _Invalid("it is longer than 253 characters")
    labels = name.split(".")
    if len(labels) < 2:
        raise _Invalid("a domain name has at least two labels, such as example.com")
    ascii_labels = []
    for label in labels:
        if not label:
            raise _Invalid("it has an empty label (two dots in a row)")
        if not label.isascii():
            try:
                label = label.encode("idna").decode("ascii")
            except UnicodeError:
                raise _Invalid(
                    f"the label {label!r} cannot be written as an internationalised (xn--) label"
                ) from None
        if len(label) > 63:
            raise _Invalid(f"the label {_show(label)} is longer than 63 characters")
        if not set(label) <= _LDH or label.startswith("-") or label.endswith("-"):
            raise _Invalid(
                f"the label {label!r} may contain only letters, digits and hyphens, and may "
                f"not start or end with a hyphen"
            )
        ascii_labels.append(label)
    tld = ascii_labels[-1]
    if not ((tld.isalpha() and len(tld) >= 2) or tld.startswith("xn--")):
        raise _Invalid(
            f"the top-level label {tld!r} must be two or more letters, or an xn-- label"
        )
    result = ".".join(ascii_labels)
    if len(result) > 253:
        raise _Invalid("it is longer than 253 characters")
    return result


def _url(text: str) -> str:
    if any(c.isspace() or not c.isprintable() for c in text):
        raise _Invalid("it contains blanks or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        # urlsplit() refuses malformed brackets; .port refuses a port that is not 0..65535.
        raise _Invalid(f"it cannot be parsed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        raise _Invalid(f"the scheme must be one of {', '.join(URL_SCHEMES)}, with ://")
    hostname = parts.hostname  # lower case, without brackets, user info or port
    if not hostname:
        raise _Invalid("it has no host")
    try:
        if ":" in hostname:
            host = f"[{_ipv6(hostname)}]"
        elif _IPV4_SHAPE.fullmatch(hostname):
            host = _ipv4(hostname)
        else:
            host = _domain(hostname)
    except _Invalid as reason:
        raise _Invalid(f"its host {_show(hostname)} is not valid: {reason}") from None
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = (f"{userinfo}@" if at else "") + host + (f":{port}" if port is not None else "")
    url = f"{scheme}://{netloc}{parts.path or '/'}"
    if parts.query:
        url += f"?{parts.query}"
    if parts.fragment:
        url += f"#{parts.fragment}"
    return url


def _email(text: str) -> str:
    local, at, domain = text.lower().rpartition("@")
    if not at or not local or not domain:
        raise _Invalid("expected a local part, @ and a domain, such as user@example.com")
    if (
        len(local) > 64
        or not _EMAIL_LOCAL.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise _Invalid(f"the part before @, {_show(local)}, is not a valid mailbox name")
    try:
        domain = _domain(domain)
    except _Invalid as reason:
        raise _Invalid(f"its domain {_show(domain)} is not valid: {reason}") from None
    return f"{local}@{domain}"


def _hash(length: int) -> Callable[[str], str]:
    def normalise_hash(text: str) -> str:
        digest = text.lower()
        if len(digest) != length or not set(digest) <= _HEX_DIGITS:
            raise _Invalid(
                f"expected {length} hexadecimal digits (0-9, a-f), got {len(digest)} characters"
                + ("" if set(digest) <= _HEX_DIGITS else " with non-hexadecimal ones")
            )
        return digest

    return normalise_hash


def _cve(text: str) -> str:
    cve = text.upper()
    if not _CVE.fullmatch(cve):
        raise _Invalid(
            "expected CVE-YYYY-NNNN: a four-digit year and at least four digits, "
            "such as CVE-2021-44228"
        )
    return cve


_NORMALISERS: dict[ObservableType, Callable[[str], str]] = {
    ObservableType.IPV4: _ipv4,
    ObservableType.IPV6: _ipv6,
    ObservableType.DOMAIN: _domain,
    ObservableType.URL: _url,
    ObservableType.EMAIL: _email,
    ObservableType.MD5: _hash(32),
    ObservableType.SHA1: _hash(40),
    ObservableType.SHA256: _hash(64),
    ObservableType.CVE: _cve,
}


# Extraction helpers.


def _add(found: dict[tuple[ObservableType, str], None], type: ObservableType, text: str) -> None:
    """Add the normalised `text` to `found`, or nothing if it is not a valid `type`."""
    try:
        found.setdefault((type, _NORMALISERS[type](text)), None)
    except _Invalid:
        pass


def _trim_url(candidate: str) -> str:
    """Drop what ends a sentence or encloses the URL: "(see http://x.example/a)." -> ".../a".

    Closing brackets are dropped only when unbalanced, so ".../wiki/Foo_(bar)" keeps its ")".
    Counts are kept up to date instead of recounted, to stay linear.
    """
    counts = {char: candidate.count(char) for char in "()[]{}"}
    end = len(candidate)
    while end:
        char = candidate[end - 1]
        if char in _URL_TRAILING:
            end -= 1
        elif char in _URL_CLOSERS and counts[char] > counts[_URL_CLOSERS[char]]:
            counts[char] -= 1
            end -= 1
        else:
            break
    return candidate[:end]


def _extract_words(text: str, found: dict[tuple[ObservableType, str], None]) -> None:
    for match in _WORD.finditer(text):
        word = match[0].strip(_WORD_EDGES)
        if ":" in word:
            address = _find_ipv6(word)
            if address:
                found.setdefault((ObservableType.IPV6, address), None)
                continue
            # "192.0.2.1:443", "sha256:<hash>", "mailto:user@example.com": look at each part.
            for part in word.split(":"):
                _classify_word(part.strip(_WORD_EDGES), found)
        else:
            _classify_word(word, found)


def _find_ipv6(word: str) -> str | None:
    if word.count(":") < 2 or len(word) > 64:
        return None
    candidates = [word]
    if word.endswith(":") and not word.endswith("::"):
        candidates.append(word[:-1])  # "2001:db8::1:" at the end of a clause
    head, _, rest = word.partition(":")
    if head and not (len(head) <= 4 and set(head.lower()) <= _HEX_DIGITS):
        candidates.append(rest)  # a label before the address: "ipv6:2001:db8::1"
    for candidate in candidates:
        try:
            return _ipv6(candidate)
        except _Invalid:
            continue
    return None


def _classify_word(word: str, found: dict[tuple[ObservableType, str], None]) -> None:
    if not word or len(word) > _MAX_WORD:
        return
    if "@" in word:
        # An email address or nothing: its domain is not reported on its own.
        if _looks_like_domain(word.rpartition("@")[2]):
            _add(found, ObservableType.EMAIL, word)
        return
    lowered = word.lower()
    if _CVE.fullmatch(word.upper()):
        _add(found, ObservableType.CVE, word)
    elif len(word) in _HASH_TYPES and set(lowered) <= _HEX_DIGITS:
        _add(found, _HASH_TYPES[len(word)], word)
    elif _IPV4_SHAPE.fullmatch(word):
        _add(found, ObservableType.IPV4, word)
    elif _looks_like_domain(word):
        _add(found, ObservableType.DOMAIN, word)


def _looks_like_domain(word: str) -> bool:
    head, dot, tld = word.rstrip(".").rpartition(".")
    if not dot or not head:
        return False
    tld = tld.lower()
    if tld.startswith("xn--"):
        return True
    return tld.isalpha() and len(tld) >= 2 and tld not in FILE_EXTENSIONS


def _show(value: object) -> str:
    """Return `value` quoted for a message, shortened: the value may be a whole pasted report."""
    if isinstance(value, str) and len(value) > 80:
        return repr(value[:60] + "...")
    return repr(value)
