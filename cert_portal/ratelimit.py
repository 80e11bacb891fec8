"""Rate limits of the portal's public writes, counted by django-ratelimit on Django's cache.

django-ratelimit does the counting (a fixed window per key, `cache.add` + `cache.incr`, atomic on
Redis and guarded by a lock in LocMemCache). What stays ours is what the library leaves to the
site: who "one client" is (TRUSTED_PROXY_COUNT, the rightmost X-Forwarded-For entries, an IPv6
client by its /64), a key that does not reveal the address, rates read from settings in our
COUNT/UNIT format, and the 429 page with Retry-After.

A view asks in two steps so that a post that comes back with form errors uses up nothing: it
validates first, then calls `count` just before the write, and answers `too_many_requests` when
the count is refused. LocMemCache counts per server process: with several processes, set REDIS_URL
so that every process shares one count and the limit is global.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)

_UNITS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$", re.IGNORECASE)

UNLIMITED = (0, 0)


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    # Whole seconds until the window resets, at least 1 when refused; 0 when allowed.
    retry_after: int


ALLOWED = RateLimitResult(allowed=True, retry_after=0)


def parse_rate(rate: str | None, *, setting: str = "rate") -> tuple[int, int]:
    """Turn "10/hour" into (10, 3600); "0", "" or None into (0, 0), meaning unlimited.

    Units: s/sec/second, m/min/minute, h/hour, d/day, case-insensitive. A bad value raises
    ImproperlyConfigured naming `setting`, so a deployment fails at start-up saying what to fix.
    """
    text = (rate or "").strip()
    if text in {"", "0"}:
        return UNLIMITED
    match = _RATE.match(text)
    seconds = _UNITS.get(match.group(2).lower()) if match else None
    if seconds is None:
        raise ImproperlyConfigured(
            f"{setting}={rate!r} is not a rate: write COUNT/UNIT such as 10/hour, with the unit one "
            "of s, sec, second, m, min, minute, h, hour, d, day; or 0 for no limit."
        )
    count = int(match.group(1))
    if count == 0:
        # "0/hour" would refuse every request: almost certainly meant as "no limit", so say so
        # rather than guess either way.
        raise ImproperlyConfigured(
            f"{setting}={rate!r} would refuse every request: write 0 for no limit, or a count of "
            "at least 1."
        )
    return count, seconds


def client_ip(request) -> str:
    """Return the address of the client that sent `request`.

    That is REMOTE_ADDR, unless settings.TRUSTED_PROXY_COUNT is above 0: then it is the address
    that many entries from the right of X-Forwarded-For. Each proxy appends the address it got the
    request from, so the rightmost entries were written by our own proxies and can be trusted;
    anything further left was written by the client and can be forged to dodge the limit or to
    lock out someone else. When the header has fewer entries than trusted proxies (the request did
    not come through them) or the entry is not an address, REMOTE_ADDR is used.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies <= 0:
        return remote_addr
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        logger.warning("X-Forwarded-For has %d entries but TRUSTED_PROXY_COUNT is %d: "
                       "using REMOTE_ADDR.", len(forwarded), proxies)
        return remote_addr
    candidate = forwarded[-proxies]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        logger.warning("X-Forwarded-For entry %r is not an address: using REMOTE_ADDR.", candidate)
        return remote_addr
    return candidate


def client_network(request) -> str:
    """Return the address that stands for one client: its IPv4 address, or its IPv6 /64 network
    address (an IPv4-mapped IPv6 address counts as the IPv4 address).

    A single IPv6 subscriber is usually given a whole /64, so counting single IPv6 addresses would
    let one client take 2**64 turns. The result is still an address, so django-axes can store it.
    """
    ip = client_ip(request)
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
    return str(address)


def client_key(group: str, request) -> str:
    """The django-ratelimit key of the client of `request` (the signature its `key=` expects).

    Keyed with SECRET_KEY: django-ratelimit hashes its keys with plain SHA-256, and the 2**32 IPv4
    addresses are quickly enumerated, so a plain hash would be the address in clear to anyone who
    can read the cache.
    """
    return hmac.new(settings.SECRET_KEY.encode(), f"client:{client_network(request)}".encode(),
                    hashlib.sha256).hexdigest()


def object_key(kind: str, pk: int) -> Callable[[str, object], str]:
    """A django-ratelimit key that counts per object (e.g. per incident) rather than per client."""
    return lambda group, request: f"{kind}:{pk}"


def _usage(request, scope: str, setting: str, key, *, increment: bool) -> dict | None:
    rate = parse_rate(getattr(settings, setting), setting=setting)
    if rate == UNLIMITED:
        return None
    # A (count, seconds) tuple is taken as it is by django-ratelimit.
    return get_usage(request, group=scope, key=key, rate=rate, increment=increment)


def _result(usage: dict | None, *, refused: bool) -> RateLimitResult:
    if usage is None or not refused:
        return ALLOWED
    # django-ratelimit's window includes its last second (time_left 0): the next starts a second
    # after that.
    return RateLimitResult(allowed=False, retry_after=max(1, usage["time_left"] + 1))


def count(request, *, scope: str, setting: str, key=client_key) -> RateLimitResult:
    """Count one request in `scope` at the rate in `settings.<setting>` and say whether it is
    allowed. Counted first and decided on the new count, so that requests sent in parallel
    cannot all slip in between a look and a count."""
    usage = _usage(request, scope, setting, key, increment=True)
    return _result(usage, refused=usage is not None and usage["should_limit"])


def peek(request, *, scope: str, setting: str, key=client_key) -> RateLimitResult:
    """Say whether one more request in `scope` would be allowed, counting nothing."""
    usage = _usage(request, scope, setting, key, increment=False)
    return _result(usage, refused=usage is not None and usage["count"] >= usage["limit"])


def too_many_requests(request, retry_after: int, *, scope: str = ""):
    """The 429 page: what happened, when to try again (also as Retry-After), whom to call."""
    logger.info("Rate limit of %s reached; refused for %d s.", scope or "a form", retry_after)
    response = render(
        request, "429.html",
        {"retry_after": retry_after, "retry_after_minutes": math.ceil(retry_after / 60)},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response
