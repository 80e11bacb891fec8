"""Two-factor sign-in for tests: a client signed in past the second factor, and the codes a
user's authenticator would show."""

from __future__ import annotations

import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


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


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code `device`'s authenticator app shows now (or `steps_ahead` 30-second steps later,
    within the device's tolerance: a code of a step already used is refused)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def next_totp_code(device: TOTPDevice) -> str:
    """A code `device` accepts now: the current step's, or the next one's when the current step
    was already used (a sign-in earlier in the same test)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    steps_ahead = 1 if totp.t() <= device.last_t else 0
    return totp_code(device, steps_ahead=steps_ahead)


def wrong_code(device: TOTPDevice) -> str:
    """A 6-digit code that `device` refuses now: none of the steps within its tolerance."""
    near = {totp_code(device, steps_ahead=step) for step in range(-2, 3)}
    return next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in near)
