"""django-q2 tasks: thin wrappers that call the incidents code. Every task is idempotent."""

from django_q.tasks import async_task

from incidents.notifications import deliver_pending
from incidents.sla import run_sla_pass

SLA_PASS_TASK = "incidents.tasks.sla_pass"  # nosec B105 # a task's dotted path, not a secret


def deliver_notifications() -> int:
    return deliver_pending()


def sla_pass() -> dict:
    """Run the SLA pass; if it stopped at its time budget with more due, queue the next pass now
    rather than at the next minute of the schedule, so that a backlog drains in a few minutes."""
    result = run_sla_pass()
    if result.more_due:
        async_task(SLA_PASS_TASK, task_name="incidents: SLA pass, continued", group="sla")
    return result.as_dict()


def monthly_reports() -> dict:
    """Last month's report of every active CERT that has none ready (issue 12); idempotent."""
    from incidents.statistics.reports import build_due_reports

    return build_due_reports()
