"""Subscription pages (issue 10, point 7). Interfaces only: parse, call
advisories.subscriptions.services, render.

Public: the subscription form (rate-limited per client, double opt-in), the confirmation page and
the unsubscribe page. Staff: the member's choice of which advisories reach them by e-mail.
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from advisories.models import MemberSubscription
from advisories.subscriptions import services
from advisories.subscriptions.forms import MemberSubscriptionForm, PublicSubscriptionForm
from advisories.subscriptions.rules import DEFAULT_MIN_SEVERITY
from advisories.subscriptions.services import SubscriptionLinkError
from cert_portal import ratelimit
from cert_portal.forms import add_service_errors
from cert_portal.staff import staff_page

RATE_SCOPE = "advisory-subscribe"
RATE_SETTING = "ADVISORY_SUBSCRIBE_RATE_LIMIT"


def _page(request, template: str, context: dict | None = None, *, status: int = 200):
    # Pages reached through a personal link: never kept by a browser or a proxy cache.
    response = render(request, template, context or {}, status=status)
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request):
    """The subscription form. Counted against the client's allowance only once it is valid,
    just before the write, like the report form; the answer is the same page whether or not the
    address was subscribed already."""
    form = PublicSubscriptionForm(request.POST or None,
                                  initial={"language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        limited = ratelimit.count(request, scope=RATE_SCOPE, setting=RATE_SETTING)
        if not limited.allowed:
            return too_many_requests(request, limited.retry_after)
        try:
            services.subscription_request(**form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("advisory_subscriptions:sent")
    return render(request, "advisories/subscription_form.html", {"form": form},
                  status=400 if form.errors else 200)


def too_many_requests(request, retry_after: int):
    response = _page(request, "advisories/subscription_too_many.html",
                     {"retry_after_minutes": math.ceil(retry_after / 60)}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def sent(request):
    return render(request, "advisories/subscription_sent.html")


def _bad_link(request, error: SubscriptionLinkError, *, action: str):
    return _page(request, "advisories/subscription_bad_link.html",
                 {"reason": error.reason, "action": action}, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token: str):
    """GET shows what will be confirmed and a button; POST confirms. A GET alone changes
    nothing, so that a mail scanner that opens links does not subscribe anybody."""
    try:
        if request.method == "POST":
            subscriber = services.subscription_confirm(token=token)
            return _page(request, "advisories/subscription_confirmed.html",
                         {"subscriber": subscriber})
        pending = services.check_subscription_confirm(token=token)
    except SubscriptionLinkError as error:
        return _bad_link(request, error, action="confirm")
    return _page(request, "advisories/subscription_confirm.html", {"pending": pending})


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    """GET shows a button; POST unsubscribes. Exempt from CSRF, for this URL only, so that a
    mail client's one-click POST (RFC 8058: "List-Unsubscribe=One-Click", no cookie, no CSRF
    token) works. That is safe: CSRF protects requests that ride on the visitor's cookies, and
    this one uses none. The signed token in the URL is the whole authority, and whoever could
    forge the POST must already hold the link, which itself unsubscribes."""
    try:
        if request.method == "POST":
            subscriber = services.subscription_unsubscribe(token=token)
            return _page(request, "advisories/subscription_unsubscribed.html",
                         {"subscriber": subscriber})
        subscriber = services.check_unsubscribe(token=token)
    except SubscriptionLinkError as error:
        return _bad_link(request, error, action="unsubscribe")
    return _page(request, "advisories/subscription_unsubscribe.html", {"subscriber": subscriber})


# --- staff -----------------------------------------------------------------------------------

@require_http_methods(["GET", "HEAD", "POST"])
@staff_page
def member_subscription(request):
    """Which advisories the member gets by e-mail (of those they may read)."""
    current = (MemberSubscription.objects.filter(user=request.user)
               .prefetch_related("sectors").first())
    if current is None:
        initial = {"mode": MemberSubscription.Mode.FILTERED, "min_severity": DEFAULT_MIN_SEVERITY,
                   "sectors": [], "products": ""}
    else:
        initial = {"mode": current.mode, "min_severity": current.min_severity,
                   "sectors": list(current.sectors.all()), "products": current.products}
    form = MemberSubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_subscription_set(user=request.user, **form.service_arguments())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Your advisory e-mail choices are saved."))
            return redirect("advisory_subscription_settings:edit")
    return render(request, "dashboard/advisories/subscription.html", {
        "nav": "advisories", "form": form, "is_default": current is None,
        "has_email": bool(request.user.email),
    }, status=400 if form.errors else 200)
