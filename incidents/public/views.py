"""The public reporting pages: no account needed (DOMAIN.md §4). Interfaces only: parse, call
incidents.public.reports, render."""

from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cert_portal.forms import add_service_errors
from cert_portal.ratelimit import rate_limited
from incidents.models import Incident, Source
from incidents.public.forms import FollowUpForm, PublicReportForm, StatusLookupForm
from incidents.public.reports import (
    add_follow_up,
    find_report,
    reporter_messages,
    submit_report,
)
from incidents.reporter_token import derive_token

RECEIPT = "report_receipt"  # session key: what the confirmation page shows, once
ACCESS = "report_access"  # session key: primary keys of the reports this browser unlocked


@require_http_methods(["GET", "POST"])
@rate_limited("report", "REPORT_RATE_LIMIT")
def report(request):
    form = PublicReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_bot:
            return render(request, "incidents/report_refused.html", status=400)
        if form.is_valid():
            try:
                submission = submit_report(**form.service_arguments())
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                # The session keeps no token: the receipt page derives it again, once.
                request.session[RECEIPT] = {"incident": submission.incident.pk,
                                            "new": submission.created}
                if submission.created:
                    # A resubmitted form proves nothing about who sends it: only the first
                    # answer unlocks the report in this browser.
                    _grant_access(request, submission.incident)
                return redirect("incidents_public:report_received")
    return render(request, "incidents/report_form.html", {"form": form},
                  status=400 if form.errors else 200)


def report_received(request):
    receipt = request.session.pop(RECEIPT, None)
    incident = Incident.objects.filter(pk=(receipt or {}).get("incident"),
                                       source=Source.PUBLIC_FORM).first()
    if incident is None:
        return redirect("incidents_public:status")
    return render(request, "incidents/report_received.html", {"receipt": {
        "reference": incident.reference,
        "token": derive_token(incident) if receipt.get("new") else None,
    }})


@require_http_methods(["GET", "POST"])
@rate_limited("status", "STATUS_RATE_LIMIT")
def status(request):
    form = StatusLookupForm(request.POST or None)
    incident = None
    if request.method == "POST" and form.is_valid():
        incident = find_report(form.cleaned_data["reference"], form.cleaned_data["token"])
        if incident is None:
            form.add_error(None, _("We found no report with this reference and token. Check "
                                   "both and try again."))
        else:
            _grant_access(request, incident)
            return redirect("incidents_public:status_detail", reference=incident.reference)
    return render(request, "incidents/report_status_lookup.html", {"form": form},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def status_detail(request, reference: str):
    incident = _unlocked(request, reference)
    if incident is None:
        return redirect("incidents_public:status")
    form = FollowUpForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            add_follow_up(incident=incident, message=form.cleaned_data["message"],
                          files=form.cleaned_data["attachments"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return redirect("incidents_public:status_detail", reference=incident.reference)
    return render(request, "incidents/report_status.html", {
        "incident": incident, "messages_for_reporter": reporter_messages(incident),
        "form": form,
    }, status=400 if form.errors else 200)


def _grant_access(request, incident: Incident) -> None:
    unlocked = set(request.session.get(ACCESS, []))
    unlocked.add(incident.pk)
    request.session[ACCESS] = sorted(unlocked)


def _unlocked(request, reference: str) -> Incident | None:
    unlocked = request.session.get(ACCESS, [])
    return (Incident.objects.filter(pk__in=unlocked, reference=reference,
                                    source=Source.PUBLIC_FORM)
            .select_related("owner_cert").first())
