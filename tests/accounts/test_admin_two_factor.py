"""The Django admin asks for the same two factors as the dashboard: its login page sends to
/login/, and a session without the second factor has no admin permission, superusers included."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from cert_portal.accounts.admin_site import TwoFactorAdminSite
from organizations.models import Sector
from tests.accounts.support import enter_code, enter_password, text
from tests.factories import UserFactory
from tests.twofactor import sign_in, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def test_the_admin_site_is_the_two_factor_one():
    assert isinstance(admin.site, TwoFactorAdminSite)


def test_the_admin_login_page_sends_to_the_two_factor_sign_in(db):
    response = Client().get("/admin/login/", {"next": "/admin/organizations/cert/"})

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/organizations/cert/"
    assert Client().get("/admin/login/")["Location"] == "/login/?next=/admin/"


def test_a_superuser_without_the_second_factor_is_refused(superuser):
    client = Client()
    client.force_login(superuser)  # the password alone

    response = client.get("/admin/organizations/cert/", follow=True)

    assert response.redirect_chain == [
        ("/admin/login/?next=/admin/organizations/cert/", 302),
        ("/login/?next=/admin/organizations/cert/", 302),
    ]
    added = client.post("/admin/organizations/sector/add/", {"slug": "x", "name": "X",
                                                             "regulator": "R"})
    assert added.status_code == 302
    assert not Sector.objects.filter(slug="x").exists()


def test_a_superuser_with_both_factors_uses_the_admin(superuser):
    client = sign_in(Client(), superuser)

    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/")["Location"] == "/admin/"


def test_signing_in_through_the_pages_opens_the_admin(superuser):
    device = TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True)
    client = Client()
    client.get("/admin/", follow=True)

    enter_password(client, superuser, next_url="/admin/")
    done = enter_code(client, totp_code(device))

    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_verified_member_who_is_not_staff_is_told_so_not_sent_round_in_circles(member):
    client = sign_in(Client(), member("lahore", "handler"))

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain == [("/admin/login/?next=/admin/", 302)]
    assert response.status_code == 403
    assert "this account may not use the administration pages" in text(response)


def test_the_admin_sign_out_is_the_portal_sign_out(superuser):
    client = sign_in(Client(), superuser)

    response = client.post("/admin/logout/")

    assert response["Location"] == "/"
    assert "_auth_user_id" not in client.session


def test_the_admin_shows_no_authenticator_secret_but_can_remove_one(superuser, member):
    handler = member("lahore", "handler")
    device = TOTPDevice.objects.create(user=handler, name="phone", confirmed=True)
    client = sign_in(Client(), superuser)

    change = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    config = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/")
    deleted = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})

    assert change.status_code == 200 and device.key not in text(change)
    assert config.status_code == 403
    assert deleted.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
