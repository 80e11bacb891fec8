"""The member's two-factor page (/account/two-factor/): what protects the account, new recovery
codes, and replacing the authenticator."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cert_portal.accounts.devices import RECOVERY_CODE_COUNT, recovery_codes_issue
from cert_portal.accounts.views import REPLACING_SESSION_KEY
from tests.accounts.support import shown_recovery_codes, text, verified_with
from tests.twofactor import totp_code, wrong_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def handler(member):
    return member("lahore", "handler")


@pytest.fixture
def member_client(handler, staff_client) -> Client:
    return staff_client(handler)


@pytest.fixture
def authenticator(handler, member_client) -> TOTPDevice:
    return TOTPDevice.objects.get(user=handler, confirmed=True)


def tokens(user) -> set[str]:
    return set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))


def test_the_page_shows_the_authenticator_and_the_codes_left(handler, member_client, authenticator):
    recovery_codes_issue(user=handler, actor=handler)
    StaticToken.objects.filter(device__user=handler).first().delete()

    response = member_client.get("/account/two-factor/")

    assert response.status_code == 200
    page = text(response)
    assert "On." in page
    assert f"You have {RECOVERY_CODE_COUNT - 1} unused recovery codes." in page
    assert 'action="/account/two-factor/recovery-codes/"' in page
    assert 'action="/account/two-factor/replace/"' in page
    assert 'for="replace_code"' in page and 'id="replace_code"' in page
    assert [t.name for t in response.templates][0] == "accounts/two_factor.html"
    assert "dashboard/base.html" in [t.name for t in response.templates]
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_page_is_for_whoever_passed_both_factors(handler, outsider, staff_client):
    assert Client().get("/account/two-factor/")["Location"] == "/login/?next=/account/two-factor/"
    unverified = Client()
    unverified.force_login(handler)
    assert unverified.get("/account/two-factor/").status_code == 302
    # The registry administrator belongs to no CERT, yet manages their own authenticator here.
    administrator = staff_client(outsider).get("/account/two-factor/")
    assert administrator.status_code == 200 and "On." in text(administrator)


def test_new_recovery_codes_are_shown_once_and_the_old_ones_stop_working(handler, member_client,
                                                                        authenticator):
    old = recovery_codes_issue(user=handler, actor=handler)

    assert member_client.get("/account/two-factor/recovery-codes/").status_code == 405
    response = member_client.post("/account/two-factor/recovery-codes/")

    assert response.status_code == 200
    shown = shown_recovery_codes(text(response))
    assert len(shown) == RECOVERY_CODE_COUNT
    assert tokens(handler) == {code.replace("-", "") for code in shown}
    assert not tokens(handler) & set(old)
    assert "Earlier recovery codes no longer work." in text(response)
    # Shown once: the page of the account only counts them.
    assert shown[0] not in text(member_client.get("/account/two-factor/"))


def test_recovery_codes_need_a_verified_user(handler, outsider, staff_client):
    unverified = Client()
    unverified.force_login(handler)

    assert unverified.post("/account/two-factor/recovery-codes/").status_code == 302
    assert not StaticToken.objects.exists()
    # Anyone verified gets codes of their own account only, CERT or not.
    assert staff_client(outsider).post("/account/two-factor/recovery-codes/").status_code == 200
    assert tokens(outsider) and not tokens(handler)


def test_replacing_the_authenticator_needs_a_current_code(handler, member_client, authenticator):
    refused = member_client.post("/account/two-factor/replace/", {"code": wrong_code(authenticator)})

    assert refused.status_code == 400
    assert "That code is not right" in text(refused)
    assert 'aria-describedby="replace_code_helptext replace_code_error"' in text(refused)
    assert list(TOTPDevice.objects.filter(user=handler)) == [authenticator]
    assert REPLACING_SESSION_KEY not in member_client.session
    # Nor can the new-authenticator page be reached without it.
    skipped = member_client.get("/account/two-factor/new-authenticator/")
    assert skipped["Location"] == "/account/two-factor/"


def test_replacing_the_authenticator(handler, member_client, authenticator, clock):
    started = member_client.post("/account/two-factor/replace/", {"code": totp_code(authenticator)})
    assert started["Location"] == "/account/two-factor/new-authenticator/"
    new = TOTPDevice.objects.get(user=handler, confirmed=False)

    page = member_client.get("/account/two-factor/new-authenticator/")
    assert page.status_code == 200 and "<svg" in text(page)
    # The old one still works until the new one is confirmed.
    assert TOTPDevice.objects.filter(pk=authenticator.pk, confirmed=True).exists()
    assert member_client.get("/account/two-factor/").status_code == 200

    wrong = member_client.post("/account/two-factor/new-authenticator/", {"code": wrong_code(new)})
    assert wrong.status_code == 400
    new.refresh_from_db()
    assert not new.confirmed
    clock.advance(seconds=2)  # past the throttle's wait after a wrong code

    done = member_client.post("/account/two-factor/new-authenticator/", {"code": totp_code(new)})

    assert done["Location"] == "/account/two-factor/"
    assert list(TOTPDevice.objects.filter(user=handler)) == [new]
    new.refresh_from_db()
    assert new.confirmed
    assert verified_with(member_client) == new.persistent_id
    assert REPLACING_SESSION_KEY not in member_client.session
    after = member_client.get("/account/two-factor/", follow=True)
    assert after.status_code == 200
    assert "Your new authenticator is set up" in text(after)


def test_a_lost_phone_is_replaced_with_a_recovery_code(handler, member_client, authenticator):
    codes = recovery_codes_issue(user=handler, actor=handler)

    started = member_client.post("/account/two-factor/replace/", {"recovery_code": codes[3]})

    assert started["Location"] == "/account/two-factor/new-authenticator/"
    assert codes[3] not in tokens(handler)


def test_the_replacement_expires(handler, member_client, authenticator, clock):
    member_client.post("/account/two-factor/replace/", {"code": totp_code(authenticator)})
    new = TOTPDevice.objects.get(user=handler, confirmed=False)
    clock.advance(minutes=11)

    response = member_client.post("/account/two-factor/new-authenticator/", {"code": totp_code(new)})

    assert response["Location"] == "/account/two-factor/"
    new.refresh_from_db()
    assert not new.confirmed
    assert TOTPDevice.objects.get(user=handler, confirmed=True) == authenticator
