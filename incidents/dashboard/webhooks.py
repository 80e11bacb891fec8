"""The webhooks page (issue 11, points 8 and 9): the heads of the active CERT register HTTPS
endpoints for events, pause, resume and remove them, and read each endpoint's delivery attempts.

Interfaces only: incidents.webhooks checks (with organizations.access) and writes.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cert_portal.pagination import BadCursor, decode_cursor
from cert_portal.staff import refused, staff_page
from incidents.models import WebhookEvent
from incidents.webhooks import (
    delivery_page,
    get_managed_endpoint,
    managed_endpoints,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_set_active,
)
from organizations.access import may_manage_members

NEW_SECRET_SESSION_KEY = "webhook_new_secret"  # nosec B105 # a session key's name, not a secret
ATTEMPTS_PAGE_SIZE = 25


class EndpointForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("Address (https://)"), max_length=500,
                          error_messages={"required": gettext_lazy(
                              "Give the https:// address of your receiver.")})
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"), choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one event to receive."),
                        "invalid_choice": gettext_lazy("Choose events from the list.")})


def _head_only(request):
    cert = request.staff.cert
    if not may_manage_members(request.user, cert):
        return refused(request, _("Only a head of %(cert)s manages its webhooks.") % {
            "cert": cert.name})
    return None


@staff_page
def webhooks(request):
    """The active CERT's endpoints and the form that registers one."""
    denied = _head_only(request)
    if denied:
        return denied
    cert = request.staff.cert
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint, secret = webhook_endpoint_create(actor=request.user, cert=cert,
                                                           **form.cleaned_data)
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                request.session[NEW_SECRET_SESSION_KEY] = {"endpoint": str(endpoint.public_id),
                                                           "secret": secret}
                return redirect("dashboard:webhooks")
        return _page(request, form, status=400)
    return _page(request, EndpointForm(initial={"events": WebhookEvent.values}))


def _page(request, form, *, status: int = 200):
    cert = request.staff.cert
    new = request.session.pop(NEW_SECRET_SESSION_KEY, None)
    endpoints = managed_endpoints(request.user, cert)
    labels = dict(WebhookEvent.choices)
    rows = [{"endpoint": endpoint, "events": [labels.get(event, event) for event in endpoint.events]}
            for endpoint in endpoints]
    new_endpoint = next((e for e in endpoints if new and str(e.public_id) == new["endpoint"]), None)
    errors = [(f"id_{name}" if name != "events" else "id_events_0", message)
              for name, messages_ in form.errors.items() for message in messages_]
    return render(request, "dashboard/registry/webhooks.html", {
        "nav": "registry", "cert": cert, "rows": rows, "form": form, "errors": errors,
        "new_endpoint": new_endpoint, "new_secret": new["secret"] if new_endpoint else "",
        "event_choices": WebhookEvent.choices,
        "chosen_events": set(form["events"].value() or ()),
    }, status=status)


@require_POST
@staff_page
def webhook_action(request, public_id, action: str):
    """Pause, resume or remove an endpoint of a CERT the member heads (anyone else: 404)."""
    endpoint = get_managed_endpoint(request.user, public_id)
    try:
        if action in ("pause", "resume"):
            webhook_endpoint_set_active(actor=request.user, endpoint=endpoint,
                                        active=action == "resume")
            text = (_("%(url)s is paused: nothing is sent to it.") if action == "pause"
                    else _("%(url)s receives events again."))
            messages.success(request, text % {"url": endpoint.url})
        elif action == "remove":
            webhook_endpoint_delete(actor=request.user, endpoint=endpoint)
            messages.success(request, _("%(url)s is removed.") % {"url": endpoint.url})
        else:
            return refused(request, _("This page knows no such action: pause, resume or remove."),
                           status=400)
    except PermissionDenied as error:
        return refused(request, str(error))
    return redirect("dashboard:webhooks")


@staff_page
def webhook_attempts(request, public_id):
    """An endpoint's deliveries, newest first, each with its attempts (time, status, error)."""
    endpoint = get_managed_endpoint(request.user, public_id)
    cursor = None
    if request.GET.get("cursor"):
        try:
            cursor = decode_cursor(request.GET["cursor"])
        except BadCursor as error:
            return refused(request, str(error), status=400)
    page = delivery_page(request.user, endpoint, size=ATTEMPTS_PAGE_SIZE, cursor=cursor)
    return render(request, "dashboard/registry/webhook_attempts.html", {
        "nav": "registry", "endpoint": endpoint, "page": page,
    })
