"""Fill the fault tests' database (already migrated): the national structure, one new incident of
the Federal CERT whose acknowledgement deadline passed a minute ago, and a handler with an e-mail
address in the CERT above it, to whom the escalation is sent; then queue one SLA pass. Prints
the incident's id.

Only the SLA pass and what it queues may run: the schedules `migrate` made are removed, and the
notifications about the incident's creation are marked sent, so every e-mail the worker sends is
about the escalation."""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from incidents.models import Incident, Notification
from incidents.tasks import SLA_PASS_TASK
from organizations.models import Cert
from tests.factories import MembershipFactory, UserFactory, make_incident

HANDLER_EMAIL = "duty.handler@cert.example"


class Command(BaseCommand):
    help = "Fill the database of the fault tests and queue one SLA pass."

    def handle(self, *args, **options):
        call_command("load_national_structure", verbosity=0, stdout=self.stdout)
        federal = Cert.objects.select_related("parent").get(slug="federal")
        MembershipFactory(cert=federal.parent, role="handler",
                          user=UserFactory(username="duty.handler", email=HANDLER_EMAIL))
        incident = make_incident(owner_cert=federal)
        Incident.objects.filter(pk=incident.pk).update(
            ack_due_at=timezone.now() - timedelta(minutes=1))
        Notification.objects.update(sent_at=timezone.now())
        Schedule.objects.all().delete()
        async_task(SLA_PASS_TASK, task_name="faults: SLA pass")
        self.stdout.write(str(incident.pk))
