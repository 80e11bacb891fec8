"""Triage of public reports (issue 9, item 3): the intake list of the active CERT, one report's
page, and the four decisions on it (accept, reject, merge, route). Interfaces only: the list is
incidents.services.triage_page, each decision a service; incidents.access decides who may."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cert_portal.audit.events import incident_viewed
from cert_portal.forms import add_service_errors
from cert_portal.pagination import BadCursor, decode_cursor
from cert_portal.staff import staff_page
from incidents import taxonomy
from incidents.access import (
    Action,
    actions_for_list,
    allowed_actions,
    get_visible_incident,
    require,
)
from incidents.models import Attachment, Incident, Source, Status
from incidents.services import (
    ConflictError,
    incident_merge,
    incident_refer,
    report_accept,
    report_reject,
    triage_page,
)
from organizations.models import Cert


class TriageForm(forms.Form):
    """One decision on one report. Carries the version of the report the person looked at, so
    that a change made meanwhile is refused instead of overwritten."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, incident: Incident, **kwargs):
        self.incident = incident
        kwargs.setdefault("initial", {})["version"] = incident.version
        kwargs.setdefault("prefix", self.action)
        super().__init__(*args, **kwargs)


class AcceptForm(TriageForm):
    action = "accept"
    assign_to_me = forms.BooleanField(label=gettext_lazy("and assign it to me"), required=False)


class RejectForm(TriageForm):
    action = "reject"
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("The reporter reads this on their status page, and by e-mail if "
                               "they asked to be contacted. Write it for them."))


class MergeForm(TriageForm):
    action = "merge"
    into = forms.CharField(label=gettext_lazy("Reference of the incident to merge into"),
                           max_length=40,
                           help_text=gettext_lazy("For example PK-INC-2026-000123. This report "
                                                  "is closed as its duplicate; its observables "
                                                  "are copied there and its reporter follows it."))
    reason = forms.CharField(label=gettext_lazy("Note for the timeline (optional)"),
                             required=False, max_length=1000)


class RouteChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, cert: Cert) -> str:
        return f"{cert.name} ({cert.get_kind_display()})"


class RouteForm(TriageForm):
    action = "route"
    to_cert = RouteChoiceField(label=gettext_lazy("Route to"), queryset=Cert.objects.none(),
                               empty_label=gettext_lazy("— choose a CERT —"),
                               help_text=gettext_lazy("Any CERT below yours, down to local and "
                                                      "organizational CERTs. It owns the report "
                                                      "from then on."))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_cert"].queryset = (self.incident.owner_cert.descendants()
                                           .filter(is_active=True).order_by("path"))


# Each decision: its form and the action incidents.access must allow (asked before the form is
# read, so that a refused person learns nothing from validation messages).
DECISIONS: dict[str, tuple[type[TriageForm], Action]] = {
    "accept": (AcceptForm, Action.TRANSITION),
    "reject": (RejectForm, Action.TRANSITION),
    "merge": (MergeForm, Action.MERGE),
    "route": (RouteForm, Action.REFER),
}


def _category(incident: Incident) -> str:
    """The RSIT classification and type, as labels."""
    known = taxonomy.load().classifications.get(incident.classification)
    if known is None:
        return f"{incident.classification} / {incident.incident_type}"
    label = next((t.label for t in known.types if t.value == incident.incident_type),
                 incident.incident_type)
    return f"{known.label}: {label}"


@staff_page
def triage(request):
    """The active CERT's public reports still waiting for a decision, oldest first."""
    cursor, cursor_error = None, None
    if request.GET.get("cursor"):
        try:
            cursor = decode_cursor(request.GET["cursor"])
        except BadCursor as error:
            cursor_error = str(error)
    page = triage_page(request.user, cert=request.staff.cert, cursor=cursor)
    allowed = actions_for_list(request.user, page.reports)
    rows = [{"report": report, "category": _category(report),
             "may_accept": Action.TRANSITION in allowed[report.pk],
             "may_assign": Action.ASSIGN in allowed[report.pk],
             "may_decide": bool(allowed[report.pk] & {Action.TRANSITION, Action.MERGE,
                                                        Action.REFER})}
            for report in page.reports]
    return render(request, "dashboard/triage.html", {
        "nav": "triage", "page": page, "rows": rows, "now": timezone.now(),
        "cursor_error": cursor_error, "paged": cursor is not None,
    }, status=400 if cursor_error else 200)


@staff_page
def triage_report(request, reference: str):
    """One report: what it says, and the decisions the member may take on it."""
    incident = get_visible_incident(request.user, reference=reference)
    if incident.source != Source.PUBLIC_FORM or incident.status != Status.NEW:
        # Decided already (or never a public report): its workspace shows what happened.
        return redirect("dashboard:incident", reference=incident.reference)
    incident_viewed(request, incident, detail={"page": "triage"})
    return _report_page(request, incident)


def _report_page(request, incident: Incident, bound: TriageForm | None = None, status: int = 200):
    allowed = allowed_actions(request.user, incident)
    decisions = {name: form_class(incident=incident)
                 for name, (form_class, action) in DECISIONS.items() if action in allowed}
    if bound is not None:
        decisions[bound.action] = bound
    return render(request, "dashboard/triage_report.html", {
        "nav": "triage", "incident": incident, "category": _category(incident),
        "observables": incident.observables.order_by("type", "value"),
        "files": Attachment.objects.filter(incident=incident).order_by("created_at", "pk"),
        "decisions": decisions, "bound": bound, "may_assign": Action.ASSIGN in allowed,
        "now": timezone.now(),
        "tlp_class": "tlp-" + incident.tlp.removeprefix("TLP:").lower().replace("+", "-"),
    }, status=status)


@require_POST
@staff_page
def triage_action(request, reference: str, action: str):
    """Take one decision on a report; say what happened, or show the form again with what to fix."""
    incident = get_visible_incident(request.user, reference=reference)
    if action not in DECISIONS:
        raise Http404("No such triage action.")
    form_class, needed = DECISIONS[action]
    require(request.user, incident, needed)  # ActionNotAllowed: the styled refusal (403)
    form = form_class(request.POST, incident=incident)
    if not form.is_valid():
        return _report_page(request, incident, form, status=400)
    try:
        if form.cleaned_data["version"] != incident.version:
            raise ConflictError(incident)
        done = _DO[action](request, incident, form.cleaned_data)
    except ValidationError as error:
        add_service_errors(form, error)
        return _report_page(request, incident, form, status=400)
    except ConflictError as error:
        form.add_error(None, str(error))
        return _report_page(request, incident, form, status=409)
    messages.success(request, done)
    return redirect("dashboard:triage")


def _accept(request, incident: Incident, data: dict) -> str:
    report_accept(incident=incident, actor=request.user, assign_to_me=data["assign_to_me"])
    if data["assign_to_me"]:
        return _("%(reference)s accepted: it is acknowledged and assigned to you, and has left "
                 "triage for the queue.") % {"reference": incident.reference}
    return _("%(reference)s accepted: it is acknowledged and has left triage for the queue "
             "(new and unassigned).") % {"reference": incident.reference}


def _reject(request, incident: Incident, data: dict) -> str:
    report_reject(incident=incident, actor=request.user, reason=data["reason"])
    return _("%(reference)s rejected. The reporter reads your reason on their status page.") % {
        "reference": incident.reference}


def _merge(request, incident: Incident, data: dict) -> str:
    wanted = data["into"].strip().upper()
    try:
        into = get_visible_incident(request.user, reference=wanted)
    except Http404:
        # Missing and forbidden alike: nothing tells whether such an incident exists.
        raise ValidationError({"into": _("No incident you may see has the reference %(reference)s."
                                         " Check it and try again.") % {"reference": wanted}}) from None
    incident_merge(incident=incident, actor=request.user, into=into, reason=data["reason"])
    return _("%(reference)s merged into %(into)s: it is closed as a duplicate, its observables were "
             "copied to %(into)s, and its reporter now sees the status of %(into)s.") % {
        "reference": incident.reference, "into": into.reference}


def _route(request, incident: Incident, data: dict) -> str:
    to_cert = data["to_cert"]
    incident_refer(incident=incident, actor=request.user, to_cert=to_cert, reason=data["reason"])
    return _("%(reference)s routed to %(cert)s, which owns it now as a new report with a fresh "
             "acknowledgement deadline. Your CERT may still view it and comment.") % {
        "reference": incident.reference, "cert": to_cert.name}


_DO = {"accept": _accept, "reject": _reject, "merge": _merge, "route": _route}
