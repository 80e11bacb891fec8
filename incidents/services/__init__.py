"""Every change of an incident, one function each (DOMAIN.md §3).

Each service checks the actor's right through incidents.access (actor None is the system: the SLA
scheduler, a management command, the public form), writes the incident with a conditional UPDATE
on its version (a stale write raises ConflictError, never overwrites), appends its timeline event
in the same transaction, re-derives the grants when owner, shares or TLP change, and records its
notifications in the outbox, delivered after commit by a django-q2 task.

The services live by subject in this package: base (what every service shares), lifecycle,
contributions and handover; import them from here, as the dashboard, the admin, the public pages,
the API and the scheduler all do.
"""

from incidents.services.base import ConflictError, notify, record_notifications
from incidents.services.contributions import (
    attachment_max_bytes,
    incident_add_observable,
    incident_attach,
    incident_comment,
)
from incidents.services.handover import (
    HAND_OVER_ACTIONS,
    check_hand_over,
    hand_over,
    incident_escalate,
    incident_refer,
    incident_share,
)
from incidents.services.lifecycle import (
    HEAD_ONLY_TRANSITIONS,
    TRANSITIONS,
    incident_acknowledge,
    incident_assign,
    incident_change_severity,
    incident_change_tlp,
    incident_create,
    incident_transition,
    next_reference,
    reference_prefix,
)
from incidents.services.links import check_link, incident_link
from incidents.services.merge import check_merge, incident_merge
from incidents.services.saved_views import check_saved_view, saved_view_create, saved_view_delete
from incidents.services.tasks import check_task_change, task_add, task_assign, task_set_done
from incidents.services.triage import (
    incident_create_with_observables,
    report_accept,
    report_reject,
    triage_page,
)
from incidents.services.visits import record_dashboard_visit
from incidents.services.watching import (
    email_muted_kinds,
    inbox_mark_all_read,
    inbox_mark_read,
    incident_unwatch,
    incident_watch,
    is_watching,
    mark_incident_seen,
    set_email_preferences,
    staff_notice_kinds,
)

__all__ = [
    "HAND_OVER_ACTIONS", "HEAD_ONLY_TRANSITIONS", "TRANSITIONS", "ConflictError",
    "attachment_max_bytes", "check_hand_over", "hand_over", "incident_acknowledge",
    "incident_add_observable", "incident_assign", "incident_attach", "incident_change_severity",
    "incident_change_tlp", "incident_comment", "incident_create", "incident_escalate",
    "incident_refer", "incident_share", "incident_transition", "next_reference", "notify",
    "record_notifications", "reference_prefix",
]
__all__ += ["email_muted_kinds", "inbox_mark_all_read", "inbox_mark_read", "incident_unwatch",
            "incident_watch", "is_watching", "mark_incident_seen", "set_email_preferences",
            "staff_notice_kinds"]
__all__ += ["check_merge", "incident_merge"]
__all__ += ["check_link", "check_task_change", "incident_link", "task_add", "task_assign",
            "task_set_done"]
__all__ += ["incident_create_with_observables", "report_accept", "report_reject", "triage_page"]
__all__ += ["check_saved_view", "record_dashboard_visit", "saved_view_create", "saved_view_delete"]
