"""Fixtures of the staff dashboard's tests: the personas of tests/incidents, and a client that has
signed in with both factors."""

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.incidents.conftest import certs, clock, media, member, outsider, rules  # noqa: F401


def sign_in(client: Client, user) -> Client:
    """Sign `client` in as `user`, past the second factor (a confirmed TOTP device), as the
    sign-in page leaves a session after a right password and a right code."""
    device = (TOTPDevice.objects.filter(user=user, confirmed=True).first()
              or TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True))
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def staff_client():
    """staff_client(user) -> a new test client signed in as `user` with both factors."""
    return lambda user: sign_in(Client(), user)
