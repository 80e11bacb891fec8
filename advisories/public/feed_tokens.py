"""The staff page of a member's secret feed address (issue 10, point 4): make one, replace it,
revoke it. The address is shown once, in the answer to the request that made it; only the
token's hash is stored (advisories.feed_tokens)."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from advisories.feed_tokens import feed_token_create, feed_token_revoke, live_feed_token
from cert_portal.staff import staff_page


@staff_page
@require_http_methods(["GET", "POST"])
def feed_token(request):
    user = request.user
    error = None
    addresses = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("create", "regenerate"):
            token = feed_token_create(actor=user)
            # Shown in this answer only: the page is never cached (staff_page) and not redirected
            # to, so the token is in no session, log line or later page.
            addresses = {
                "rss": settings.PORTAL_BASE_URL + reverse("advisories:private_feed_rss", args=[token]),
                "atom": settings.PORTAL_BASE_URL + reverse("advisories:private_feed_atom", args=[token]),
            }
        elif action == "revoke":
            if feed_token_revoke(actor=user):
                messages.success(request, _("Your feed address was revoked: feed readers that use it "
                                            "get nothing from now on."))
            else:
                messages.info(request, _("You had no feed address to revoke."))
            return redirect("advisories_staff:feed_token")
        else:
            error = _("Choose one of the buttons: make an address, make a new one, or revoke it.")
    return render(request, "dashboard/advisories/feed_token.html", {
        "token": live_feed_token(user),
        "addresses": addresses,
        "error": error,
    }, status=400 if error else 200)
