"""An incident's checklist (issue 9, item 4): tasks with a title, an assignee and a done mark.

Tasks do not change the incident's row, so, like comments, they need no version: two people
ticking different tasks never conflict. Each change is one TASK timeline event. Who may keep the
checklist: incidents.access, Action.MANAGE_TASKS (the people who work or analyse the incident at
its owner).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.access import Action, assignable_users, require
from incidents.models import EventKind, Incident, IncidentTask
from incidents.services.base import add_event, require_visible
from incidents.text import hidden_character_message, single_line

TASK_TITLE_MAX = IncidentTask._meta.get_field("title").max_length


def _check_assignee(incident: Incident, assignee) -> None:
    if assignee is not None and not assignable_users(incident).filter(pk=assignee.pk).exists():
        raise ValidationError({"assignee": _("%(person)s is not an active member of %(cert)s, "
                                             "which owns the incident.")
                               % {"person": assignee, "cert": incident.owner_cert.name}})


def check_task_change(*, incident: Incident, actor) -> None:
    """Http404 for who may not see `incident`, ActionNotAllowed for who may not keep its
    checklist. The system (None) may."""
    require_visible(actor, incident)
    _require_manage(actor, incident)


def _require_manage(actor, incident: Incident) -> None:
    if actor is not None:
        require(actor, incident, Action.MANAGE_TASKS)


def task_add(*, incident: Incident, actor, title: str, assignee=None) -> IncidentTask:
    """Add a task to the incident's checklist, optionally assigned to a member of its owner."""
    require_visible(actor, incident)
    errors = {}
    hidden = hidden_character_message(title, field=_("title"))
    title = single_line(title)
    if hidden:
        errors["title"] = hidden
    elif not title:
        errors["title"] = _("Say what is to be done.")
    elif len(title) > TASK_TITLE_MAX:
        errors["title"] = _("Keep the task to %(max)d characters; it has %(length)d.") % {
            "max": TASK_TITLE_MAX, "length": len(title)}
    if errors:
        raise ValidationError(errors)
    _check_assignee(incident, assignee)
    _require_manage(actor, incident)
    now = timezone.now()
    with transaction.atomic():
        task = IncidentTask.objects.create(incident=incident, title=title, assignee=assignee,
                                           created_by=actor, created_at=now)
        add_event(incident, EventKind.TASK, actor, now, new=f"added: {title}",
                  reason=f"assigned to {assignee}" if assignee is not None else "")
    return task


def task_assign(*, task: IncidentTask, actor, assignee) -> IncidentTask:
    """Give the task to a member of the incident's owner CERT, or to nobody (None)."""
    incident = task.incident
    require_visible(actor, incident)
    _check_assignee(incident, assignee)
    _require_manage(actor, incident)
    if task.assignee_id == (assignee.pk if assignee is not None else None):
        return task
    now = timezone.now()
    old = str(task.assignee or "")
    with transaction.atomic():
        IncidentTask.objects.filter(pk=task.pk).update(assignee=assignee)
        task.assignee = assignee
        add_event(incident, EventKind.TASK, actor, now, old=old, new=str(assignee or ""),
                  reason=f"assigned: {task.title}")
    return task


def task_set_done(*, task: IncidentTask, actor, done: bool) -> IncidentTask:
    """Tick the task done (or undone). A conditional UPDATE: ticked twice at once, by two people
    or by a form sent twice, it is one change and one timeline event."""
    incident = task.incident
    check_task_change(incident=incident, actor=actor)
    now = timezone.now()
    with transaction.atomic():
        if done:
            changed = IncidentTask.objects.filter(pk=task.pk, done_at__isnull=True).update(
                done_at=now, done_by=actor)
        else:
            changed = IncidentTask.objects.filter(pk=task.pk, done_at__isnull=False).update(
                done_at=None, done_by=None)
        if changed:
            add_event(incident, EventKind.TASK, actor, now,
                      old="open" if done else "done", new="done" if done else "open",
                      reason=task.title)
    task.refresh_from_db(fields=["done_at", "done_by"])
    return task
