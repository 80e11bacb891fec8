"""django-q2 tasks of the advisories app: thin wrappers that fetch by id and call the code that
does the work. Every task is idempotent: delivery can repeat."""

from __future__ import annotations

DISTRIBUTE_TASK = "advisories.tasks.distribute_revision"


def enqueue_distribution(revision_id: int) -> None:
    """Queue the e-mails of a just-published revision (called on commit by the publishing write)."""
    from django_q.tasks import async_task

    async_task(DISTRIBUTE_TASK, revision_id, task_name=f"advisories: distribute revision {revision_id}",
               group="advisories")


def distribute_revision(revision_id: int) -> int:
    from advisories.distribution import distribute

    return distribute(revision_id)


def deliver_pending_advisories() -> int:
    """Every minute (schedule "advisories: deliver e-mails"): send the advisory e-mails that are
    due, the retries of failed sends among them."""
    from advisories.distribution import deliver_pending

    return deliver_pending()
