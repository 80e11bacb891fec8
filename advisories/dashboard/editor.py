"""The advisory editor (issue 10, items 4 and 8): a new advisory (from scratch or drawn from an
incident) and the draft revision of an existing one, with a preview of the Markdown body.

Interfaces only: the form parses, advisories.services checks and writes (its messages are shown
on the fields), advisories.access and incidents.access decide who may. The preview works without
script (a "Preview" button renders it server-side) and live with static/js/advisory_editor.js,
which posts the body to `preview` and shows the sanitised HTML it answers.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from advisories import access, services
from advisories.access import Action, ActionNotAllowed
from advisories.content import cvss_v3_score, cvss_v4_score, render_markdown
from advisories.dashboard import reads
from advisories.dashboard.forms import AdvisoryForm, initial_from, initial_from_post
from advisories.dashboard.list import frame
from cert_portal.forms import add_service_errors
from cert_portal.staff import refused, staff_page
from incidents.access import get_visible_incident
from incidents.models import Incident
from incidents.observables import ObservableType

MAX_SUMMARY_LINES = 5
MAX_PREVIEW_CHARACTERS = 100_000


# --- Drawn from an incident ------------------------------------------------------------------


def _source_incident(request) -> Incident | None:
    """The incident named by the form or the address, if any: 404 when the member may not see
    it, the refused page (via ActionNotAllowed) when they may see it but do not work it."""
    reference = (request.POST.get("incident") if request.method == "POST"
                 else request.GET.get("incident")) or ""
    if not reference:
        return None
    incident = get_visible_incident(request.user, reference=reference.strip())
    if not access.may_draw_from_incident(request.user, incident):
        raise ActionNotAllowed(_("You may draw an advisory only from an incident you work; "
                                 "%(reference)s is not one.") % {"reference": incident.reference})
    return incident


def _indicators(incident: Incident | None) -> list[dict]:
    """The incident's observables as the advisory's indicators (read-only in the editor: taken
    from the incident again when the form is saved, never from the form)."""
    if incident is None:
        return []
    return [{"type": kind, "value": value} for kind, value in
            incident.observables.order_by("type", "value").values_list("type", "value")]


def _summary_of(description: str) -> str:
    """The description's first lines: its first paragraph, at most a few lines."""
    first = []
    for line in (description or "").strip().splitlines():
        if not line.strip():
            if first:
                break
            continue
        first.append(line.strip())
        if len(first) == MAX_SUMMARY_LINES:
            break
    return "\n".join(first)[:2000]


def _prefill(incident: Incident, indicators: list[dict]) -> dict:
    return {
        "title": incident.title, "summary": _summary_of(incident.description),
        "tlp": incident.tlp, "incident": incident.reference,
        "cve_ids": "\n".join(item["value"] for item in indicators
                             if item["type"] == ObservableType.CVE),
    }


# --- Preview ---------------------------------------------------------------------------------


def _score(function, vector: str) -> dict | None:
    if not (vector or "").strip():
        return None
    try:
        normalised, score = function(vector)
    except ValidationError as error:
        return {"error": " ".join(error.messages)}
    return {"vector": normalised, "score": str(score)}


def preview_of(data) -> dict:
    """The rendered, sanitised body and the CVSS scores of what was typed."""
    body = (data.get("body_markdown") or "")[:MAX_PREVIEW_CHARACTERS]
    return {"html": render_markdown(body),
            "cvss_v3": _score(cvss_v3_score, data.get("cvss_v3_vector", "")),
            "cvss_v4": _score(cvss_v4_score, data.get("cvss_v4_vector", ""))}


@require_POST
@staff_page
def preview(request):
    """The live preview's endpoint: JSON with the sanitised HTML of the posted Markdown. Members
    of an active CERT only (staff_page); a POST, so the CSRF check applies."""
    return JsonResponse(preview_of(request.POST))


# --- The editor ------------------------------------------------------------------------------


def _editor(request, form, *, advisory=None, revision=None, incident=None, indicators=(),
            shown_preview=None, status=200):
    return render(request, "dashboard/advisories/editor.html", {
        **frame(request), "nav": "advisories", "form": form, "advisory": advisory,
        "revision": revision, "incident": incident, "indicators": list(indicators),
        "preview": shown_preview, "author_cert": advisory.author_cert if advisory else request.staff.cert,
        "tlp_class": reads.tlp_class(incident.tlp) if incident else "",
    }, status=status)


@require_http_methods(["GET", "POST"])
@staff_page
def advisory_new(request):
    """A new advisory of the member's active CERT; `?incident=<reference>` draws it from an
    incident they work."""
    user, cert = request.user, request.staff.cert
    try:
        incident = _source_incident(request)
    except ActionNotAllowed as refusal:
        return refused(request, str(refusal))
    if not access.may_author_for(user, cert):
        return refused(request, _("You work as %(cert)s, where you may not write advisories: heads, "
                                  "handlers and analysts of a CERT write its advisories. Switch to "
                                  "such a CERT in the header.") % {"cert": cert.short_name})
    indicators = _indicators(incident)
    if request.method == "GET":
        initial = _prefill(incident, indicators) if incident else {}
        return _editor(request, AdvisoryForm(initial=initial, author_cert=cert),
                       incident=incident, indicators=indicators)
    if request.POST.get("step") == "preview":
        return _editor(request, AdvisoryForm(initial=initial_from_post(request.POST), author_cert=cert),
                       incident=incident, indicators=indicators, shown_preview=preview_of(request.POST))
    form = AdvisoryForm(request.POST, author_cert=cert)
    if not form.is_valid():
        return _editor(request, form, incident=incident, indicators=indicators, status=400)
    try:
        created = services.advisory_create(actor=user, cert=cert,
                                           content=form.content(indicators=indicators),
                                           source_incident=incident)
    except ActionNotAllowed as refusal:
        return refused(request, str(refusal))
    except ValidationError as error:
        add_service_errors(form, error)
        return _editor(request, form, incident=incident, indicators=indicators, status=400)
    messages.success(request, _("%(reference)s is saved as a draft. Submit it for review when it is "
                                "ready.") % {"reference": created.reference})
    return redirect(created)


@require_http_methods(["GET", "POST"])
@staff_page
def advisory_edit(request, reference: str):
    """The open draft revision of an advisory. Published text is never edited: a published
    advisory is revised (a new draft) first."""
    user = request.user
    advisory = access.get_visible_advisory(user, reference=reference)
    revision = access.open_revision(advisory)
    try:
        access.require(user, advisory, Action.EDIT, revision)
    except ActionNotAllowed as refusal:
        return refused(request, str(refusal))
    indicators = list(revision.indicators)
    cert = advisory.author_cert
    if request.method == "GET":
        initial = {**initial_from(services.content_of(revision)), "version": advisory.version}
        return _editor(request, AdvisoryForm(initial=initial, author_cert=cert), advisory=advisory,
                       revision=revision, indicators=indicators)
    if request.POST.get("step") == "preview":
        return _editor(request, AdvisoryForm(initial=initial_from_post(request.POST), author_cert=cert),
                       advisory=advisory, revision=revision, indicators=indicators,
                       shown_preview=preview_of(request.POST))
    form = AdvisoryForm(request.POST, author_cert=cert)
    if not form.is_valid():
        return _editor(request, form, advisory=advisory, revision=revision, indicators=indicators,
                       status=400)
    try:
        services.advisory_edit(actor=user, advisory=advisory,
                               content=form.content(indicators=indicators),
                               version=form.cleaned_data["version"])
    except ActionNotAllowed as refusal:
        return refused(request, str(refusal))
    except services.AdvisoryConflictError as error:
        form.add_error(None, str(error))
        return _editor(request, form, advisory=advisory, revision=revision, indicators=indicators,
                       status=409)
    except ValidationError as error:
        add_service_errors(form, error)
        return _editor(request, form, advisory=advisory, revision=revision, indicators=indicators,
                       status=400)
    messages.success(request, _("The draft of %(reference)s is saved.") % {"reference": advisory.reference})
    return redirect(advisory)
