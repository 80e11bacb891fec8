"""Every security header on the public, staff and API pages, the redirect to HTTPS, the cookies and
the session lifetime of the production settings (issue 13, item 2; ASVS 5.0 V3.4, V3.3, V7.3).

The expected values are typed out here, not read from the settings, so that a weakened setting
fails these tests. The production values of settings that tests/settings.py changes (the HTTPS
redirect, Secure cookies) come from the real settings module, started in a fresh interpreter
without the test settings.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.http import HttpResponse
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from cert_portal.audit.models import AuditEvent, AuditKind
from cert_portal.security_headers import SecurityHeadersMiddleware
from tests import startup
from tests.accounts.support import enter_code, enter_password
from tests.api.taxii_support import TAXII
from tests.incidents.test_public_reports import (
    RECEIVED_URL,
    open_status,
    report_data,
    sector_pk,
    submit,
)
from tests.twofactor import totp_code

pytestmark = pytest.mark.django_db

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "p" * 50, "PORTAL_BASE_URL": "https://cert.example.gov.pk",
              "ALLOWED_HOSTS": "cert.example.gov.pk", "BEHIND_TLS_PROXY": "1"}

EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
# The features the portal must never use; the header may deny more.
MUST_DENY = {"camera", "microphone", "geolocation", "payment", "usb", "serial", "hid",
             "display-capture", "publickey-credentials-get"}
ONE_YEAR = 31536000


def production_settings(*names: str, **variables: str) -> dict:
    """{name: value} of the real settings module started with the production variables (and
    `variables`), as the WSGI server would start it."""
    pairs = ", ".join(f"{name!r}: settings.{name}" for name in names)
    printing = f"json.dumps({{{pairs}}})"
    result = startup.start_django(printing, **{**PRODUCTION, **variables})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"{name} twice in {header!r}"
        directives[name] = sources
    return directives


def permissions(header: str) -> dict[str, str]:
    features = {}
    for part in header.split(","):
        feature, _, allowlist = part.strip().partition("=")
        features[feature] = allowlist
    return features


def header_problems(response) -> list[str]:
    """What is missing or wrong among the security headers of `response` (an HTTPS answer)."""
    problems = []
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    if not csp or csp_directives(csp) != EXPECTED_CSP:
        problems.append(f"Content-Security-Policy {csp!r}")
    if "unsafe" in csp or "Content-Security-Policy-Report-Only" in headers:
        problems.append(f"a weakened CSP {csp!r}")
    policy = permissions(headers.get("Permissions-Policy", ""))
    if not MUST_DENY <= set(policy) or set(policy.values()) != {"()"}:
        problems.append(f"Permissions-Policy {headers.get('Permissions-Policy')!r}")
    expected = {
        "Strict-Transport-Security": f"max-age={ONE_YEAR}; includeSubDomains; preload",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    problems += [f"{name} {headers.get(name)!r}" for name, value in expected.items()
                 if headers.get(name) != value]
    cache_control = [part.strip() for part in headers.get("Cache-Control", "").split(",")]
    if "no-store" not in cache_control:
        problems.append(f"Cache-Control {headers.get('Cache-Control')!r}")
    return problems


def test_every_security_header_on_public_staff_and_api_pages(rules, member, staff_client,
                                                             key_client):
    public = Client()
    pages = {
        "home": public.get("/", secure=True),
        "report form": public.get("/report/", secure=True),
        "advisories": public.get("/advisories/", secure=True),
    }
    data = report_data(sector=sector_pk("banking"))
    assert submit(public, data).status_code == 302
    receipt = public.get(RECEIVED_URL, secure=True)
    token = re.search(r"Secret token</dt><dd><code>([^<]+)</code>", receipt.content.decode())
    assert token, "the receipt shows the token"
    pages["receipt with the token"] = receipt
    reference = re.search(r"PK-INC-\d{4}-\d+", receipt.content.decode()).group(0)
    reporter, opened = open_status(reference, token.group(1))
    pages["status page"] = reporter.get(opened["Location"], secure=True)

    staff = staff_client(member("banking", "handler"))
    pages["queue"] = staff.get("/dashboard/", secure=True)
    pages["incident page"] = staff.get(f"/dashboard/incidents/{reference}/", secure=True)
    api = key_client("banking", scope="read")
    pages["API incident list"] = api.get("/api/v1/incidents/", secure=True)
    pages["TAXII discovery"] = api.get("/taxii2/", secure=True, HTTP_ACCEPT=TAXII)

    assert {label: page.status_code for label, page in pages.items()} == \
        dict.fromkeys(pages, 200)
    assert reference in pages["incident page"].content.decode()
    assert reference in pages["API incident list"].content.decode()
    problems = {label: header_problems(page) for label, page in pages.items()}
    assert problems == dict.fromkeys(pages, [])


def test_plain_http_gets_no_hsts_and_the_headers_that_do_not_need_https(db):
    page = Client().get("/report/")

    assert page.status_code == 200
    assert "Strict-Transport-Security" not in page.headers  # only ever sent over HTTPS
    assert csp_directives(page["Content-Security-Policy"]) == EXPECTED_CSP
    assert page["X-Frame-Options"] == "DENY"


def test_plain_http_is_redirected_to_https_when_the_redirect_is_on(db):
    with override_settings(SECURE_SSL_REDIRECT=True):
        plain = Client().get("/report/?lang=ur")
        secure = Client().get("/report/", secure=True)

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/report/?lang=ur"
    assert secure.status_code == 200


def test_behind_the_tls_proxy_a_forwarded_https_request_is_not_redirected(db):
    with override_settings(SECURE_SSL_REDIRECT=True,
                           SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        forwarded = Client().get("/report/", HTTP_X_FORWARDED_PROTO="https")
        plain = Client().get("/report/", HTTP_X_FORWARDED_PROTO="http")

    assert forwarded.status_code == 200
    assert forwarded["Strict-Transport-Security"].startswith(f"max-age={ONE_YEAR}")
    assert plain.status_code == 301


def test_production_defaults_fail_closed_and_each_can_be_turned_off_for_plain_http():
    names = ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
             "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
    assert production_settings(*names) == {
        "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": ONE_YEAR,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True}
    # What `make serve` on a developer's machine sets to speak plain HTTP.
    assert production_settings(*names, SECURE_SSL_REDIRECT="0", SECURE_COOKIES="0",
                               SECURE_HSTS_SECONDS="0") == {
        "SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False}
    local = production_settings("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", DEBUG="1")
    assert local == {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0}


def test_a_bad_hsts_value_stops_start_up_naming_it():
    result = startup.start_django("1", **PRODUCTION, SECURE_HSTS_SECONDS="a year")

    assert result.returncode != 0
    assert "SECURE_HSTS_SECONDS='a year' is not a whole number" in result.stderr


COOKIE_SETTINGS = ("SESSION_COOKIE_NAME", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
                   "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_NAME", "CSRF_COOKIE_SECURE",
                   "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE", "LANGUAGE_COOKIE_SECURE",
                   "LANGUAGE_COOKIE_HTTPONLY", "LANGUAGE_COOKIE_SAMESITE",
                   "SESSION_EXPIRE_AT_BROWSER_CLOSE", "SESSION_COOKIE_AGE")


def test_cookies_of_the_production_settings_are_host_only_secure_httponly_and_lax(member):
    production = production_settings(*COOKIE_SETTINGS)
    assert production["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert production["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    handler = member("lahore", "handler")
    TOTPDevice.objects.create(user=handler, name="phone", confirmed=True)

    with override_settings(**production):
        client = Client()
        form = client.get("/login/", secure=True)
        password = enter_password(client, handler, secure=True)
        language = client.post("/i18n/setlang/", {"language": "ur", "next": "/"}, secure=True)

    csrf = form.cookies["__Host-csrftoken"]
    session = password.cookies["__Host-sessionid"]
    for cookie in (csrf, session):
        # What a browser requires of a __Host- cookie, and what keeps it from scripts and
        # cross-site posts.
        assert cookie["secure"] is True and cookie["httponly"] is True
        assert (cookie["path"], cookie["domain"], cookie["samesite"]) == ("/", "", "Lax")
    # The session cookie ends with the browser; the server ends the session too (see below).
    assert (session["expires"], session["max-age"]) == ("", "")
    language_cookie = language.cookies["django_language"]
    assert language_cookie["secure"] is True and language_cookie["httponly"] is True
    assert language_cookie["samesite"] == "Lax"


def test_the_session_lifetime_is_twelve_hours_by_default_and_a_setting():
    assert production_settings("SESSION_COOKIE_AGE", "SESSION_EXPIRE_AT_BROWSER_CLOSE") == {
        "SESSION_COOKIE_AGE": 12 * 3600, "SESSION_EXPIRE_AT_BROWSER_CLOSE": True}
    assert production_settings("SESSION_COOKIE_AGE", SESSION_MAX_HOURS="3") == {
        "SESSION_COOKIE_AGE": 3 * 3600}

    refused = startup.start_django("1", **PRODUCTION, SESSION_MAX_HOURS="0")
    assert refused.returncode != 0
    assert "SESSION_MAX_HOURS=0 is too small" in refused.stderr


def test_an_active_session_ends_at_its_absolute_lifetime(member, clock, settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    handler = member("lahore", "handler")
    device = TOTPDevice.objects.create(user=handler, name="phone", confirmed=True)
    client = Client()
    enter_password(client, handler)
    assert enter_code(client, totp_code(device)).status_code == 302
    signed_in_at = clock.now

    # A request every 25 minutes for 11 hours 40 minutes: never idle, still signed in...
    for _ in range(28):
        clock.advance(minutes=25)
        assert client.get("/dashboard/").status_code == 200, clock.now - signed_in_at
    assert SESSION_KEY in client.session
    # ...and 21 minutes later, 12 hours and a minute after signing in, signed out.
    clock.set(signed_in_at + timedelta(hours=12, minutes=1))

    response = client.get("/dashboard/?tab=mine")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/dashboard/%3Ftab%3Dmine"
    assert SESSION_KEY not in client.session
    login = client.get(response["Location"])
    assert "You were signed out 12 hours after signing in" in login.content.decode()
    sign_out = AuditEvent.objects.filter(kind=AuditKind.SIGN_OUT, actor=handler).get()
    assert sign_out.detail == {"reason": "lifetime"}


def test_a_session_signed_in_without_a_sign_in_time_counts_from_its_first_request(
        member, staff_client, clock):
    client = staff_client(member("lahore", "handler"))  # force_login: no sign-in time stored
    start = clock.now
    assert client.get("/dashboard/").status_code == 200

    answers = []
    while clock.now - start < timedelta(hours=12, minutes=30):
        clock.advance(minutes=25)
        answers.append((clock.now - start, client.get("/dashboard/").status_code))

    signed_out_after = next(elapsed for elapsed, status in answers if status == 302)
    assert timedelta(hours=12) < signed_out_after <= timedelta(hours=12, minutes=25)
    assert SESSION_KEY not in client.session


def _response_with(**headers) -> HttpResponse:
    response = HttpResponse("page")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def test_a_view_that_chose_its_caching_keeps_it_and_any_other_gets_no_store():
    chosen = SecurityHeadersMiddleware(lambda request: _response_with(
        Cache_Control="public, max-age=300"))(None)
    unchosen = SecurityHeadersMiddleware(lambda request: _response_with())(None)
    own_policy = SecurityHeadersMiddleware(lambda request: _response_with(
        Permissions_Policy="camera=(self)"))(None)

    assert chosen["Cache-Control"] == "public, max-age=300"
    assert {"no-store", "no-cache", "private"} <= {
        part.strip() for part in unchosen["Cache-Control"].split(",")}
    assert own_policy["Permissions-Policy"] == "camera=(self)"
    assert permissions(unchosen["Permissions-Policy"])["camera"] == "()"
