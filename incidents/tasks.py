"""django-q2 tasks: thin wrappers that call the incidents code. Every task is idempotent."""

from incidents.notifications import deliver_pending
from incidents.sla import run_sla_pass


def deliver_notifications() -> int:
    return deliver_pending()


def sla_pass() -> dict:
    return run_sla_pass().as_dict()
