"""Sign-ins and sign-outs on the audit trail (issue 13, ASVS V16.3.1).

A failed password (or a sign-in the throttle refused) reaches the trail through Django's
user_login_failed signal, which authenticate() sends for every failure; a sign-out through
user_logged_out, which auth.logout sends (the sign-out button, the admin's, and the idle
timeout). A sign-in is only complete after the second factor, so the views record it there
(`signed_in`), and a refused code (`second_factor_refused`). Nothing here keeps a password or a
code: only the name typed, the stage and the reason.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out, user_login_failed
from django.dispatch import receiver

from cert_portal.audit.models import AuditKind, Channel
from cert_portal.audit.record import record
from organizations.models import Membership


def default_cert_id(user) -> int | None:
    """The CERT the dashboard opens as for `user` (its first active one, root first), if any."""
    return (Membership.objects.filter(user=user, cert__is_active=True)
            .order_by("cert__path", "cert_id").values_list("cert_id", flat=True).first())


def _user_event(kind, request, user, detail: dict) -> None:
    record(kind, request=request, actor=user, cert=default_cert_id(user), obj=user,
           channel=Channel.DASHBOARD, detail=detail)


def signed_in(request, user, *, method: str) -> None:
    """A sign-in with both factors; `method` is how the second was given ("authenticator",
    "recovery_code", "enrolment")."""
    _user_event(AuditKind.SIGN_IN, request, user, {"second_factor": method})


def second_factor_refused(request, user, *, locked: bool, enrolment: bool = False) -> None:
    """A code refused at the second step: wrong, or not looked at because the device's throttle
    holds (`locked`)."""
    detail = {"stage": "second_factor", "reason": "locked_out" if locked else "wrong_code"}
    if enrolment:
        detail["enrolment"] = True
    _user_event(AuditKind.SIGN_IN_FAILED, request, user, detail)


@receiver(user_login_failed, dispatch_uid="cert_portal.audit.password_refused")
def password_refused(sender, credentials, request=None, **kwargs):
    """A failed first step. Without a request (a management command, a test calling
    authenticate()) there is no sign-in to record. An unknown name is kept as typed (cut to
    the column), with no user."""
    if request is None:
        return
    typed = str(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or "")
    user = get_user_model()._default_manager.filter(
        **{get_user_model().USERNAME_FIELD: typed}).first() if typed else None
    if getattr(request, "signin_refused_locked", False):
        reason = "locked_out"  # refused before the password was looked at
    elif user is None:
        reason = "unknown_user"
    else:
        reason = "wrong_password"
    detail = {"stage": "password", "reason": reason}
    if reason != "locked_out" and getattr(request, "axes_locked_out", False):
        detail["locked"] = True  # this failure reached the limit: the next attempts are refused
    record(AuditKind.SIGN_IN_FAILED, request=request, actor=user, actor_label=typed[:150],
           cert=default_cert_id(user) if user is not None else None, channel=Channel.DASHBOARD,
           object_type="user" if user is not None else "",
           object_id=str(user.pk) if user is not None else "", object_label=typed[:300],
           detail=detail)


@receiver(user_logged_out, dispatch_uid="cert_portal.audit.signed_out")
def signed_out(sender, request, user, **kwargs):
    """A sign-out; `request.sign_out_reason` says why when it was not the member's choice."""
    if user is None:
        return
    _user_event(AuditKind.SIGN_OUT, request, user,
                {"reason": getattr(request, "sign_out_reason", "signed_out")})
