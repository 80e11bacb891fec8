"""Per-client, fixed-window rate limits on Django's cache, for the portal's public forms.

A window is `seconds` long and numbered `floor(now / seconds)`; each client's requests in a scope
are counted under one cache key per window, so a new window starts at zero and old keys simply
expire. A fixed window lets a client spend up to twice the limit around a window boundary; for a
public report form that is an acceptable price for one cache round trip per request.

Counting uses `cache.add` + `cache.incr`, which are atomic on Memcached and Redis and guarded by a
lock in LocMemCache. LocMemCache counts per server process: with several processes, set REDIS_URL
so that every process shares one count and the limit is global.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import sys
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

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
    # Requests left in this window; sys.maxsize when the rate is unlimited.
    remaining: int
    # Whole seconds until the window resets, at least 1 when refused; 0 when allowed.
    retry_after: int


def now() -> float:
    """Return the current time in seconds; the one clock of this module, replaced in tests."""
    return timezone.now().timestamp()


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


def _client_bucket(ip: str) -> str:
    """Return what identifies one client: its IPv4 address, or its IPv6 /64.

    A single IPv6 subscriber is usually given a whole /64, so counting single IPv6 addresses would
    let one client take 2**64 turns.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _cache_key(scope: str, window: int, ip: str) -> str:
    # Keyed with SECRET_KEY rather than a bare sha256: the 2**32 IPv4 addresses are quickly
    # enumerated, so a bare hash would be the address in clear to anyone who can read the cache.
    digest = hashlib.sha256(
        f"{settings.SECRET_KEY}:ratelimit:{_client_bucket(ip)}".encode()
    ).hexdigest()
    return f"ratelimit:{scope}:{window}:{digest}"


def _count(key: str, timeout: int) -> int:
    """Add one to `key`, creating it with `timeout`, and return the new count."""
    for _attempt in range(3):
        if cache.add(key, 1, timeout=timeout):
            return 1
        try:
            return cache.incr(key)
        except ValueError:
            # The key expired or was evicted between add and incr: start it again.
            continue
    # Unreachable unless the cache drops every key at once; fail open rather than lock out the
    # public, since the cache is only a brake and not a security boundary.
    return 1


def hit(request, scope: str, rate: str, *, setting: str = "rate") -> RateLimitResult:
    """Count one request of the client of `request` in `scope` and say whether it is allowed.

    `rate` is as parse_rate reads it; an unlimited rate counts nothing. `setting` names the rate
    in the error raised for a bad value.
    """
    limit, seconds = parse_rate(rate, setting=setting)
    if (limit, seconds) == UNLIMITED:
        return RateLimitResult(allowed=True, remaining=sys.maxsize, retry_after=0)
    moment = now()
    window = int(moment // seconds)
    # One extra second so that a key never expires before its window ends on a slow clock tick.
    count = _count(_cache_key(scope, window, client_ip(request)), timeout=seconds + 1)
    if count <= limit:
        return RateLimitResult(allowed=True, remaining=limit - count, retry_after=0)
    retry_after = max(1, math.ceil((window + 1) * seconds - moment))
    return RateLimitResult(allowed=False, remaining=0, retry_after=retry_after)


def rate_limited(scope: str, setting_name: str, *, methods: tuple[str, ...] = ("POST",)):
    """Limit a function view to the rate in `settings.<setting_name>`, per client, in `scope`.

    Only requests whose method is in `methods` are counted, so showing a form stays free and
    sending it is limited. Over the limit the view is not called: the client gets 429.html with
    status 429 and a Retry-After header. The rate is read at each request, so tests and
    override_settings can change it.
    """
    counted = frozenset(method.upper() for method in methods)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method in counted:
                result = hit(request, scope, getattr(settings, setting_name), setting=setting_name)
                if not result.allowed:
                    return _too_many_requests(request, scope, result.retry_after)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _too_many_requests(request, scope: str, retry_after: int):
    logger.info("Rate limit of %s reached; refused for %d s.", scope, retry_after)
    response = render(
        request, "429.html",
        {"retry_after": retry_after, "retry_after_minutes": math.ceil(retry_after / 60)},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response
