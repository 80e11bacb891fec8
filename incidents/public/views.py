"""The public reporting pages: no account needed (DOMAIN.md §4). Interfaces only: parse, call
incidents.public.reports, render."""

from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cert_portal import ratelimit
from cert_portal.forms import add_service_errors
from incidents import access
from incidents.models import Incident, Source
from incidents.public.forms import FollowUpForm, PublicReportForm, StatusLookupForm
from incidents.public.reports import (
    add_follow_up,
    check_follow_up,
    check_report,
    find_report,
    merged_target,
    reporter_messages,
    submit_report,
)
from incidents.reporter_token import derive_token

RECEIPT = "report_receipt"  # session key: what the confirmation page shows, once

# What each public form counts against the sender's allowance (rates in settings, per client):
# - a report, and a follow-up, only once it passed every check, just before it is stored: a post
#   that comes back with errors uses up nothing;
# - a follow-up also per report, so that many clients cannot flood one report between them;
# - a status look-up whenever both fields are filled in, before the look-up and whether or not it
#   finds the report: guessing is the attack this limit is for, and the answer to one guess too
#   many must not depend on whether it was right.


@require_http_methods(["GET", "POST"])
def report(request):
    form = PublicReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_bot:
            return render(request, "incidents/report_refused.html", status=400)
        if form.is_valid():
            try:
                check_report(category=form.cleaned_data["category"],
                             files=form.cleaned_data["attachments"])
            except ValidationError as error:
                add_service_errors(form, error)
        if form.is_valid():
            limited = ratelimit.count(request, scope="report", setting="REPORT_RATE_LIMIT")
            if not limited.allowed:
                return ratelimit.too_many_requests(request, limited.retry_after, scope="report")
            try:
                submission = submit_report(**form.service_arguments(),
                                           reporter_language=request.LANGUAGE_CODE)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                # The session keeps no token: the receipt page derives it again, once.
                request.session[RECEIPT] = {"incident": submission.incident.pk,
                                            "new": submission.created}
                if submission.created:
                    # A resubmitted form proves nothing about who sends it: only the first
                    # answer unlocks the report in this browser.
                    access.reporter_unlock(request.session, submission.incident)
                return redirect("incidents_public:report_received")
        form.ask_for_files_again()
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
def status(request):
    form = StatusLookupForm(request.POST or None)
    incident = None
    if request.method == "POST" and form.is_valid():
        limited = ratelimit.count(request, scope="status", setting="STATUS_RATE_LIMIT")
        if not limited.allowed:
            return ratelimit.too_many_requests(request, limited.retry_after, scope="status")
        incident = find_report(form.cleaned_data["reference"], form.cleaned_data["token"])
        if incident is None:
            form.add_error(None, _("We found no report with this reference and token. Check "
                                   "both and try again."))
        else:
            access.reporter_unlock(request.session, incident)
            return redirect("incidents_public:status_detail", reference=incident.reference)
    return render(request, "incidents/report_status_lookup.html", {"form": form},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def status_detail(request, reference: str):
    incident = access.reporter_unlocked_report(request.session, reference)
    if incident is None:
        return redirect("incidents_public:status")
    form = FollowUpForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        follow_up = {"incident": incident, "message": form.cleaned_data["message"],
                     "files": form.cleaned_data["attachments"]}
        try:
            check_follow_up(**follow_up)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            refused = _count_follow_up(request, incident)
            if refused is not None:
                return refused
            try:
                add_follow_up(**follow_up)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return redirect("incidents_public:status_detail", reference=incident.reference)
    if form.errors:
        form.ask_for_files_again()
    return render(request, "incidents/report_status.html", {
        "incident": incident, "messages_for_reporter": reporter_messages(incident),
        "form": form, "merged_into": merged_target(incident),
    }, status=400 if form.errors else 200)


def _count_follow_up(request, incident: Incident):
    """Count a follow-up per client and per report; the 429 answer if either is used up."""
    for scope, setting, key in (
        ("follow-up", "FOLLOW_UP_RATE_LIMIT", ratelimit.client_key),
        ("follow-up-report", "FOLLOW_UP_REPORT_RATE_LIMIT", ratelimit.object_key("incident", incident.pk)),
    ):
        limited = ratelimit.count(request, scope=scope, setting=setting, key=key)
        if not limited.allowed:
            return ratelimit.too_many_requests(request, limited.retry_after, scope=scope)
    return None
