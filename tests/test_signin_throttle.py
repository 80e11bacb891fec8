"""Staff sign-in is throttled (issue 7, finding 7): after AXES_FAILURE_LIMIT wrong passwords for
one account from one address, that account is locked for that address for AXES_COOLOFF_MINUTES,
and after SIGNIN_FAILURE_RATE_LIMIT failures from one address that address is locked: even the
right password gets the lock-out page (429, saying when to try again and whom to ask).

The password is the first step of the two-factor sign-in at /login/ (issue 9): a right password
leads to the second step (PENDING_SESSION_KEY), a locked one leads nowhere."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client

from cert_portal.accounts.views import PENDING_SESSION_KEY
from tests import startup
from tests.factories import UserFactory

LOGIN_URL = "/login/"
PASSWORD = "correct horse battery staple"
ATTACKER = "198.51.100.66"


@pytest.fixture
def staff(db):
    return UserFactory(username="night.handler", is_staff=True)


def sign_in(client: Client, password: str, username: str = "night.handler", **extra):
    return client.post(LOGIN_URL, {"username": username, "password": password,
                                   "next": "/admin/"}, **extra)


def signed_in(client: Client) -> bool:
    """Whether the password step passed (the second factor is tested in tests/accounts/)."""
    return PENDING_SESSION_KEY in client.session


def test_the_right_password_signs_in(staff):
    client = Client()

    response = sign_in(client, PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_after_the_failure_limit_even_the_right_password_gets_the_lock_out_page(staff):
    limit = django_settings.AXES_FAILURE_LIMIT
    client = Client(REMOTE_ADDR=ATTACKER)

    wrong = [sign_in(client, f"guess {n}") for n in range(limit - 1)]
    last_wrong = sign_in(client, "one more guess")
    right = sign_in(client, PASSWORD)

    assert [response.status_code for response in wrong] == [400] * (limit - 1)
    assert last_wrong.status_code == 429
    assert right.status_code == 429
    assert not signed_in(client)
    assert right["Retry-After"] == str(django_settings.AXES_COOLOFF_MINUTES * 60)
    text = right.content.decode()
    assert "Sign-in locked for a while" in text
    assert f"Try again in {django_settings.AXES_COOLOFF_MINUTES} minutes" in text
    assert "ask the head of your CERT or a portal administrator" in text


def test_failures_are_forgiven_only_once_both_factors_passed(staff):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.twofactor import totp_code

    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    limit = django_settings.AXES_FAILURE_LIMIT
    client = Client(REMOTE_ADDR=ATTACKER)
    for n in range(limit - 1):
        sign_in(client, f"guess {n}")
    # The right password alone (no code) does not reset the count: one more guess locks.
    assert sign_in(Client(REMOTE_ADDR=ATTACKER), PASSWORD).status_code == 302
    assert sign_in(client, "one more guess").status_code == 429
    assert sign_in(Client(REMOTE_ADDR=ATTACKER), PASSWORD).status_code == 429

    other = Client(REMOTE_ADDR="203.0.113.10")
    for n in range(limit - 1):
        sign_in(other, f"typo {n}")
    sign_in(other, PASSWORD)
    assert other.post("/login/code/", {"code": totp_code(device)}).status_code == 302
    # Signed in with both factors: the failures of that address are forgiven.
    assert sign_in(Client(REMOTE_ADDR="203.0.113.10"), "typo again").status_code == 400


def test_the_lock_applies_to_that_account_from_that_address_only(staff):
    UserFactory(username="day.handler", is_staff=True)
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, f"guess {n}")

    colleague = Client(REMOTE_ADDR="203.0.113.10")
    other_account = Client(REMOTE_ADDR=ATTACKER)

    assert sign_in(colleague, PASSWORD).status_code == 302
    assert sign_in(other_account, PASSWORD, username="day.handler").status_code == 302


def test_the_lock_ends_after_the_cool_off(staff, monkeypatch):
    from axes.models import AccessAttempt

    client = Client(REMOTE_ADDR=ATTACKER)
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess {n}")
    assert sign_in(client, PASSWORD).status_code == 429

    cool_off = timedelta(minutes=django_settings.AXES_COOLOFF_MINUTES, seconds=1)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - cool_off)

    assert sign_in(client, PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_lock_out_page_speaks_urdu(staff):
    client = Client(REMOTE_ADDR=ATTACKER)
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"guess {n}")

    response = sign_in(client, PASSWORD, HTTP_ACCEPT_LANGUAGE="ur")

    assert response.status_code == 429
    text = response.content.decode()
    assert '<html lang="ur" dir="rtl">' in text
    assert "Sign-in locked for a while" not in text


def test_many_accounts_tried_from_one_address_lock_that_address(staff, settings):
    """Password spraying: one or two guesses for each of many accounts never reaches the
    per-account limit, so failures are also counted per address (SIGNIN_FAILURE_RATE_LIMIT)."""
    settings.SIGNIN_FAILURE_RATE_LIMIT = "10/hour"
    client = Client(REMOTE_ADDR=ATTACKER)

    sprayed = [sign_in(client, "Summer2026!", username=f"user{n}") for n in range(10)]
    refused = sign_in(client, PASSWORD)
    elsewhere = Client(REMOTE_ADDR="203.0.113.10")

    assert [response.status_code for response in sprayed] == [400] * 10
    assert refused.status_code == 429
    assert not signed_in(client)
    assert 1 <= int(refused["Retry-After"]) <= 3600
    text = refused.content.decode()
    assert "Sign-in locked for a while" in text
    assert "we do not accept any sign-in from here for now" in text
    assert sign_in(elsewhere, PASSWORD).status_code == 302


def test_a_forged_forwarded_for_does_not_dodge_the_lock(staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    for n in range(django_settings.AXES_FAILURE_LIMIT):
        sign_in(Client(REMOTE_ADDR=proxy), f"guess {n}",
                HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, {ATTACKER}")

    response = sign_in(Client(REMOTE_ADDR=proxy), PASSWORD,
                       HTTP_X_FORWARDED_FOR=f"7.7.7.7, {ATTACKER}")

    assert response.status_code == 429


def manage(*args: str, **variables: str) -> subprocess.CompletedProcess:
    return startup.manage(*args, **{"DEBUG": "1", **variables})


@pytest.mark.parametrize("variables", [{}, {"REDIS_URL": "redis://127.0.0.1:6399/3"}])
def test_manage_check_is_clean(variables):
    result = manage("check", **variables)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert result.stderr.strip() == ""


@pytest.mark.parametrize("name, value", [("AXES_FAILURE_LIMIT", "0"),
                                         ("AXES_COOLOFF_MINUTES", "zero")])
def test_bad_sign_in_settings_stop_start_up(name, value):
    result = manage("check", **{name: value})

    assert result.returncode != 0
    assert f"{name}=" in result.stderr.strip().splitlines()[-1]
