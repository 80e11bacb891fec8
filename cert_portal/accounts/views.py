"""Staff sign-in with two factors, sign-out, and the member's two-factor page (issue 9, item 1).

Sign-in is two steps. Step 1 checks the user name and password through authenticate(request=...),
so the throttle of cert_portal/signin.py (django-axes and the per-address limit) keeps counting and
locking; nobody is signed in yet: the pending user, the backend that authenticated them and the
time are kept in the session for PENDING_SECONDS. Step 2 asks for a code of their authenticator
(or a recovery code); a user without a confirmed authenticator must add one first (enrolment:
a QR code, the key in text, a first code) and is given recovery codes, shown once. Only then are
they signed in (auth.login, and django_otp.login for the second factor) and sent to a safe
`next` or the dashboard.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import get_user_model
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from cert_portal.accounts import devices
from cert_portal.accounts.forms import EnrolmentForm, SecondFactorForm, SignInForm
from cert_portal.accounts.idle import mark_active
from cert_portal.audit import signins
from cert_portal.staff import verified_page

PENDING_SESSION_KEY = "signin_pending"
PENDING_SECONDS = 5 * 60
REPLACING_SESSION_KEY = "two_factor_replacing"
REPLACING_SECONDS = 10 * 60
FEW_RECOVERY_CODES = 3


def safe_next(request, target: str | None) -> str:
    """`target` when it is a page of this site, else "" (an offsite `next` is dropped)."""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return ""


def _login_url(next_url: str) -> str:
    url = reverse("accounts:login")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


# --- The pending sign-in between the steps -----------------------------------------------------

class _Pending:
    """The user who gave the right password in this session less than PENDING_SECONDS ago."""

    def __init__(self, request, data: dict, user):
        self.request, self.data, self.user = request, data, user

    @property
    def next_url(self) -> str:
        return self.data.get("next", "")

    def save(self) -> None:
        self.request.session[PENDING_SESSION_KEY] = self.data


def _begin_pending(request, user, next_url: str) -> None:
    request.session[PENDING_SESSION_KEY] = {
        "user": str(user.pk), "backend": user.backend, "next": next_url,
        "started": timezone.now().timestamp(),
    }


def _load_pending(request):
    """(pending, None), or (None, a redirect to step 1, with a message when it expired)."""
    data = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(data, dict):
        return None, redirect(_login_url(safe_next(request, request.GET.get("next"))))
    next_url = data.get("next", "")
    age = timezone.now().timestamp() - float(data.get("started", 0))
    user = get_user_model().objects.filter(pk=data.get("user"), is_active=True).first()
    if age > PENDING_SECONDS or user is None or data.get("backend") not in settings.AUTHENTICATION_BACKENDS:
        del request.session[PENDING_SESSION_KEY]
        messages.warning(request, ngettext(
            "More than %(minutes)d minute passed since you entered your password. Sign in again.",
            "More than %(minutes)d minutes passed since you entered your password. Sign in again.",
            PENDING_SECONDS // 60) % {"minutes": PENDING_SECONDS // 60})
        return None, redirect(_login_url(next_url))
    return _Pending(request, data, user), None


def _complete_sign_in(request, pending: _Pending, device, *, method: str) -> str:
    """Sign the pending user in with both factors; return where to go next."""
    del request.session[PENDING_SESSION_KEY]
    auth.login(request, pending.user, backend=pending.data["backend"])
    otp_login(request, device)
    mark_active(request)
    signins.signed_in(request, pending.user, method=method)
    return pending.next_url or resolve_url(settings.LOGIN_REDIRECT_URL)


def _page(request, template: str, context: dict, *, status: int = 200):
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)
    return response


# --- Sign-in ----------------------------------------------------------------------------------

@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login(request):
    """Step 1: user name and password."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST":
        form = SignInForm(request, data=request.POST)
        if form.is_valid():
            user = form.get_user()
            _begin_pending(request, user, next_url)
            if devices.confirmed_authenticator(user) is None:
                return redirect("accounts:login_enrol")
            return redirect("accounts:login_code")
        form.drop_autofocus()
    else:
        form = SignInForm(request)
    return _page(request, "accounts/login.html", {"form": form, "next": next_url},
                 status=400 if form.errors else 200)


@sensitive_post_parameters("code", "recovery_code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request):
    """Step 2: a code of the user's authenticator, or one of their recovery codes."""
    pending, back = _load_pending(request)
    if pending is None:
        return back
    if devices.confirmed_authenticator(pending.user) is None:
        return redirect("accounts:login_enrol")
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = devices.second_factor_verify(user=pending.user, code=form.cleaned_data["entered"])
        except devices.CodeRefused as refusal:
            signins.second_factor_refused(request, pending.user,
                                          locked=refusal.wait_seconds is not None)
            form.add_error(form.cleaned_data["entered_field"], str(refusal))
        else:
            target = _complete_sign_in(
                request, pending, device,
                method="authenticator" if isinstance(device, TOTPDevice) else "recovery_code")
            if not isinstance(device, TOTPDevice):
                _tell_recovery_codes_left(request)
            return redirect(target)
    if form.errors:
        form.drop_autofocus()
    return _page(request, "accounts/login_code.html",
                 {"form": form, "username": pending.user.get_username()},
                 status=400 if form.errors else 200)


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_enrol(request):
    """Step 2 for a user without an authenticator: add one now; it is not optional."""
    pending, back = _load_pending(request)
    if pending is None:
        return back
    if devices.confirmed_authenticator(pending.user) is not None:
        # Enrolment replaces nothing here: a user with an authenticator proves they hold it.
        return redirect("accounts:login_code")
    device = devices.authenticator_enrolment_begin(user=pending.user, actor=pending.user,
                                                   keep_id=pending.data.get("device"))
    if pending.data.get("device") != device.pk:
        pending.data["device"] = device.pk
        pending.save()
    form = EnrolmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = devices.authenticator_enrolment_confirm(
                device=device, code=form.cleaned_data["code"], actor=pending.user,
                issue_recovery_codes=True)
        except devices.CodeRefused as refusal:
            signins.second_factor_refused(request, pending.user,
                                          locked=refusal.wait_seconds is not None, enrolment=True)
            form.add_error("code", str(refusal))
        else:
            target = _complete_sign_in(request, pending, device, method="enrolment")
            return _page(request, "accounts/enrolled.html",
                         {"codes": _shown(codes), "continue_url": target})
    if form.errors:
        form.drop_autofocus()
    return _page(request, "accounts/login_enrol.html",
                 {"form": form, "username": pending.user.get_username(), **_enrolment(device)},
                 status=400 if form.errors else 200)


@require_POST
def logout(request):
    """Sign out (a POST, so that no link or image on another site can sign a member out)."""
    auth.logout(request)
    messages.success(request, _("You are signed out."))
    return redirect("organizations:directory")


# --- The member's two-factor page ---------------------------------------------------------------

@verified_page
def two_factor(request):
    """What protects the account: the authenticator and how many recovery codes are left."""
    return _two_factor_page(request, SecondFactorForm(auto_id="replace_%s"))


def _two_factor_page(request, replace_form, status: int = 200):
    context = {
        "authenticator": devices.confirmed_authenticator(request.user),
        "codes_left": devices.recovery_codes_left(request.user),
        "replace_form": replace_form,
    }
    return _page(request, "accounts/two_factor.html", context, status=status)


@require_POST
@verified_page
def two_factor_recovery_codes(request):
    """New recovery codes, shown once; the old ones stop working."""
    codes = devices.recovery_codes_issue(user=request.user, actor=request.user)
    return _page(request, "accounts/recovery_codes.html", {"codes": _shown(codes)})


@sensitive_post_parameters("code", "recovery_code")
@require_POST
@verified_page
def two_factor_replace(request):
    """Replacing the authenticator starts with a code proving the member holds a second factor
    now (of the current app, or a recovery code when the phone is lost)."""
    form = SecondFactorForm(request.POST, auto_id="replace_%s")
    if form.is_valid():
        try:
            devices.second_factor_verify(user=request.user, code=form.cleaned_data["entered"])
        except devices.CodeRefused as refusal:
            form.add_error(form.cleaned_data["entered_field"], str(refusal))
        else:
            device = devices.authenticator_enrolment_begin(user=request.user, actor=request.user)
            request.session[REPLACING_SESSION_KEY] = {"device": device.pk,
                                                      "started": timezone.now().timestamp()}
            return redirect("accounts:two_factor_enrol")
    form.drop_autofocus()
    return _two_factor_page(request, form, status=400)


@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
@verified_page
def two_factor_enrol(request):
    """Add the new authenticator; the old one works until the new one is confirmed."""
    data = request.session.get(REPLACING_SESSION_KEY)
    device = None
    if (isinstance(data, dict)
            and timezone.now().timestamp() - float(data.get("started", 0)) <= REPLACING_SECONDS):
        device = TOTPDevice.objects.filter(pk=data.get("device"), user=request.user,
                                           confirmed=False).first()
    if device is None:
        request.session.pop(REPLACING_SESSION_KEY, None)
        messages.warning(request, _("Start again: enter a current code to replace your "
                                    "authenticator."))
        return redirect("accounts:two_factor")
    form = EnrolmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            devices.authenticator_enrolment_confirm(device=device, code=form.cleaned_data["code"],
                                                    actor=request.user, issue_recovery_codes=False)
        except devices.CodeRefused as refusal:
            form.add_error("code", str(refusal))
        else:
            del request.session[REPLACING_SESSION_KEY]
            otp_login(request, device)
            messages.success(request, _("Your new authenticator is set up. The old one no longer "
                                        "works; your recovery codes are unchanged."))
            return redirect("accounts:two_factor")
    if form.errors:
        form.drop_autofocus()
    return _page(request, "accounts/two_factor_enrol.html",
                 {"form": form, "username": request.user.get_username(), **_enrolment(device)},
                 status=400 if form.errors else 200)


# --- Helpers of the pages ----------------------------------------------------------------------

def _enrolment(device: TOTPDevice) -> dict:
    uri = devices.otpauth_uri(device)
    return {"qr_svg": devices.qr_code_svg(uri), "secret": devices.secret_base32(device),
            "issuer": getattr(settings, "OTP_TOTP_ISSUER", "")}


def _shown(codes: list[str]) -> list[str]:
    """Recovery codes as shown: two groups of four, which is easier to copy by hand."""
    return [f"{code[:4]}-{code[4:]}" for code in codes]


def _tell_recovery_codes_left(request) -> None:
    left = devices.recovery_codes_left(request.user)
    text = ngettext("You signed in with a recovery code; %(count)d is left.",
                    "You signed in with a recovery code; %(count)d are left.", left) % {"count": left}
    if left <= FEW_RECOVERY_CODES:
        text += " " + _("Generate new ones on your two-factor page.")
    messages.warning(request, text)
