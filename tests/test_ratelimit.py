"""Rate limits of the public forms: per client, per scope, per fixed window, on Django's cache."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from cert_portal import ratelimit
from cert_portal.ratelimit import client_ip, hit, parse_rate, rate_limited

PROJECT_DIR = Path(__file__).resolve().parent.parent
# A moment at the start of an hour window, so tests know how far the window's end is.
HOUR_START = 1_800_000_000 - 1_800_000_000 % 3600


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock, set by assigning `clock.time`."""

    class Clock:
        time = float(HOUR_START)

    monkeypatch.setattr(ratelimit, "now", lambda: Clock.time)
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


# --- hit -----------------------------------------------------------------------------------

def test_hit_allows_the_rate_then_refuses_until_the_window_ends(clock):
    clock.time = HOUR_START + 600  # 50 minutes before the window ends

    results = [hit(request_from(), "report", "3/hour") for _ in range(4)]

    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert [r.retry_after for r in results] == [0, 0, 0, 3000]


def test_hit_starts_again_in_the_next_window(clock):
    clock.time = HOUR_START + 3599.5
    assert hit(request_from(), "report", "1/hour").allowed
    refused = hit(request_from(), "report", "1/hour")
    assert not refused.allowed
    assert refused.retry_after == 1  # half a second, rounded up

    clock.time = HOUR_START + 3600

    assert hit(request_from(), "report", "1/hour").allowed
    assert not hit(request_from(), "report", "1/hour").allowed


def test_hit_counts_each_client_on_its_own(clock):
    assert hit(request_from("198.51.100.7"), "report", "1/hour").allowed
    assert not hit(request_from("198.51.100.7"), "report", "1/hour").allowed

    assert hit(request_from("198.51.100.8"), "report", "1/hour").allowed


def test_hit_counts_each_scope_on_its_own(clock):
    assert hit(request_from(), "report", "1/hour").allowed
    assert not hit(request_from(), "report", "1/hour").allowed

    assert hit(request_from(), "status", "1/hour").allowed


def test_hit_counts_an_ipv6_client_by_its_slash_64(clock):
    assert hit(request_from("2001:db8:1:2::1"), "report", "1/hour").allowed

    assert not hit(request_from("2001:db8:1:2:ffff::9"), "report", "1/hour").allowed
    assert hit(request_from("2001:db8:1:3::1"), "report", "1/hour").allowed


def test_hit_behind_a_proxy_counts_the_forwarded_client_not_the_proxy(settings, clock):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"

    assert hit(request_from(proxy, forwarded_for="203.0.113.5"), "report", "1/hour").allowed
    assert not hit(request_from(proxy, forwarded_for="6.6.6.6, 203.0.113.5"), "report",
                   "1/hour").allowed
    assert hit(request_from(proxy, forwarded_for="203.0.113.6"), "report", "1/hour").allowed


def test_hit_keeps_no_address_in_clear_in_the_cache(clock):
    hit(request_from("198.51.100.7"), "report", "5/hour")

    keys = list(cache._cache)  # LocMemCache's own store: every key it holds
    assert len(keys) == 1
    assert "198.51.100.7" not in keys[0]
    assert ":report:" in keys[0]


def test_hit_with_no_limit_allows_everything_and_counts_nothing(clock):
    results = [hit(request_from(), "report", "0") for _ in range(50)]

    assert all(r.allowed and r.retry_after == 0 for r in results)
    assert list(cache._cache) == []


def test_hit_with_a_bad_rate_names_the_setting():
    with pytest.raises(ImproperlyConfigured, match=r"STATUS_RATE_LIMIT='often'"):
        hit(request_from(), "status", "often", setting="STATUS_RATE_LIMIT")


# --- rate_limited --------------------------------------------------------------------------

calls = []


@rate_limited("test-report", "REPORT_RATE_LIMIT")
def report_view(request):
    """Answers like the public form: shows on GET, takes a report on POST."""
    calls.append(request.method)
    return HttpResponse("ok")


@pytest.fixture
def view_calls():
    calls.clear()
    return calls


def test_rate_limited_refuses_posts_over_the_limit_with_429(settings, clock, view_calls):
    settings.REPORT_RATE_LIMIT = "2/hour"
    clock.time = HOUR_START + 3600 - 90  # a minute and a half before the window ends

    responses = [report_view(request_from()) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert view_calls == ["POST", "POST"]  # the refused request never reached the view
    refused = responses[2]
    assert refused["Retry-After"] == "90"
    assert "no-cache" in refused["Cache-Control"]
    text = refused.content.decode()
    assert "Too many attempts" in text
    assert "from your connection" in text
    assert "try again in 2 minutes" in text
    assert "call the national CERT's 24/7 hotline" in text


def test_rate_limited_says_one_minute_in_the_singular(settings, clock):
    settings.REPORT_RATE_LIMIT = "1/hour"
    clock.time = HOUR_START + 3600 - 5

    report_view(request_from())
    refused = report_view(request_from())

    assert refused["Retry-After"] == "5"
    assert "try again in 1 minute." in refused.content.decode()


def test_rate_limited_does_not_count_gets(settings, clock, view_calls):
    settings.REPORT_RATE_LIMIT = "1/hour"

    gets = [report_view(request_from(method="get")) for _ in range(5)]
    post = report_view(request_from())

    assert [r.status_code for r in gets] == [200] * 5
    assert post.status_code == 200
    assert report_view(request_from()).status_code == 429
    assert report_view(request_from(method="get")).status_code == 200


def test_rate_limited_counts_the_methods_it_is_given(settings, clock):
    settings.STATUS_RATE_LIMIT = "1/hour"
    status_view = rate_limited("test-status", "STATUS_RATE_LIMIT", methods=("get", "POST"))(
        lambda request: HttpResponse("ok"))

    assert status_view(request_from(method="get")).status_code == 200
    assert status_view(request_from(method="get")).status_code == 429
    assert status_view(request_from(method="post")).status_code == 429


def test_rate_limited_reads_the_setting_at_each_request(settings, clock):
    settings.REPORT_RATE_LIMIT = "1/hour"
    report_view(request_from())
    assert report_view(request_from()).status_code == 429

    settings.REPORT_RATE_LIMIT = "0"

    assert all(report_view(request_from()).status_code == 200 for _ in range(20))


def test_rate_limited_with_a_bad_setting_fails_naming_it(settings):
    settings.REPORT_RATE_LIMIT = "lots"

    with pytest.raises(ImproperlyConfigured, match=r"REPORT_RATE_LIMIT='lots'"):
        report_view(request_from())


# --- The settings, started the way manage.py starts them -----------------------------------

def start_django(**variables: str) -> subprocess.CompletedProcess:
    """Import cert_portal.settings in a fresh interpreter with only `variables` set, then print
    the rate-limit and cache settings."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_DIR),
        "DJANGO_SETTINGS_MODULE": "cert_portal.settings",
        "CERT_PORTAL_ENV_FILE": os.devnull,
        "DEBUG": "1",
        **variables,
    }
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.REPORT_RATE_LIMIT, s.STATUS_RATE_LIMIT, s.TRUSTED_PROXY_COUNT, "
            "s.CACHES['default']['BACKEND'])")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT_DIR,
                          capture_output=True, text=True, timeout=60)


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
