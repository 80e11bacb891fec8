"""Staff sign-in with two factors (issue 9, item 1): the password, then a code of the member's
authenticator or a recovery code; enrolment of an authenticator for those without one."""

from __future__ import annotations

import time
from base64 import b32decode

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cert_portal.accounts.devices import (
    RECOVERY_CODE_COUNT,
    authenticator_enrolment_begin,
    recovery_codes_issue,
)
from cert_portal.accounts.views import PENDING_SESSION_KEY
from tests.accounts.support import (
    enter_code,
    enter_password,
    shown_recovery_codes,
    shown_secret,
    signed_in,
    text,
    verified_with,
)
from tests.factories import UserFactory
from tests.twofactor import next_totp_code, totp_code, wrong_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def handler(member):
    return member("lahore", "handler")


@pytest.fixture
def authenticator(handler) -> TOTPDevice:
    return TOTPDevice.objects.create(user=handler, name="phone", confirmed=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The whole way through -------------------------------------------------------------------

def test_password_then_code_signs_in_and_goes_to_next(handler, authenticator):
    client = Client()

    form = client.get("/login/?next=/account/two-factor/")
    assert form.status_code == 200
    page = text(form)
    assert 'name="next" value="/account/two-factor/"' in page
    assert 'autocomplete="username"' in page and 'autocomplete="current-password"' in page
    assert '<label for="id_username">' in page and '<label for="id_password">' in page

    password = enter_password(client, handler, next_url="/account/two-factor/")
    assert password.status_code == 302 and password["Location"] == "/login/code/"
    assert not signed_in(client), "the password alone signs nobody in"
    assert client.session[PENDING_SESSION_KEY]["user"] == str(handler.pk)

    step_two = client.get("/login/code/")
    page = text(step_two)
    assert step_two.status_code == 200 and handler.username in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page

    done = enter_code(client, totp_code(authenticator))
    assert done.status_code == 302 and done["Location"] == "/account/two-factor/"
    assert signed_in(client)
    assert verified_with(client) == authenticator.persistent_id
    assert PENDING_SESSION_KEY not in client.session
    assert client.get("/account/two-factor/").status_code == 200


def test_without_next_sign_in_lands_in_the_dashboard(handler, authenticator):
    client = Client()
    enter_password(client, handler)

    done = enter_code(client, totp_code(authenticator))

    assert done["Location"] == "/dashboard/"


def test_a_code_typed_with_spaces_is_accepted(handler, authenticator):
    client = Client()
    enter_password(client, handler)
    code = totp_code(authenticator)

    assert enter_code(client, f" {code[:3]} {code[3:]} ").status_code == 302
    assert signed_in(client)


@pytest.mark.parametrize("offsite", ["https://evil.example/", "//evil.example/dashboard/",
                                     "http://testserver.evil.example/"])
def test_an_offsite_next_is_dropped(handler, authenticator, offsite):
    client = Client()
    form = client.get("/login/", {"next": offsite})
    assert '<input type="hidden" name="next" value="">' in text(form)

    enter_password(client, handler, next_url=offsite)
    done = enter_code(client, totp_code(authenticator))

    assert done["Location"] == "/dashboard/"


# --- Refusals --------------------------------------------------------------------------------

def test_a_wrong_password_goes_no_further(handler, authenticator):
    client = Client()

    response = enter_password(client, handler, password="wrong password")

    assert response.status_code == 400
    page = text(response)
    assert "Please enter a correct username and password" in page
    assert 'class="error-summary" role="alert" tabindex="-1" id="error-summary" autofocus' in page
    assert page.count("autofocus") == 1, "the summary takes the focus, not the first field"
    assert PENDING_SESSION_KEY not in client.session
    assert client.get("/login/code/")["Location"] == "/login/"
    assert not signed_in(client)


def test_an_inactive_user_cannot_sign_in(handler, authenticator):
    handler.is_active = False
    handler.save(update_fields=["is_active"])
    client = Client()

    assert enter_password(client, handler).status_code == 400
    assert PENDING_SESSION_KEY not in client.session


def test_a_wrong_code_does_not_sign_in_and_the_throttle_then_says_how_long_to_wait(
        handler, authenticator, clock):
    client = Client()
    enter_password(client, handler)
    right = totp_code(authenticator)

    refused = enter_code(client, wrong_code(authenticator))

    assert refused.status_code == 400
    page = text(refused)
    assert "That code is not right" in page
    assert 'aria-describedby="id_code_helptext id_code_error"' in page
    assert '<a href="#id_code">' in page, "the summary links to the field"
    assert not signed_in(client)
    authenticator.refresh_from_db()
    assert authenticator.throttling_failure_count == 1

    # django-otp's throttle: after one failure, every code waits a second, the right one too.
    throttled = enter_code(client, right)
    assert throttled.status_code == 400
    assert "Too many wrong codes. Wait 1 second, then try again." in text(throttled)
    assert not signed_in(client)

    clock.advance(seconds=2)
    assert enter_code(client, right).status_code == 302
    assert signed_in(client)


def test_the_throttle_doubles_the_wait_after_each_wrong_code(handler, authenticator, clock):
    client = Client()
    enter_password(client, handler)
    for attempt in range(5):
        if attempt:
            clock.advance(seconds=60)  # longer than each wait: every wrong code is checked
        assert "That code is not right" in text(enter_code(client, wrong_code(authenticator)))

    response = enter_code(client, totp_code(authenticator))

    assert "Wait 16 seconds" in text(response)
    assert not signed_in(client)


def test_an_expired_password_step_must_start_again(handler, authenticator, clock):
    client = Client()
    enter_password(client, handler, next_url="/account/two-factor/")
    clock.advance(minutes=5, seconds=1)

    response = enter_code(client, totp_code(authenticator))

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Faccount%2Ftwo-factor%2F"
    assert "More than 5 minutes passed since you entered your password" in messages_of(response)[0]
    assert not signed_in(client)
    assert PENDING_SESSION_KEY not in client.session
    authenticator.refresh_from_db()
    assert authenticator.last_t == -1, "the code was not even checked"


def test_an_empty_code_asks_for_one(handler, authenticator):
    client = Client()
    enter_password(client, handler)

    response = enter_code(client)

    assert response.status_code == 400
    assert "Enter the 6-digit code from your authenticator app, or a recovery code" in text(response)
    assert not signed_in(client)


def test_a_used_code_cannot_sign_in_a_second_time(handler, authenticator):
    first = Client()
    enter_password(first, handler)
    code = totp_code(authenticator)
    assert enter_code(first, code).status_code == 302

    second = Client()
    enter_password(second, handler)
    replay = enter_code(second, code)

    assert replay.status_code == 400
    assert not signed_in(second)


# --- Recovery codes ---------------------------------------------------------------------------

def test_a_recovery_code_signs_in_once(handler, authenticator):
    codes = recovery_codes_issue(user=handler, actor=handler)
    client = Client()
    enter_password(client, handler)

    done = client.post("/login/code/", {"recovery_code": codes[0].upper()})

    assert done.status_code == 302 and signed_in(client)
    assert verified_with(client).startswith("otp_static.staticdevice/")
    assert messages_of(done) == [f"You signed in with a recovery code; {RECOVERY_CODE_COUNT - 1} "
                                 "are left."]
    assert StaticToken.objects.filter(device__user=handler).count() == RECOVERY_CODE_COUNT - 1

    again = Client()
    enter_password(again, handler)
    refused = again.post("/login/code/", {"recovery_code": codes[0]})
    assert refused.status_code == 400
    assert "That code is not right" in text(refused)
    assert not signed_in(again)


def test_few_recovery_codes_left_says_where_to_get_new_ones(handler, authenticator):
    codes = recovery_codes_issue(user=handler, actor=handler)
    StaticToken.objects.filter(device__user=handler).exclude(token__in=codes[:3]).delete()
    client = Client()
    enter_password(client, handler)

    done = client.post("/login/code/", {"recovery_code": f"{codes[0][:4]}-{codes[0][4:]}"})

    assert messages_of(done) == ["You signed in with a recovery code; 2 are left. Generate new "
                                 "ones on your two-factor page."]


def test_code_and_recovery_code_together_are_refused(handler, authenticator):
    codes = recovery_codes_issue(user=handler, actor=handler)
    client = Client()
    enter_password(client, handler)

    response = enter_code(client, totp_code(authenticator), codes[0])

    assert response.status_code == 400
    assert "not both" in text(response)
    assert StaticToken.objects.filter(device__user=handler).count() == RECOVERY_CODE_COUNT


# --- Enrolment ---------------------------------------------------------------------------------

def test_a_user_without_authenticator_must_enrol_and_gets_ten_recovery_codes(handler):
    client = Client()

    password = enter_password(client, handler, next_url="/account/two-factor/")
    assert password["Location"] == "/login/authenticator/"
    assert client.get("/login/code/")["Location"] == "/login/authenticator/"

    page = client.get("/login/authenticator/")
    html = text(page)
    assert page.status_code == 200
    assert '<div class="qr-code" role="img"' in html and "<svg" in html and "<path" in html
    assert "data:image" not in html and "<img" not in html, "the QR code is inline SVG"
    device = TOTPDevice.objects.get(user=handler)
    assert not device.confirmed
    secret = shown_secret(html)
    assert b32decode(secret) == device.bin_key
    assert not signed_in(client)
    # Reloading the page keeps the key the user may have scanned already.
    assert shown_secret(text(client.get("/login/authenticator/"))) == secret
    assert TOTPDevice.objects.filter(user=handler).count() == 1

    # The code an app computes from the key on the page.
    app = TOTP(b32decode(secret))
    app.time = time.time()
    enrolled = client.post("/login/authenticator/", {"code": f"{app.token():06d}"})

    assert enrolled.status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert signed_in(client) and verified_with(client) == device.persistent_id
    codes = shown_recovery_codes(text(enrolled))
    assert len(codes) == RECOVERY_CODE_COUNT == 10
    stored = set(StaticToken.objects.filter(device__user=handler).values_list("token", flat=True))
    assert {code.replace("-", "") for code in codes} == stored
    assert 'href="/account/two-factor/"' in text(enrolled)
    assert "I have saved them" in text(enrolled)


def test_a_wrong_enrolment_code_confirms_nothing(handler, clock):
    client = Client()
    enter_password(client, handler)
    client.get("/login/authenticator/")
    device = TOTPDevice.objects.get(user=handler)

    refused = client.post("/login/authenticator/", {"code": wrong_code(device)})

    assert refused.status_code == 400
    assert "That code is not right" in text(refused)
    assert 'aria-describedby="id_code_helptext id_code_error"' in text(refused)
    device.refresh_from_db()
    assert not device.confirmed and not signed_in(client)
    assert not StaticToken.objects.filter(device__user=handler).exists()


def test_enrolment_is_not_offered_to_a_user_who_has_an_authenticator(handler, authenticator):
    """Otherwise the password alone could replace the authenticator."""
    client = Client()
    enter_password(client, handler)

    response = client.get("/login/authenticator/")

    assert response["Location"] == "/login/code/"
    assert list(TOTPDevice.objects.filter(user=handler)) == [authenticator]


def test_an_abandoned_enrolment_is_replaced_by_the_next_one(handler):
    abandoned = authenticator_enrolment_begin(user=handler, actor=handler)
    client = Client()
    enter_password(client, handler)

    client.get("/login/authenticator/")

    device = TOTPDevice.objects.get(user=handler)
    assert device.pk != abandoned.pk and not device.confirmed


def test_enrolment_pages_need_the_password_step(handler):
    client = Client()

    assert client.get("/login/authenticator/")["Location"] == "/login/"
    assert client.post("/login/authenticator/", {"code": "123456"})["Location"] == "/login/"
    assert not TOTPDevice.objects.filter(user=handler).exists()


# --- Who may sign in, and where they land ------------------------------------------------------

def test_a_user_of_no_cert_signs_in_and_meets_the_refusal_page(db):
    stranger = UserFactory(username="stranger")
    device = TOTPDevice.objects.create(user=stranger, name="phone", confirmed=True)
    client = Client()
    enter_password(client, stranger, next_url="/dashboard/")

    done = enter_code(client, totp_code(device))

    assert done.status_code == 302 and signed_in(client)
    refused = client.get(done["Location"])
    assert refused.status_code == 403
    assert "not a member of any active CERT" in text(refused)


def test_staff_pages_send_a_session_without_the_second_factor_to_sign_in(handler, authenticator):
    client = Client()
    client.force_login(handler)  # a password, no second factor

    response = client.get("/account/two-factor/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/two-factor/"


def test_the_sign_in_page_tells_a_signed_in_member_who_they_are(handler, staff_client):
    client = staff_client(handler)

    page = text(client.get("/login/"))

    assert f"You are signed in as {handler.username}" in page


def test_signing_in_as_someone_else_ends_the_other_session(handler, authenticator, member):
    client = Client()
    enter_password(client, handler)
    enter_code(client, totp_code(authenticator))
    other = member("punjab", "analyst")
    other_device = TOTPDevice.objects.create(user=other, name="phone", confirmed=True)

    enter_password(client, other)
    enter_code(client, next_totp_code(other_device))

    assert client.session["_auth_user_id"] == str(other.pk)
    assert verified_with(client) == other_device.persistent_id


# --- Sign-out, and the public header -----------------------------------------------------------

def test_sign_out_is_a_post_and_goes_home_with_a_message(handler, staff_client):
    client = staff_client(handler)

    assert client.get("/logout/").status_code == 405
    assert signed_in(client)
    response = client.post("/logout/", follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert "You are signed out." in text(response)
    assert not signed_in(client)


def test_the_public_header_offers_sign_in_to_the_dashboard(db):
    page = text(Client().get("/"))

    assert '<a href="/login/?next=/dashboard/">Staff sign-in</a>' in page
    assert "/admin/login/" not in page


def test_the_public_header_of_a_signed_in_member_has_the_dashboard_and_sign_out(handler,
                                                                                staff_client):
    page = text(staff_client(handler).get("/"))

    assert '<a href="/dashboard/">Dashboard</a>' in page
    assert '<form method="post" action="/logout/" class="inline-form">' in page
    assert "Staff sign-in" not in page


def test_pending_state_is_dropped_when_the_user_is_deactivated_meanwhile(handler, authenticator):
    client = Client()
    enter_password(client, handler)
    handler.is_active = False
    handler.save(update_fields=["is_active"])

    response = enter_code(client, totp_code(authenticator))

    assert response["Location"] == "/login/"
    assert not signed_in(client)


def test_the_pending_step_lasts_five_minutes(handler, authenticator, clock):
    client = Client()
    enter_password(client, handler)
    clock.advance(minutes=4, seconds=59)

    assert enter_code(client, totp_code(authenticator)).status_code == 302
    assert signed_in(client)
