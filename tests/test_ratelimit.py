"""Rate limits of the public writes: django-ratelimit counting, our client-address rules and
key, rates from settings, and the 429 page."""

import subprocess

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.utils import translation
from django_ratelimit import ALL
from django_ratelimit import core as ratelimit_core

from cert_portal.ratelimit import (
    client_ip,
    client_key,
    client_network,
    count,
    object_key,
    parse_rate,
    peek,
    too_many_requests,
)
from tests import startup

# A moment at the start of an hour window.
HOUR_START = 1_800_000_000 - 1_800_000_000 % 3600


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch, settings):
    """django-ratelimit's clock (its module's `time`), set by assigning `clock.time`; the report
    rate is 3/hour unless a test says otherwise."""
    settings.REPORT_RATE_LIMIT = "3/hour"

    class Clock:
        time = float(HOUR_START)

    class FakeTime:
        @staticmethod
        def time():
            return Clock.time

    monkeypatch.setattr(ratelimit_core, "time", FakeTime)
    return Clock


def request_from(ip="198.51.100.7", method="post", forwarded_for=None):
    extra = {"REMOTE_ADDR": ip}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return getattr(RequestFactory(), method)("/report/", **extra)


# --- parse_rate ----------------------------------------------------------------------------

@pytest.mark.parametrize("rate, expected", [
    ("10/hour", (10, 3600)), ("10/h", (10, 3600)), ("1/s", (1, 1)), ("3/sec", (3, 1)),
    ("3/second", (3, 1)), ("5/m", (5, 60)), ("5/min", (5, 60)), ("5/minute", (5, 60)),
    ("100/d", (100, 86400)), ("100/day", (100, 86400)), (" 7 / Hour ", (7, 3600)),
    ("0", (0, 0)), ("", (0, 0)), (" 0 ", (0, 0)), (None, (0, 0)),
])
def test_parse_rate_reads_count_and_unit(rate, expected):
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate, reason", [
    ("ten/hour", "is not a rate"), ("10", "is not a rate"), ("10/", "is not a rate"),
    ("10/fortnight", "is not a rate"), ("10/2h", "is not a rate"), ("-1/hour", "is not a rate"),
    ("1.5/hour", "is not a rate"), ("10/hour/day", "is not a rate"),
    ("0/hour", "would refuse every request"),
])
def test_parse_rate_refuses_bad_values_naming_the_setting(rate, reason):
    with pytest.raises(ImproperlyConfigured) as error:
        parse_rate(rate, setting="REPORT_RATE_LIMIT")

    assert f"REPORT_RATE_LIMIT={rate!r}" in str(error.value)
    assert reason in str(error.value)


# --- client_ip -----------------------------------------------------------------------------

def test_client_ip_without_trusted_proxies_ignores_a_spoofed_forwarded_for(settings):
    settings.TRUSTED_PROXY_COUNT = 0

    request = request_from("198.51.100.7", forwarded_for="203.0.113.99")

    assert client_ip(request) == "198.51.100.7"


@pytest.mark.parametrize("count, forwarded_for, expected", [
    # One proxy appends the address it got the request from; what the client wrote is left of it.
    (1, "203.0.113.5", "203.0.113.5"),
    (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),
    (2, "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
    (1, "2001:db8::1", "2001:db8::1"),
    # Not through our proxies, or not an address: the peer's own address.
    (2, "203.0.113.5", "10.0.0.1"),
    (1, "", "10.0.0.1"),
    (1, "unknown", "10.0.0.1"),
])
def test_client_ip_behind_trusted_proxies_counts_hops_from_the_right(settings, count,
                                                                      forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = count

    assert client_ip(request_from("10.0.0.1", forwarded_for=forwarded_for)) == expected


def test_client_ip_behind_a_proxy_without_the_header_is_the_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1

    assert client_ip(request_from("10.0.0.1")) == "10.0.0.1"


# --- count and peek, through django-ratelimit -------------------------------------------------

def test_count_allows_the_rate_then_refuses_until_the_window_ends(clock):
    results = [count(request_from(), scope="report", setting="REPORT_RATE_LIMIT")
               for _ in range(4)]

    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.retry_after for r in results[:3]] == [0, 0, 0]
    assert 1 <= results[3].retry_after <= 3600


def test_count_starts_again_in_the_next_window(clock):
    assert count(request_from(), scope="report", setting="REPORT_RATE_LIMIT").allowed
    for _ in range(2):
        count(request_from(), scope="report", setting="REPORT_RATE_LIMIT")
    refused = count(request_from(), scope="report", setting="REPORT_RATE_LIMIT")
    assert not refused.allowed

    clock.time += refused.retry_after

    assert count(request_from(), scope="report", setting="REPORT_RATE_LIMIT").allowed


def test_peek_counts_nothing_and_refuses_once_the_rate_is_used_up(clock):
    assert all(peek(request_from(), scope="report", setting="REPORT_RATE_LIMIT").allowed
               for _ in range(10))
    for _ in range(3):
        count(request_from(), scope="report", setting="REPORT_RATE_LIMIT")

    refused = peek(request_from(), scope="report", setting="REPORT_RATE_LIMIT")

    assert not refused.allowed
    assert refused.retry_after >= 1


def test_count_counts_each_client_on_its_own(clock, settings):
    settings.REPORT_RATE_LIMIT = "1/hour"
    assert count(request_from("198.51.100.7"), scope="report", setting="REPORT_RATE_LIMIT").allowed
    assert not count(request_from("198.51.100.7"), scope="report",
                     setting="REPORT_RATE_LIMIT").allowed

    assert count(request_from("198.51.100.8"), scope="report", setting="REPORT_RATE_LIMIT").allowed


def test_count_counts_each_scope_on_its_own(clock, settings):
    settings.REPORT_RATE_LIMIT = "1/hour"
    assert count(request_from(), scope="report", setting="REPORT_RATE_LIMIT").allowed
    assert not count(request_from(), scope="report", setting="REPORT_RATE_LIMIT").allowed

    assert count(request_from(), scope="status", setting="REPORT_RATE_LIMIT").allowed


def test_count_by_object_counts_every_client_together(clock, settings):
    settings.REPORT_RATE_LIMIT = "1/hour"
    key = object_key("incident", 7)
    assert count(request_from("198.51.100.7"), scope="x", setting="REPORT_RATE_LIMIT", key=key).allowed

    assert not count(request_from("198.51.100.8"), scope="x", setting="REPORT_RATE_LIMIT",
                     key=key).allowed
    assert count(request_from("198.51.100.8"), scope="x", setting="REPORT_RATE_LIMIT",
                 key=object_key("incident", 8)).allowed


def test_count_counts_an_ipv6_client_by_its_slash_64(clock, settings):
    settings.REPORT_RATE_LIMIT = "1/hour"

    def hit(ip):
        return count(request_from(ip), scope="report", setting="REPORT_RATE_LIMIT").allowed

    assert hit("2001:db8:1:2::1")
    assert not hit("2001:db8:1:2:ffff::9")
    assert hit("2001:db8:1:3::1")
    assert hit("::ffff:198.51.100.7")
    assert not hit("198.51.100.7")  # an IPv4-mapped address is that IPv4 client


def test_client_network_is_an_address_axes_can_store():
    assert client_network(request_from("2001:db8:1:2:ffff::9")) == "2001:db8:1:2::"
    assert client_network(request_from("198.51.100.7")) == "198.51.100.7"


def test_count_behind_a_proxy_counts_the_forwarded_client_not_the_proxy(settings, clock):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REPORT_RATE_LIMIT = "1/hour"
    proxy = "10.0.0.1"

    def hit(forwarded_for):
        return count(request_from(proxy, forwarded_for=forwarded_for), scope="report",
                     setting="REPORT_RATE_LIMIT").allowed

    assert hit("203.0.113.5")
    assert not hit("6.6.6.6, 203.0.113.5")
    assert hit("203.0.113.6")


def test_count_keeps_no_address_in_clear_in_the_cache(clock):
    count(request_from("198.51.100.7"), scope="report", setting="REPORT_RATE_LIMIT")

    keys = list(cache._cache)  # LocMemCache's own store: every key it holds
    assert len(keys) == 1
    assert "198.51.100.7" not in keys[0]
    # django-ratelimit hashes group, rate, key and window with plain SHA-256: had we given it the
    # address as the key, the 2**32 addresses could be tried against the keys in the cache.
    def library_key(value):
        window = ratelimit_core._get_window(value, 3600)
        return ratelimit_core._make_cache_key("report", window, (3, 3600), value, ALL)

    ours = client_key("report", request_from("198.51.100.7"))
    assert keys[0].endswith(library_key(ours))
    assert not keys[0].endswith(library_key("198.51.100.7"))
    assert "198.51.100.7" not in ours


def test_count_with_no_limit_allows_everything_and_counts_nothing(clock, settings):
    settings.REPORT_RATE_LIMIT = "0"

    results = [count(request_from(), scope="report", setting="REPORT_RATE_LIMIT") for _ in range(50)]

    assert all(r.allowed and r.retry_after == 0 for r in results)
    assert list(cache._cache) == []


def test_count_with_a_bad_rate_names_the_setting(settings):
    settings.STATUS_RATE_LIMIT = "often"

    with pytest.raises(ImproperlyConfigured, match=r"STATUS_RATE_LIMIT='often'"):
        count(request_from(), scope="status", setting="STATUS_RATE_LIMIT")


# --- the 429 page --------------------------------------------------------------------------

@pytest.mark.django_db
def test_too_many_requests_answers_429_with_retry_after_and_whom_to_call():
    with translation.override("en"):
        refused = too_many_requests(request_from(), 90)

    assert refused.status_code == 429
    assert refused["Retry-After"] == "90"
    assert "no-cache" in refused["Cache-Control"]
    text = refused.content.decode()
    assert "Too many attempts" in text
    assert "from your connection" in text
    assert "try again in 2 minutes" in text
    assert "call the national CERT's 24/7 hotline" in text


@pytest.mark.django_db
def test_too_many_requests_says_one_minute_in_the_singular():
    with translation.override("en"):
        refused = too_many_requests(request_from(), 5)

    assert refused["Retry-After"] == "5"
    assert "try again in 1 minute." in refused.content.decode()


# --- The settings, started the way manage.py starts them -----------------------------------

def start_django(**variables: str) -> subprocess.CompletedProcess:
    """The real settings with only `variables` set (DEBUG on unless given); prints the rate-limit
    and cache settings."""
    return startup.start_django(
        "settings.REPORT_RATE_LIMIT, settings.STATUS_RATE_LIMIT, settings.TRUSTED_PROXY_COUNT, "
        "settings.CACHES['default']['BACKEND']", **{"DEBUG": "1", **variables})


@pytest.mark.parametrize("name, value", [
    ("REPORT_RATE_LIMIT", "ten per hour"),
    ("STATUS_RATE_LIMIT", "30/fortnight"),
    ("REPORT_RATE_LIMIT", "0/hour"),
])
def test_start_up_with_a_bad_rate_fails_naming_the_variable(name, value):
    result = start_django(**{name: value})

    assert result.returncode != 0, result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert f"{name}={value!r}" in last_line


def test_start_up_with_a_negative_proxy_count_fails_naming_it():
    result = start_django(TRUSTED_PROXY_COUNT="-1")

    assert result.returncode != 0, result.stdout
    assert "TRUSTED_PROXY_COUNT=-1" in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("variables, expected", [
    ({}, "10/hour 30/hour 0 django.core.cache.backends.locmem.LocMemCache"),
    ({"BEHIND_TLS_PROXY": "1"}, "10/hour 30/hour 1 django.core.cache.backends.locmem.LocMemCache"),
    ({"BEHIND_TLS_PROXY": "1", "TRUSTED_PROXY_COUNT": "2", "REPORT_RATE_LIMIT": "0",
      "STATUS_RATE_LIMIT": "5/min", "REDIS_URL": "redis://127.0.0.1:6399/3"},
     "0 5/min 2 django.core.cache.backends.redis.RedisCache"),
])
def test_start_up_reads_limits_proxies_and_cache(variables, expected):
    result = start_django(**variables)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
