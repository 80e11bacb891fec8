"""The incident workspace (issue 9, item 4): one incident's page, where the staff work it.

Interfaces only. The page reads through incidents.workspace (visibility from incidents.access);
each action is one POST to dashboard:incident_action that asks incidents.access whether the
member may take it (ActionNotAllowed: the styled 403 page, even for a form posted by hand), parses
a form of incidents.forms and calls one service. The changes of the incident's own row carry the
version the member was looking at: on a stale page they are refused with a message, before the
form is even read, and nothing is overwritten (the admin's guarantee, issue 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views.decorators.http import require_http_methods

from cert_portal.audit.events import incident_viewed
from cert_portal.forms import add_service_errors
from cert_portal.pagination import BadCursor, decode_cursor
from cert_portal.staff import staff_page
from incidents import forms as workspace_forms
from incidents import services
from incidents import workspace as reads
from incidents.access import (
    Action,
    ActionNotAllowed,
    allowed_actions,
    assignable_users,
    visible_incidents,
)
from incidents.models import Incident, IncidentShare, Source, Status
from incidents.services import HEAD_ONLY_TRANSITIONS, TRANSITIONS
from incidents.severity import Severity
from incidents.tlp import STRICTNESS, Tlp, shareable
from organizations.models import Cert


def person(user) -> str:
    """How the dashboard names a member: their full name, else their username."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def when(moment) -> str:
    """A moment to the minute in the reader's time zone, with the zone's abbreviation."""
    return date_format(timezone.localtime(moment), "Y-m-d H:i T")


def tlp_class(label: str) -> str:
    """The CSS class of a TLP label: TLP:AMBER+STRICT -> tlp-amber-strict."""
    return "tlp-" + label.removeprefix("TLP:").lower().replace("+", "-")


def workspace_url(incident: Incident, tab: str | None = None) -> str:
    url = reverse("dashboard:incident", args=[incident.reference])
    return f"{url}?{urlencode({'tab': tab})}" if tab in reads.TABS else url


# --- The page ----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
@staff_page
def incident(request, reference: str):
    incident = reads.workspace_incident(request.user, reference)
    tab = request.GET.get("tab", reads.DEFAULT_TAB)
    if tab not in reads.TABS:
        tab = reads.DEFAULT_TAB
    allowed = allowed_actions(request.user, incident)
    # The advisories part asks whether the member works the incident: these same actions, read once.
    incident.drawn_advisories.incident_actions = allowed
    services.mark_incident_seen(incident=incident, user=request.user)
    incident_viewed(request, incident, detail={"tab": tab})
    context = {
        **controls(request, incident, allowed),
        "nav": "queue", "incident": incident, "tab": tab,
        "tabs": [(name, label, reads.tab_counts(incident)[name]) for name, label in
                 reads.TABS.items()],
        "clocks": reads.sla_clocks(incident),
        "tlp_class": tlp_class(incident.tlp),
        "merged_into": reads.merged_into_visible(request.user, incident),
        "watching": services.is_watching(incident=incident, user=request.user),
        **tab_rows(request, incident, tab),
    }
    return render(request, "dashboard/incident.html", context)


def tab_rows(request, incident: Incident, tab: str) -> dict[str, Any]:
    """The rows of the open tab only: each tab is a link, so the others are not read."""
    if tab == "timeline":
        before = request.GET.get("before")
        try:
            page = reads.timeline(incident, before=decode_cursor(before) if before else None)
        except BadCursor as error:
            messages.error(request, str(error))
            page = reads.timeline(incident)
        return {"events": page.events, "timeline_page": page}
    if tab == "comments":
        return {"comments": reads.comments(incident)}
    if tab == "observables":
        return {"observables": reads.observables(request.user, incident),
                "seen_cap": reads.SEEN_ELSEWHERE_CAP}
    if tab == "files":
        return {"attachments": reads.attachments(incident)}
    if tab == "tasks":
        return {"tasks": reads.tasks(incident)}
    if tab == "related":
        return {"related": reads.related_incidents(request.user, incident)}
    return {"owners": reads.owners(incident)}


def controls(request, incident: Incident, allowed: set[Action]) -> dict[str, Any]:
    """What the page offers this member: only what incidents.access allows, and only what makes
    sense for the incident as it is (no acknowledging twice, no escalating a closed incident)."""
    user = request.user
    can = {action.value: action in allowed for action in Action}
    is_open = incident.is_open
    may_reopen = Action.REOPEN_FINAL in allowed
    statuses = [(status, Status(status).label) for status in sorted(TRANSITIONS[incident.status])
                if (incident.status, status) not in HEAD_ONLY_TRANSITIONS or may_reopen]
    tlps = [label for label in Tlp if label != incident.tlp and (
        (Action.RAISE_TLP in allowed and STRICTNESS[label] > STRICTNESS[Tlp(incident.tlp)])
        or (Action.LOWER_TLP in allowed and STRICTNESS[label] < STRICTNESS[Tlp(incident.tlp)]))]
    members = ([] if not (can["assign"] or can["manage_tasks"])
               else list(assignable_users(incident).order_by("username")))
    member_of_owner = any(m.cert_id == incident.owner_cert_id for m in request.staff.memberships)
    owner = incident.owner_cert
    escalate_to = (list(owner.ancestors().filter(is_active=True).order_by("-depth"))
                   if can["escalate"] and is_open else [])
    refer_to = (list(owner.descendants().filter(is_active=True).order_by("path"))
                if can["refer"] and is_open else [])
    share_with = (list(Cert.objects.filter(is_active=True).exclude(pk=owner.pk)
                       .exclude(pk__in=IncidentShare.objects.filter(incident=incident)
                                .values("cert_id")).order_by("path"))
                  if can["share"] and shareable(incident.tlp) else [])
    return {
        "can": can,
        "offer": {
            "assign_me": can["assign"] and member_of_owner and incident.assignee_id != user.pk,
            "acknowledge": can["transition"] and incident.status == Status.NEW,
            "transition": can["transition"] and bool(statuses),
            "severity": can["change_severity"],
            "assign": can["assign"],
            "tlp": bool(tlps),
            "escalate": bool(escalate_to), "refer": bool(refer_to), "share": bool(share_with),
            "comment": can["comment"],
            "reporter_comment": can["comment"] and incident.source == Source.PUBLIC_FORM,
            "observable": can["add_observable"], "attach": can["attach"],
            "tasks": can["manage_tasks"], "link": can["link"],
            "merge": can["merge"] and is_open and incident.merged_into_id is None,
        },
        "statuses": statuses, "tlps": tlps, "members": members,
        "severities": [(level.value, level.label) for level in Severity],
        "observable_types": workspace_forms.ObservableForm.base_fields["type"].choices,
        "escalate_to": escalate_to, "refer_to": refer_to, "share_with": share_with,
    }


# --- Actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceAction:
    """One thing a member does to an incident from its workspace."""

    title: str  # marked with gettext_noop; translated when shown
    needs: tuple[Action, ...]  # any one of them lets the member ask; the service decides the rest
    run: Callable[..., str | HttpResponse]  # (request, incident, cleaned data) -> message/answer
    form: type | None = None
    # Changes the incident's row: refused when the page was stale (the version it carries).
    versioned: bool = False


def _acknowledge(request, incident, data):
    services.incident_acknowledge(incident=incident, actor=request.user)
    return _("%(reference)s is acknowledged: its acknowledgement clock has stopped.") % {
        "reference": incident.reference}


def _assign_me(request, incident, data):
    services.incident_assign(incident=incident, actor=request.user, assignee=request.user)
    return _("%(reference)s is assigned to you.") % {"reference": incident.reference}


def _assign(request, incident, data):
    assignee = data["assignee"]
    services.incident_assign(incident=incident, actor=request.user, assignee=assignee)
    if assignee is None:
        return _("%(reference)s is unassigned.") % {"reference": incident.reference}
    return _("%(reference)s is assigned to %(person)s.") % {"reference": incident.reference,
                                                             "person": person(assignee)}


def _transition(request, incident, data):
    services.incident_transition(incident=incident, actor=request.user,
                                 to_status=data["to_status"], reason=data["reason"])
    return _("%(reference)s is now %(status)s.") % {"reference": incident.reference,
                                                     "status": incident.get_status_display()}


def _severity(request, incident, data):
    services.incident_change_severity(incident=incident, actor=request.user,
                                      severity=data["severity"], reason=data["reason"])
    return _("%(reference)s is now %(severity)s: acknowledge by %(ack)s, resolve by "
             "%(resolve)s.") % {"reference": incident.reference,
                                "severity": incident.get_severity_display(),
                                "ack": when(incident.ack_due_at),
                                "resolve": when(incident.resolve_due_at)}


def _tlp(request, incident, data):
    services.incident_change_tlp(incident=incident, actor=request.user, tlp=data["tlp"],
                                 reason=data["reason"])
    return _("%(reference)s is now %(tlp)s; who may see it follows the new label.") % {
        "reference": incident.reference, "tlp": incident.tlp}


def _hand_over(kind: str):
    def run(request, incident, data):
        old_owner, old_assignee = incident.owner_cert, incident.assignee
        hand = services.incident_escalate if kind == "escalate" else services.incident_refer
        hand(incident=incident, actor=request.user, to_cert=data["to_cert"],
             reason=data["reason"])
        return handed_over_answer(request, incident, kind=kind, old_owner=old_owner,
                                  old_assignee=old_assignee)

    return run


def handed_over_answer(request, incident, *, kind: str, old_owner, old_assignee):
    """Say exactly what an escalation or referral changed (issue 9, item 4), and where the member
    stands now: back to the workspace while they may still see it, else to the queue."""
    values = {"reference": incident.reference, "old": old_owner.name,
              "new": incident.owner_cert.name, "deadline": when(incident.ack_due_at)}
    if kind == "escalate":
        text = _("%(reference)s was escalated from %(old)s to %(new)s: it is new again for %(new)s "
                 "with an acknowledgement deadline of %(deadline)s") % values
    else:
        text = _("%(reference)s was referred from %(old)s to %(new)s: it is new again for %(new)s "
                 "with an acknowledgement deadline of %(deadline)s") % values
    if old_assignee is not None:
        text += "; " + _("its assignee %(person)s was unassigned") % {"person": person(old_assignee)}
    now_allowed = allowed_actions(request.user, incident)
    if Action.TRANSITION in now_allowed or Action.ADD_OBSERVABLE in now_allowed:
        text += "; " + _("you are a member of %(new)s too, so you still work it.") % values
    elif Action.COMMENT in now_allowed:
        text += "; " + _("your CERT keeps view and comment access.")
    elif Action.VIEW in now_allowed:
        text += "; " + _("your CERT keeps view access.")
    else:
        text += "; " + _("your CERT can no longer see it.")
        messages.success(request, text)
        return redirect("dashboard:queue")
    return text


def _share(request, incident, data):
    services.incident_share(incident=incident, actor=request.user, cert=data["cert"],
                            reason=data["reason"])
    return _("%(reference)s is now shared with %(cert)s: its members may view it, not change it, "
             "while it is %(tlp)s or less strict.") % {"reference": incident.reference,
                                                       "cert": data["cert"].name,
                                                       "tlp": incident.tlp}


def _comment(request, incident, data):
    reporter_visible = data["visibility"] == workspace_forms.TO_REPORTER
    services.incident_comment(incident=incident, actor=request.user, body=data["body"],
                              reporter_visible=reporter_visible)
    if reporter_visible:
        return _("Your message to the reporter was added: they read it on their status page.")
    return _("Your internal comment was added.")


def _observable(request, incident, data):
    before = incident.observables.filter(type=data["type"]).count()
    try:
        observable = services.incident_add_observable(incident=incident, actor=request.user,
                                                      type=data["type"], value=data["value"])
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            raise
        raise ValidationError({"value": error.messages}) from None
    if incident.observables.filter(type=data["type"]).count() == before:
        return _("%(value)s was recorded already.") % {"value": observable.value}
    return _("%(value)s was recorded as an observable.") % {"value": observable.value}


def _attach(request, incident, data):
    attachment = services.incident_attach(incident=incident, actor=request.user,
                                          uploaded_file=data["file"])
    return _("%(name)s was attached (SHA-256 %(sha)s…).") % {"name": attachment.original_name,
                                                            "sha": attachment.sha256[:12]}


def _watch(request, incident, data):
    services.incident_watch(incident=incident, actor=request.user)
    return _("You are watching %(reference)s: its activity reaches you in your notifications.") % {
        "reference": incident.reference}


def _unwatch(request, incident, data):
    services.incident_unwatch(incident=incident, actor=request.user)
    return _("You stopped watching %(reference)s.") % {"reference": incident.reference}


def _task_add(request, incident, data):
    task = services.task_add(incident=incident, actor=request.user, title=data["title"],
                             assignee=data["assignee"])
    return _("Task added: %(title)s.") % {"title": task.title}


def _task_assign(request, incident, data):
    task = services.task_assign(task=data["task"], actor=request.user, assignee=data["assignee"])
    if task.assignee is None:
        return _("Task unassigned: %(title)s.") % {"title": task.title}
    return _("Task assigned to %(person)s: %(title)s.") % {"person": person(task.assignee),
                                                           "title": task.title}


def _task_done(done: bool):
    def run(request, incident, data):
        task = services.task_set_done(task=data["task"], actor=request.user, done=done)
        if done:
            return _("Task done: %(title)s.") % {"title": task.title}
        return _("Task open again: %(title)s.") % {"title": task.title}

    return run


def _link(request, incident, data):
    other = data["reference"]
    services.incident_link(incident=incident, actor=request.user, other=other,
                           reason=data["reason"])
    return _("%(reference)s and %(other)s are now related; both timelines say so.") % {
        "reference": incident.reference, "other": other.reference}


def _merge(request, incident, data):
    into = data["into"]
    services.incident_merge(incident=incident, actor=request.user, into=into,
                            reason=data["reason"])
    messages.success(request, _(
        "%(reference)s was merged into %(into)s: it is rejected as a duplicate, its observables "
        "were copied here, and its reporter's status page now follows %(into)s.") % {
            "reference": incident.reference, "into": into.reference})
    return redirect(workspace_url(into, "related"))


ACTIONS: dict[str, WorkspaceAction] = {
    "acknowledge": WorkspaceAction(N_("Acknowledge"), (Action.TRANSITION,), _acknowledge,
                                   versioned=True),
    "assign-me": WorkspaceAction(N_("Assign to me"), (Action.ASSIGN,), _assign_me, versioned=True),
    "assign": WorkspaceAction(N_("Assign"), (Action.ASSIGN,), _assign, workspace_forms.AssignForm,
                              versioned=True),
    "status": WorkspaceAction(N_("Change status"), (Action.TRANSITION,), _transition,
                              workspace_forms.TransitionForm, versioned=True),
    "severity": WorkspaceAction(N_("Change severity"), (Action.CHANGE_SEVERITY,), _severity,
                                workspace_forms.SeverityForm, versioned=True),
    "tlp": WorkspaceAction(N_("Change TLP"), (Action.RAISE_TLP, Action.LOWER_TLP), _tlp,
                           workspace_forms.TlpForm, versioned=True),
    "escalate": WorkspaceAction(N_("Escalate"), (Action.ESCALATE,), _hand_over("escalate"),
                                workspace_forms.EscalateForm, versioned=True),
    "refer": WorkspaceAction(N_("Refer"), (Action.REFER,), _hand_over("refer"),
                             workspace_forms.ReferForm, versioned=True),
    "share": WorkspaceAction(N_("Share"), (Action.SHARE,), _share, workspace_forms.ShareForm),
    "comment": WorkspaceAction(N_("Comment"), (Action.COMMENT,), _comment,
                               workspace_forms.CommentForm),
    "observable": WorkspaceAction(N_("Add an observable"), (Action.ADD_OBSERVABLE,), _observable,
                                  workspace_forms.ObservableForm),
    "attach": WorkspaceAction(N_("Attach a file"), (Action.ATTACH,), _attach,
                              workspace_forms.AttachmentForm),
    "watch": WorkspaceAction(N_("Watch"), (Action.VIEW,), _watch),
    "unwatch": WorkspaceAction(N_("Stop watching"), (Action.VIEW,), _unwatch),
    "task-add": WorkspaceAction(N_("Add a task"), (Action.MANAGE_TASKS,), _task_add,
                                workspace_forms.TaskForm),
    "task-assign": WorkspaceAction(N_("Assign a task"), (Action.MANAGE_TASKS,), _task_assign,
                                   workspace_forms.TaskAssignForm),
    "task-done": WorkspaceAction(N_("Tick a task done"), (Action.MANAGE_TASKS,), _task_done(True),
                                 workspace_forms.TaskChoiceForm),
    "task-undone": WorkspaceAction(N_("Open a task again"), (Action.MANAGE_TASKS,),
                                   _task_done(False), workspace_forms.TaskChoiceForm),
    "link": WorkspaceAction(N_("Link a related incident"), (Action.LINK,), _link,
                            workspace_forms.LinkForm),
    "merge": WorkspaceAction(N_("Merge this duplicate"), (Action.MERGE,), _merge,
                             workspace_forms.MergeForm, versioned=True),
}

# Which tab each action's result shows, when the form did not say.
RESULT_TABS = {"comment": "comments", "observable": "observables", "attach": "files",
               "task-add": "tasks", "task-assign": "tasks", "task-done": "tasks",
               "task-undone": "tasks", "link": "related"}


def incident_for_action(user, reference: str) -> Incident:
    incident = (visible_incidents(user, Incident.objects.select_related("owner_cert", "assignee"))
                .filter(reference=reference).first())
    if incident is None:
        raise Http404("No incident matches the given query.")
    return incident


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page
def incident_action(request, reference: str, action: str):
    """One action on the incident. GET shows its form on a page of its own (what the workspace's
    inline forms fall back to, and where a form with errors is shown again); POST takes it."""
    # 404 first, for missing and invisible incidents alike, whatever the action is called.
    incident = incident_for_action(request.user, reference)
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("No such action.")
    allowed = allowed_actions(request.user, incident)
    if not allowed.intersection(spec.needs):
        raise ActionNotAllowed(_("Your role does not allow this on %(reference)s: %(action)s.")
                               % {"reference": incident.reference, "action": _(spec.title)})
    tab = request.POST.get("tab") or RESULT_TABS.get(action)
    back = workspace_url(incident, tab)
    if request.method != "POST":
        if spec.form is None:
            return redirect(back)
        form = spec.form(incident=incident, user=request.user, auto_id="action-%s")
        return action_page(request, incident, spec, action, form)
    if spec.versioned and request.POST.get("version") != str(incident.version):
        # Checked before the form: its choices follow the incident as it is now, so a stale form
        # would otherwise fail with a confusing "not a valid choice".
        messages.error(request, str(services.ConflictError(incident)))
        return redirect(back)
    form = None
    if spec.form is not None:
        form = spec.form(request.POST, request.FILES, incident=incident, user=request.user,
                         auto_id="action-%s")
        if not form.is_valid():
            return action_page(request, incident, spec, action, form)
    try:
        answer = spec.run(request, incident, form.cleaned_data if form is not None else {})
    except services.ConflictError as error:
        messages.error(request, str(error))
        return redirect(back)
    except ValidationError as error:
        if form is None:
            messages.error(request, " ".join(error.messages))
            return redirect(back)
        add_service_errors(form, error)
        return action_page(request, incident, spec, action, form)
    if isinstance(answer, HttpResponse):
        return answer
    messages.success(request, answer)
    return redirect(back)


def action_page(request, incident: Incident, spec: WorkspaceAction, action: str, form):
    return render(request, "dashboard/incident_action.html", {
        "nav": "queue", "incident": incident, "form": form, "action": action,
        "title": _(spec.title), "tlp_class": tlp_class(incident.tlp),
        "tab": request.POST.get("tab") or request.GET.get("tab") or "",
    }, status=200 if not form.is_bound else 400)
