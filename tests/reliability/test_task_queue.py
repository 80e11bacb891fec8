"""The task queue's configuration (issue 13, item 4): nothing lost, bounded retries, no catch-up
of missed runs, a failure that is given up reaches the administrators, and an outbox claim is
taken over only once no live task can hold it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule, Task
from django_q.signals import post_execute

from incidents.models import Notification
from incidents.notifications import deliver_pending
from tests.factories import make_incident
from tests.test_settings import assert_refused, start_django

# Every schedule the code makes, and why running it late or twice is harmless (each is also in
# the report on idempotency). A new schedule fails this test until it is reviewed and added.
SCHEDULES = {
    "incidents.tasks.sla_pass",  # each missed deadline is moved or marked in the same commit
    "incidents.tasks.deliver_notifications",  # outbox rows claimed by a conditional UPDATE
    "incidents.webhooks.deliver_due",  # the same, for webhook deliveries
    "advisories.tasks.deliver_pending_advisories",  # the same, for advisory e-mails
    "incidents.statistics.refresh.refresh_task",  # recomputes figures; the last one wins
    "incidents.tasks.monthly_reports",  # builds only the reports not yet ready
}


def test_the_queue_keeps_failed_tasks_retries_them_a_bounded_number_of_times_and_never_catches_up(
        settings):
    cluster = settings.Q_CLUSTER
    # A failed task stays queued and is delivered again after `retry`, until max_attempts.
    assert cluster["ack_failures"] is False and Conf.ACK_FAILURES is False
    assert 1 < cluster["max_attempts"] == Conf.MAX_ATTEMPTS <= 10
    # A task still running is never delivered a second time (refused at start-up otherwise).
    assert cluster["timeout"] * 2 <= cluster["retry"]
    # After downtime a schedule runs once, not once per missed interval: catch_up is a setting of
    # the whole cluster, so it holds for the schedules that notify people too.
    assert cluster["catch_up"] is False and Conf.CATCH_UP is False
    # Failures are kept (save_limit counts successes only) and listed in the admin.
    assert cluster["save_limit"] >= 0


def test_every_schedule_the_code_makes_is_a_reviewed_one(db):
    call_command("schedule_monthly_reports", stdout=StringIO())

    assert set(Schedule.objects.values_list("func", flat=True)) == SCHEDULES


def failed_task(*, attempts: int, success: bool = False) -> dict:
    """A task as django-q2's monitor hands it to post_execute, after saving its result."""
    task_id = uuid.uuid4().hex
    now = timezone.now()
    Task.objects.create(id=task_id, name="deliver incident notifications",
                        func="incidents.tasks.deliver_notifications", started=now, stopped=now,
                        success=success, attempt_count=attempts,
                        result="LookupError: Phishing campaign against the ministry")
    return {"id": task_id, "name": "deliver incident notifications",
            "func": "incidents.tasks.deliver_notifications", "success": success,
            "ack_id": "42", "result": "LookupError: Phishing campaign against the ministry"}


def test_a_task_that_failed_for_the_last_time_is_mailed_to_the_administrators(db, settings):
    settings.ADMINS = [("", "ops@cert.example")]
    task = failed_task(attempts=Conf.MAX_ATTEMPTS)

    post_execute.send(sender="django_q", task=task)

    [message] = mail.outbox
    assert message.to == ["ops@cert.example"]
    assert "deliver incident notifications" in message.subject
    assert f"failed {Conf.MAX_ATTEMPTS} times" in message.body
    assert f"/admin/django_q/failure/{task['id']}/change/" in message.body
    # The error may quote an incident's title, which administrators may not read.
    assert "Phishing" not in message.body and "Phishing" not in message.subject


@pytest.mark.parametrize("attempts, success", [(1, False), (Conf.MAX_ATTEMPTS - 1, False),
                                               (1, True)])
def test_a_task_that_will_run_again_or_succeeded_mails_nobody(db, settings, attempts, success):
    settings.ADMINS = [("", "ops@cert.example")]

    post_execute.send(sender="django_q", task=failed_task(attempts=attempts, success=success))

    assert mail.outbox == []


def test_a_claim_younger_than_the_takeover_time_is_left_to_its_worker(certs, settings):
    settings.OUTBOX_STALE_CLAIM_SECONDS = 300
    incident = make_incident(owner_cert=certs["lahore"])
    now = timezone.now()
    Notification.objects.update(sent_at=now)
    rows = [Notification.objects.create(key=f"test:{age}", kind=Notification.Kind.ESCALATED,
                                        incident=incident, cert=certs["lahore"], created_at=now,
                                        claimed_at=now - timedelta(seconds=age))
            for age in (299, 301)]

    deliver_pending(now=now)

    live, dead = (Notification.objects.get(pk=row.pk) for row in rows)
    assert live.claimed_at == rows[0].claimed_at and live.attempts == 0
    assert dead.claimed_at == now and dead.attempts == 1  # taken over and delivered


def test_start_up_with_a_claim_takeover_not_above_the_task_timeout_fails_naming_both():
    assert_refused(start_django(DEBUG="1", Q_TIMEOUT="60", OUTBOX_STALE_CLAIM_SECONDS="60"),
                   "OUTBOX_STALE_CLAIM_SECONDS=60", "Q_TIMEOUT=60")


def test_start_up_with_an_administrator_that_is_no_address_fails_naming_admins():
    assert_refused(start_django(DEBUG="1", ADMINS="ops@cert.example, operations team"), "ADMINS=")
