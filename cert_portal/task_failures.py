"""Background tasks that failed for good reach the administrators (issue 13, item 4).

django-q2 delivers a failed task again after Q_RETRY seconds (`ack_failures` off) until it has
failed Q_MAX_ATTEMPTS times, then acknowledges it and keeps it as a Failure, listed in the admin
under "Failed tasks". That list is only seen by whoever opens it: when a task fails for the last
time, this also e-mails settings.ADMINS (ADMINS in the environment) and logs it at ERROR.

The e-mail names the task, how often it ran and where the Failure is in the admin, not the error
itself: an error may quote an incident's title, which administrators may not read (DOMAIN.md §1;
incidents.notifications.failed_attempt hides titles for the same reason). The admin page shows it
to superusers, as before.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import mail_admins
from django.urls import reverse
from django_q.conf import Conf
from django_q.models import Task
from django_q.signals import post_execute

logger = logging.getLogger(__name__)


def is_final_failure(task: dict) -> int | None:
    """How many times the task ran, if it failed and django-q2 will not deliver it again;
    else None. Read after django-q2 saved the result (post_execute, in its monitor process)."""
    if task.get("success", True):
        return None
    attempts = (Task.objects.filter(id=task.get("id")).values_list("attempt_count", flat=True)
                .first())
    if attempts is None:
        return None  # not saved (a cached or synchronous task): nothing is delivered again
    given_up = (task.get("ack_failure") or not task.get("ack_id")
                or (Conf.MAX_ATTEMPTS > 0 and attempts >= Conf.MAX_ATTEMPTS))
    return attempts if given_up else None


def report_final_failure(sender, task: dict, **kwargs) -> None:
    """post_execute receiver: tell the administrators about a task that failed for good."""
    attempts = is_final_failure(task)
    if attempts is None:
        return
    name, func = task.get("name", ""), task.get("func", "")
    func = func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"
    link = (settings.PORTAL_BASE_URL.rstrip("/")
            + reverse("admin:django_q_failure_change", args=[task["id"]]))
    logger.error("Background task %s (%s) failed %d times and is given up; see %s", name, func,
                 attempts, link)
    mail_admins(
        f"Background task failed for good: {name}",
        "\n".join([
            f"The background task {name} ({func}) failed {attempts} times and will not be run "
            "again by itself.",
            "",
            f"Its error is in the admin, under Failed tasks: {link}",
            "What it was for may need doing by hand, or the task queuing again once the cause is "
            "fixed.",
        ]),
        fail_silently=True,
    )


def connect() -> None:
    post_execute.connect(report_final_failure, dispatch_uid="cert_portal.task_failures")
