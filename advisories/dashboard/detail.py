"""One advisory in the dashboard (issue 10, item 4): its published text and history, its open
revision for the author CERT, and the workflow's actions.

Interfaces only. The page offers exactly what advisories.access.allowed_actions allows; each
action is one POST that calls one service, which asks access again: a refusal (a form posted by
hand, a page that was stale) is the styled 403 page with access' reason, and an advisory the
member may not see is a 404 whatever the action is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views.decorators.http import require_http_methods

from advisories import services
from advisories.access import Action, ActionNotAllowed, get_visible_advisory
from advisories.dashboard import reads
from advisories.dashboard.forms import ReasonForm
from advisories.dashboard.list import frame
from advisories.models import Advisory
from cert_portal.audit.events import advisory_viewed
from cert_portal.forms import add_service_errors
from cert_portal.staff import refused, staff_page


@require_http_methods(["GET", "HEAD"])
@staff_page
def advisory(request, reference: str):
    found = get_visible_advisory(request.user, reference=reference)
    detail = reads.advisory_detail(request.user, found)
    advisory_viewed(request, found)
    return render(request, "dashboard/advisories/detail.html", {
        **frame(request), "advisory": found, "detail": detail,
        "can": {action.value: action in detail.allowed for action in Action},
        "tlp_class": reads.tlp_class(found.tlp),
    })


@require_http_methods(["GET", "HEAD"])
@staff_page
def revision(request, reference: str, number: int):
    found = get_visible_advisory(request.user, reference=reference)
    shown = reads.readable_revision(request.user, found, number)
    if shown is None:
        raise Http404("No revision matches the given query.")
    advisory_viewed(request, found, tlp=shown.tlp, detail={"revision": number})
    return render(request, "dashboard/advisories/revision.html", {
        **frame(request), "advisory": found, "revision": shown,
        "tlp_class": reads.tlp_class(shown.tlp),
    })


# --- Actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowAction:
    title: str  # marked with gettext_noop, translated when shown
    run: Callable[[object, Advisory, dict], str]  # (request, advisory, form data) -> message
    with_reason: bool = False


def _submit(request, advisory, data):
    services.advisory_submit(actor=request.user, advisory=advisory, version=data["version"])
    return _("%(reference)s was sent for review: a head of %(cert)s who neither wrote nor edited "
             "it approves it.") % {"reference": advisory.reference,
                                   "cert": advisory.author_cert.short_name}


def _return(request, advisory, data):
    services.advisory_return(actor=request.user, advisory=advisory, reason=data["reason"],
                             version=data["version"])
    return _("%(reference)s is a draft again.") % {"reference": advisory.reference}


def _approve(request, advisory, data):
    revision = services.advisory_approve(actor=request.user, advisory=advisory,
                                         version=data["version"])
    return _("%(reference)s revision %(number)s is published; its readers are being sent it.") % {
        "reference": advisory.reference, "number": revision.number}


def _revise(request, advisory, data):
    services.advisory_revise(actor=request.user, advisory=advisory, version=data["version"])
    return _("A new revision of %(reference)s was started from the published text. Readers keep "
             "seeing the published revision until the new one is approved.") % {
        "reference": advisory.reference}


def _withdraw(request, advisory, data):
    services.advisory_withdraw(actor=request.user, advisory=advisory, reason=data["reason"],
                               version=data["version"])
    return _("%(reference)s is withdrawn; its readers see why.") % {"reference": advisory.reference}


ACTIONS: dict[str, WorkflowAction] = {
    "submit": WorkflowAction(N_("Submit for review"), _submit),
    "return": WorkflowAction(N_("Return to author"), _return, with_reason=True),
    "approve": WorkflowAction(N_("Approve and publish"), _approve),
    "revise": WorkflowAction(N_("Revise"), _revise),
    "withdraw": WorkflowAction(N_("Withdraw"), _withdraw, with_reason=True),
}


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page
def advisory_action(request, reference: str, action: str):
    """One step of the workflow. GET shows its form on a page of its own (where a reason that was
    missing is asked again); POST takes it."""
    # 404 first, for missing and invisible advisories alike, whatever the action is called.
    found = get_visible_advisory(request.user, reference=reference)
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("No such action.")
    if request.method != "POST":
        if not spec.with_reason:
            return redirect(found)
        return _action_page(request, found, spec, action, ReasonForm(
            initial={"version": found.version}, auto_id="action-%s"))
    form = ReasonForm(request.POST, auto_id="action-%s")
    if not form.is_valid():
        return _action_page(request, found, spec, action, form)
    try:
        answer = spec.run(request, found, form.cleaned_data)
    except ActionNotAllowed as refusal:
        return refused(request, str(refusal))
    except services.AdvisoryConflictError as error:
        messages.error(request, str(error))
        return redirect(found)
    except ValidationError as error:
        if not spec.with_reason:
            messages.error(request, " ".join(error.messages))
            return redirect(found)
        add_service_errors(form, error)
        return _action_page(request, found, spec, action, form)
    messages.success(request, answer)
    if action == "revise":
        return redirect("advisories_staff:edit", reference=found.reference)
    return redirect(found)


def _action_page(request, advisory: Advisory, spec: WorkflowAction, action: str, form):
    return render(request, "dashboard/advisories/action.html", {
        **frame(request), "advisory": advisory, "form": form, "action": action,
        "title": _(spec.title), "tlp_class": reads.tlp_class(advisory.tlp),
    }, status=400 if form.is_bound else 200)
