"""The second factor of staff sign-in (issue 9): a TOTP authenticator and one-time recovery codes.

Devices are django-otp's: a TOTPDevice per authenticator app (RFC 6238) and one StaticDevice per
user whose StaticTokens are the recovery codes. Every check of a code goes through the device's
verify_token, which carries django-otp's throttle (after n wrong codes the device refuses every
code, the right one included, for 2^(n-1) seconds), inside a transaction that locks the device
row, so that two requests racing with the same code cannot both pass (a used TOTP step and a used
recovery code are spent).

Selectors read; the services below are the only writes of devices (the sign-in views, the
two-factor page and the demo command call them).
"""

from __future__ import annotations

import logging
import math
import re
from base64 import b32encode

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

logger = logging.getLogger(__name__)

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
_SEPARATORS = re.compile(r"[\s-]+")


class CodeRefused(Exception):
    """A code was not accepted; the message says what to do. `wait_seconds` is set when the
    device's throttle refused it without looking at it."""

    def __init__(self, message: str, *, wait_seconds: int | None = None):
        super().__init__(message)
        self.wait_seconds = wait_seconds


# --- Selectors --------------------------------------------------------------------------------

def confirmed_authenticator(user) -> TOTPDevice | None:
    """The user's confirmed TOTP device (the newest, should there be more than one)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def recovery_codes_left(user) -> int:
    """How many unused recovery codes the user has."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def secret_base32(device: TOTPDevice) -> str:
    """The device's secret as an authenticator app's "enter a setup key" expects it, in groups of
    four characters so that it can be read and typed."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def otpauth_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code (issuer: OTP_TOTP_ISSUER)."""
    return device.config_url


def qr_code_svg(uri: str) -> str:
    """`uri` as a QR code, an inline SVG drawn on the server (no image library, no request to a
    third party that would see the secret)."""
    import qrcode
    from qrcode.image.svg import SvgPathFillImage

    image = qrcode.make(uri, image_factory=SvgPathFillImage, box_size=10, border=4)
    return image.to_string(encoding="unicode")


def _normalised(code: str) -> str:
    return _SEPARATORS.sub("", code or "").lower()


def _wait_message(seconds: int) -> str:
    return ngettext("Too many wrong codes. Wait %(seconds)d second, then try again.",
                    "Too many wrong codes. Wait %(seconds)d seconds, then try again.",
                    seconds) % {"seconds": seconds}


def _verify(model, device_id: int, user, token: str) -> tuple[object | None, int | None]:
    """(the device if `token` is right, seconds to wait if the throttle refused it). The device
    row is locked for the check: the throttle's counter and the spent code are one write."""
    with transaction.atomic():
        device = model.objects.select_for_update().filter(pk=device_id, user=user).first()
        if device is None:
            return None, None
        allowed, details = device.verify_is_allowed()
        if not allowed:
            locked_until = (details or {}).get("locked_until")
            wait = (locked_until - timezone.now()).total_seconds() if locked_until else 1
            return None, max(1, math.ceil(wait))
        return (device if device.verify_token(token) else None), None


# --- Services ---------------------------------------------------------------------------------

def second_factor_verify(*, user, code: str) -> TOTPDevice | StaticDevice:
    """The device that accepts `code` for `user`: a 6-digit code of their authenticator, or one of
    their recovery codes (which is spent; recovery codes always hold a letter, so digits only
    are a code of the authenticator). Raises CodeRefused otherwise, or while the device's
    throttle holds (it then says how long to wait)."""
    token = _normalised(code)
    if not token:
        raise CodeRefused(_("Enter the 6-digit code from your authenticator app, or a recovery "
                            "code."))
    authenticator = confirmed_authenticator(user)
    if token.isdigit() and authenticator is not None:
        model, device_id = TOTPDevice, authenticator.pk
    else:
        static = StaticDevice.objects.filter(user=user, confirmed=True).first()
        if static is None:
            raise CodeRefused(_("That code is not right. Enter the 6-digit code your "
                                "authenticator app shows now."))
        model, device_id = StaticDevice, static.pk
    device, wait = _verify(model, device_id, user, token)
    if wait is not None:
        raise CodeRefused(_wait_message(wait), wait_seconds=wait)
    if device is None:
        raise CodeRefused(_("That code is not right. Enter the code your authenticator app shows "
                            "now (check that your phone's clock is right), or one of your "
                            "recovery codes."))
    return device


def authenticator_enrolment_begin(*, user, actor, keep_id: int | None = None) -> TOTPDevice:
    """An unconfirmed TOTP device with a new random secret for `user` to add to their app.

    `keep_id` names the device of an enrolment already under way (kept in the session), which is
    returned as it is when it is still unconfirmed, so that reloading the page keeps the QR code
    the user may already have scanned. Other unconfirmed devices of the user are abandoned
    enrolments and are removed. A confirmed device is not touched: it stays valid until a new
    one is confirmed (authenticator_enrolment_confirm)."""
    with transaction.atomic():
        pending = TOTPDevice.objects.filter(user=user, confirmed=False)
        if keep_id is not None:
            kept = pending.filter(pk=keep_id).first()
            if kept is not None:
                pending.exclude(pk=kept.pk).delete()
                return kept
        pending.delete()
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    logger.info("TOTP enrolment begun for user %s by %s", user.pk, getattr(actor, "pk", None))
    return device


def authenticator_enrolment_confirm(*, device: TOTPDevice, code: str, actor,
                                    issue_recovery_codes: bool) -> list[str]:
    """Confirm `device` with a code it shows, retire the user's other authenticators, and (with
    `issue_recovery_codes`) give them new recovery codes, returned once, in clear.

    Raises CodeRefused for a wrong code, or while the device's throttle holds. A device that was
    confirmed meanwhile (the same form sent twice) is refused like a wrong code: the codes were
    shown to the first request only."""
    token = _normalised(code)
    if not token.isdigit():
        raise CodeRefused(_("Enter the 6-digit code your authenticator app shows for this "
                            "portal."))
    user = device.user
    verified, wait = _verify(TOTPDevice, device.pk, user, token)
    if wait is not None:
        raise CodeRefused(_wait_message(wait), wait_seconds=wait)
    if verified is None:
        raise CodeRefused(_("That code is not right. Check that you added the code shown on this "
                            "page to your app and that your phone's clock is right, then enter "
                            "the code it shows now."))
    with transaction.atomic():
        if TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True) != 1:
            raise CodeRefused(_("This authenticator was confirmed already. Sign in with it."))
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = _issue_recovery_codes(user) if issue_recovery_codes else []
    device.confirmed = True
    logger.info("TOTP device %s confirmed for user %s by %s", device.pk, user.pk,
                getattr(actor, "pk", None))
    return codes


def recovery_codes_issue(*, user, actor) -> list[str]:
    """Replace the user's recovery codes with RECOVERY_CODE_COUNT new ones, returned in clear
    (to be shown once); the old ones stop working."""
    with transaction.atomic():
        codes = _issue_recovery_codes(user)
    logger.info("Recovery codes issued for user %s by %s", user.pk, getattr(actor, "pk", None))
    return codes


def _issue_recovery_codes(user) -> list[str]:
    device = StaticDevice.objects.filter(user=user).order_by("pk").first()
    if device is None:
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    elif not device.confirmed:
        StaticDevice.objects.filter(pk=device.pk).update(confirmed=True)
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    StaticToken.objects.filter(device=device).delete()
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        code = StaticToken.random_token()
        # Digits only is how an authenticator's code is told apart (second_factor_verify).
        if not code.isdigit():
            codes.add(code)
    ordered = sorted(codes)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in ordered)
    return ordered


def demo_authenticator(*, user) -> TOTPDevice:
    """The demo user's confirmed TOTP device with a random secret: the existing one, so that
    `make run` prints the same secret every time, or a new one. Demo data only."""
    with transaction.atomic():
        device = confirmed_authenticator(user)
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=True)
    return device
