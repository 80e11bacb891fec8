"""The frame of every staff dashboard page (issue 9): who is signed in, as which CERT.

A member may belong to several CERTs; the dashboard works as one of them at a time (the "active"
CERT, kept in the session and switched in the header). `staff_page` lets a view run only for an
active user who passed both factors of the sign-in and is a member of an active CERT, and gives
it `request.staff`. Which incidents the member may see and what they may do is still asked of the
access modules (incidents.access, organizations.access); the active CERT only chooses which
CERT's queue the pages show and in whose name new work is opened.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incidents.access import ActionNotAllowed
from organizations.models import Membership

ACTIVE_CERT_SESSION_KEY = "staff_active_cert"


@dataclass
class StaffContext:
    """The signed-in member's CERTs (active ones, root first) and the one they work as."""

    memberships: list[Membership]
    active: Membership
    # Filled lazily by the pages that show it; see unread_notice_count.
    _unread: int | None = field(default=None, repr=False)

    @property
    def cert(self):
        return self.active.cert

    @property
    def role(self) -> str:
        return self.active.role

    @property
    def is_head(self) -> bool:
        return self.active.role == "head"


def load_staff_context(request) -> StaffContext | None:
    """The member's active memberships (one query) and the active one, or None for anyone who is
    not a member of an active CERT. Also primes incidents.access' per-request cache of the
    member's roles, so that asking access costs no second query for them."""
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return None
    memberships = list(Membership.objects.filter(user=user, cert__is_active=True)
                       .select_related("cert").order_by("cert__path", "cert_id"))
    if not memberships:
        return None
    user._cert_roles_by_group = {m.cert.group_id: m.role for m in memberships}
    chosen = request.session.get(ACTIVE_CERT_SESSION_KEY)
    active = next((m for m in memberships if m.cert_id == chosen), memberships[0])
    return StaffContext(memberships=memberships, active=active)


def is_two_factor_verified(request) -> bool:
    """Whether this session passed the second factor (django-otp's OTPMiddleware)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


def refused(request, reason: str, *, status: int = 403):
    """The styled page for an action the member may not take, saying why."""
    response = render(request, "dashboard/refused.html", {"reason": reason}, status=status)
    add_never_cache_headers(response)
    return response


def staff_page(view):
    """Run `view` only for a signed-in, two-factor-verified member of an active CERT.

    Anyone else is sent to sign in (or to the second factor); a verified user who belongs to no
    active CERT gets the refused page. An ActionNotAllowed raised by the view (a service or
    incidents.access.require refusing) becomes the refused page with its reason; Http404 stays a
    404, so that what may not be seen looks exactly like what does not exist.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated or not is_two_factor_verified(request):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        staff = load_staff_context(request)
        if staff is None:
            return refused(request, _("Your account is not a member of any active CERT, so the "
                                      "dashboard has nothing to show you. Ask your CERT's head "
                                      "to add you."))
        request.staff = staff
        try:
            response = view(request, *args, **kwargs)
        except ActionNotAllowed as refusal:
            return refused(request, str(refusal))
        # Staff pages show incident data: never kept by a browser or a proxy cache.
        add_never_cache_headers(response)
        return response

    return wrapper


def verified_page(view):
    """Run `view` for any signed-in user who passed both factors, member of a CERT or not (the
    registry administrator too): for pages about the account itself, such as its authenticator.
    `request.staff` is the member's context, or None for someone in no active CERT."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated or not is_two_factor_verified(request):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        request.staff = load_staff_context(request)
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapper


def unread_notice_count(request, cap: int = 99) -> int:
    """The member's unread in-app notices, counted up to `cap` (the header shows "99+")."""
    staff = request.staff
    if staff is None:
        return 0
    if staff._unread is None:
        from incidents.models import InboxItem  # the frame must not import incidents' models first

        staff._unread = (InboxItem.objects.filter(user=request.user, read_at__isnull=True)
                         .order_by().values("pk")[: cap + 1].count())
    return staff._unread


@require_POST
@staff_page
def switch_cert(request):
    """Work as another of the member's CERTs from now on (the header's switch)."""
    wanted = request.POST.get("cert", "")
    chosen = next((m for m in request.staff.memberships if str(m.cert_id) == wanted), None)
    if chosen is None:
        return refused(request, _("You are not a member of that CERT."), status=400)
    request.session[ACTIVE_CERT_SESSION_KEY] = chosen.cert_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()},
                                           require_https=request.is_secure()):
        target = "dashboard:queue"
    return redirect(target)


def staff_frame(request) -> dict:
    """Context processor: what the dashboard's header shows (nothing outside the dashboard)."""
    staff = getattr(request, "staff", None)
    if staff is None:
        return {}
    return {"staff": staff, "unread_notices": lambda: unread_notice_count(request)}


__all__ = ["ACTIVE_CERT_SESSION_KEY", "StaffContext", "is_two_factor_verified",
           "load_staff_context", "refused", "staff_frame", "staff_page", "switch_cert",
           "unread_notice_count", "verified_page"]
