"""The API keys page (issue 11, points 1 and 9): the heads of the active CERT list its keys, issue
one (the secret shown once, on the page that follows) and revoke one at once.

Interfaces only: organizations.access decides who may, organizations.api_keys writes.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cert_portal.staff import refused, staff_page
from organizations.access import may_manage_members
from organizations.api_keys import MAX_EXPIRY_DAYS, api_key_issue, api_key_revoke
from organizations.models import ApiKey

# The secret of a key just issued waits here for the one page that shows it, and is removed as
# that page is rendered.
NEW_SECRET_SESSION_KEY = "api_key_new_secret"  # nosec B105 # a session key's name, not a secret
PAGE_SIZE = 100


class IssueKeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100,
                           help_text=gettext_lazy("What uses the key, e.g. “SOAR at the SOC”."),
                           error_messages={"required": gettext_lazy(
                               "Name the key after what uses it, e.g. “SOAR at the SOC”.")})
    scope = forms.ChoiceField(label=gettext_lazy("Scope"), choices=ApiKey.Scope.choices,
                              error_messages={"required": gettext_lazy("Choose a scope."),
                                              "invalid_choice": gettext_lazy(
                                                  "Choose one of the scopes in the list.")})
    expires_days = forms.IntegerField(
        label=gettext_lazy("Expires after (days)"), min_value=1, max_value=MAX_EXPIRY_DAYS,
        initial=90, error_messages={
            "required": gettext_lazy("Say after how many days the key expires."),
            "invalid": gettext_lazy("Give a whole number of days."),
            "min_value": gettext_lazy("A key expires after 1 to %(limit)s days.") % {
                "limit": MAX_EXPIRY_DAYS},
            "max_value": gettext_lazy("A key expires after 1 to %(limit)s days.") % {
                "limit": MAX_EXPIRY_DAYS}})


def _head_only(request):
    cert = request.staff.cert
    if not may_manage_members(request.user, cert):
        return refused(request, _("Only a head of %(cert)s manages its API keys.") % {
            "cert": cert.name})
    return None


@staff_page
def api_keys(request):
    """The active CERT's keys, newest first, and the form that issues one."""
    denied = _head_only(request)
    if denied:
        return denied
    cert = request.staff.cert
    if request.method == "POST":
        form = IssueKeyForm(request.POST)
        if form.is_valid():
            try:
                key, secret = api_key_issue(actor=request.user, cert=cert, **form.cleaned_data)
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                request.session[NEW_SECRET_SESSION_KEY] = {"key": key.pk, "secret": secret}
                return redirect("registry:api_keys")
        return _page(request, form, status=400)
    return _page(request, IssueKeyForm())


def _page(request, form, *, status: int = 200):
    cert = request.staff.cert
    new = request.session.pop(NEW_SECRET_SESSION_KEY, None)
    keys = list(ApiKey.objects.filter(cert=cert).select_related("created_by", "revoked_by")
                .order_by("-created_at", "-pk")[:PAGE_SIZE])
    new_key = next((key for key in keys if new and key.pk == new["key"]), None)
    errors = [(f"id_{name}", message) for name, messages_ in form.errors.items()
              for message in messages_]
    return render(request, "dashboard/registry/api_keys.html", {
        "nav": "registry", "cert": cert, "keys": keys, "form": form, "errors": errors,
        "new_key": new_key, "new_secret": new["secret"] if new_key else "",
        "max_days": MAX_EXPIRY_DAYS,
    }, status=status)


@require_POST
@staff_page
def api_key_revoke_view(request, pk: int):
    """Revoke a key of the active CERT at once; a key of another CERT answers 404."""
    denied = _head_only(request)
    if denied:
        return denied
    key = ApiKey.objects.select_related("cert").filter(pk=pk, cert=request.staff.cert).first()
    if key is None:
        raise Http404("No API key matches the given query.")
    if key.revoked_at is not None:
        messages.info(request, _("“%(name)s” was already revoked.") % {"name": key.name})
        return redirect("registry:api_keys")
    try:
        api_key_revoke(actor=request.user, key=key)
    except PermissionDenied as error:
        return refused(request, str(error))
    messages.success(request, _("“%(name)s” is revoked: requests with it are refused from now "
                                "on.") % {"name": key.name})
    return redirect("registry:api_keys")
