"""Print, as one line of JSON, what the fault tests assert about the incident `incident_id`."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django_q.models import OrmQ

from incidents.models import EventKind, Incident, Notification, TimelineEvent


class Command(BaseCommand):
    help = "Print the escalation state of one incident as JSON."

    def add_arguments(self, parser):
        parser.add_argument("incident_id", type=int)

    def handle(self, *args, **options):
        incident = Incident.objects.select_related("owner_cert").get(pk=options["incident_id"])
        notifications = Notification.objects.filter(incident=incident,
                                                    kind=Notification.Kind.ESCALATED)
        self.stdout.write(json.dumps({
            "reference": incident.reference,
            "owner": incident.owner_cert.slug,
            "escalated_events": TimelineEvent.objects.filter(
                incident=incident, kind=EventKind.ESCALATED).count(),
            "notifications": notifications.count(),
            "notifications_sent": notifications.filter(sent_at__isnull=False).count(),
            "queued_tasks": OrmQ.objects.count(),
        }))
