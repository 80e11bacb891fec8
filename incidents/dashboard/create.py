"""A staff-entered incident (issue 9, item 6), in two steps that need no JavaScript: "find
indicators" lists the observables in the pasted text (and the title and description) as checked
boxes to review; "create" opens the incident with the ones still checked
(incidents.services.incident_create_with_observables) and goes to its workspace."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from cert_portal.forms import add_service_errors
from cert_portal.staff import refused, staff_page
from incidents import taxonomy
from incidents.access import certs_to_open_incidents_for
from incidents.observables import ObservableType, extract
from incidents.public.forms import IncidentTimeField
from incidents.services import incident_create_with_observables
from incidents.severity import Severity
from incidents.tlp import DEFAULT_INCIDENT_TLP, Tlp
from organizations.models import Cert, Sector
from organizations.rules import Region


def _time_field(label):
    return IncidentTimeField(label=label, required=False, widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, cert: Cert) -> str:
        return cert.name


class IncidentEntryForm(forms.Form):
    owner_cert = OwnerChoiceField(label=gettext_lazy("Owner CERT"), queryset=Cert.objects.none(),
                                  empty_label=None)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=300)
    description = forms.CharField(label=gettext_lazy("Description"), required=False,
                                  max_length=50000, widget=forms.Textarea(attrs={"rows": 6}))
    incident_type = forms.ChoiceField(label=gettext_lazy("Classification and type (RSIT)"))
    severity = forms.TypedChoiceField(label=gettext_lazy("Severity"), coerce=int,
                                      choices=Severity.choices, initial=Severity.MEDIUM)
    tlp = forms.ChoiceField(label=gettext_lazy("TLP"), choices=Tlp.choices,
                            initial=DEFAULT_INCIDENT_TLP)
    sector = forms.ModelChoiceField(label=gettext_lazy("Sector"), required=False,
                                    queryset=Sector.objects.order_by("name"),
                                    empty_label=gettext_lazy("— none —"))
    region = forms.ChoiceField(label=gettext_lazy("Region"), required=False)
    is_cii = forms.BooleanField(label=gettext_lazy("Critical information infrastructure is "
                                                   "affected"), required=False)
    affected_organization = forms.CharField(label=gettext_lazy("Affected organization"),
                                            max_length=200, required=False)
    occurred_at = _time_field(gettext_lazy("Occurred at"))
    detected_at = _time_field(gettext_lazy("Detected at"))
    indicators = forms.CharField(
        label=gettext_lazy("Paste text with indicators"), required=False, max_length=100000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy("Logs, e-mail headers, a partner's report: addresses, domains, URLs, "
                               "e-mail addresses, hashes and CVE IDs are found, defanged ones "
                               "(hxxp://example[.]com) too, and listed for you to review. The "
                               "text itself is not saved: put what matters in the description."))
    submission_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, user, active_cert: Cert, **kwargs):
        super().__init__(*args, **kwargs)
        owners = certs_to_open_incidents_for(user).order_by("path")
        self.fields["owner_cert"].queryset = owners
        if any(cert.pk == active_cert.pk for cert in owners):
            self.fields["owner_cert"].initial = active_cert.pk
        self.fields["incident_type"].choices = [("", _("— choose —")), *taxonomy.choices()]
        self.fields["region"].choices = [("", _("— none —")), *Region.choices]
        if not self.is_bound:
            self.initial.setdefault("submission_key", secrets.token_urlsafe(24))

    def clean(self):
        data = super().clean()
        if (data.get("occurred_at") and data.get("detected_at")
                and data["detected_at"] < data["occurred_at"]):
            self.add_error("detected_at", _("It cannot have been detected before it occurred."))
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "owner_cert": data["owner_cert"], "title": data["title"],
            "description": data["description"],
            "classification": taxonomy.classification_of(data["incident_type"]),
            "incident_type": data["incident_type"], "severity": data["severity"],
            "tlp": data["tlp"], "sector": data["sector"], "region": data["region"],
            "is_cii": data["is_cii"], "affected_organization": data["affected_organization"],
            "occurred_at": data["occurred_at"], "detected_at": data["detected_at"],
            "submission_key": data["submission_key"],
        }


SEPARATOR = "|"  # between an observable's type and value in a checkbox's value; no type has one


def _key(kind: str, value: str) -> str:
    return f"{kind}{SEPARATOR}{value}"


def _parse(keys: list[str]) -> list[tuple[str, str]]:
    """The (type, value) pairs of posted checkbox values, in order, each once."""
    pairs = dict.fromkeys(tuple(key.split(SEPARATOR, 1)) for key in keys if SEPARATOR in key)
    return list(pairs)


def _found(data) -> list[tuple[str, str]]:
    """The observables in what was typed: title, description and the pasted text."""
    text = "\n".join(data.get(name, "") for name in ("title", "description", "indicators"))
    return [(str(kind), value) for kind, value in extract(text)]


def _review(candidates: list[tuple[str, str]], chosen: set[tuple[str, str]]) -> list[dict]:
    labels = dict(ObservableType.choices)
    return [{"key": _key(kind, value), "type": labels.get(kind, kind), "value": value,
             "checked": (kind, value) in chosen, "id": f"observable-{number}"}
            for number, (kind, value) in enumerate(candidates)]


@require_http_methods(["GET", "POST"])
@staff_page
def incident_create(request):
    user, active = request.user, request.staff.cert
    if not certs_to_open_incidents_for(user).exists():
        return refused(request, _("Only heads, handlers and analysts open incidents, and you are "
                                  "none of these in an active CERT."))
    if request.method == "GET":
        return _page(request, IncidentEntryForm(user=user, active_cert=active))

    step = request.POST.get("step", "create")
    reviewed = request.POST.get("reviewed") == "1"
    candidates = _parse(request.POST.getlist("candidate"))
    chosen = _parse(request.POST.getlist("observable"))
    if step == "extract":
        # Nothing is validated yet: the person may still be filling in the form.
        form = IncidentEntryForm(initial=request.POST.dict(), user=user, active_cert=active)
        found = _found(request.POST)
        return _page(request, form, review=_review(found, set(found)), reviewed=True)

    form = IncidentEntryForm(request.POST, user=user, active_cert=active)
    found = _found(request.POST)
    unreviewed = [pair for pair in found if pair not in candidates]
    review = _review(candidates + unreviewed, set(chosen) | set(unreviewed)) if reviewed else None
    if not form.is_valid():
        return _page(request, form, review=review, reviewed=reviewed, status=400)
    if unreviewed:
        # Indicators nobody has looked at yet (none reviewed, or new text since): review first.
        notice = ngettext("%(count)d indicator found: review it, then create the incident.",
                          "%(count)d indicators found: review them, then create the incident.",
                          len(unreviewed)) % {"count": len(unreviewed)}
        return _page(request, form, review=_review(candidates + unreviewed,
                                                   set(chosen) | set(unreviewed)),
                     reviewed=True, notice=notice)
    try:
        incident = incident_create_with_observables(actor=user, observables=chosen,
                                                    **form.service_arguments())
    except ValidationError as error:
        add_service_errors(form, error)
        return _page(request, form, review=review, reviewed=reviewed, status=400)
    count = incident.observables.count()
    messages.success(request, ngettext(
        "%(reference)s opened with %(count)d observable.",
        "%(reference)s opened with %(count)d observables.", count) % {
        "reference": incident.reference, "count": count})
    return redirect("dashboard:incident", reference=incident.reference)


def _page(request, form, *, review=None, reviewed=False, notice="", status=200):
    return render(request, "dashboard/incident_create.html", {
        "nav": "create", "form": form, "review": review, "reviewed": reviewed, "notice": notice,
    }, status=status)
