from django.core.management.base import BaseCommand, CommandError

from cert_portal.audit.record import command_channel
from incidents.grants import sync_grants
from incidents.models import Incident
from incidents.registry import incident_id_batches


class Command(BaseCommand):
    help = ("Re-derive every incident's object permissions from its owner, ownership history, "
            "shares and TLP. Run it after moving CERTs in the registry, or to repair grants.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000,
                            help="Incidents per transaction (default 1000).")

    @command_channel
    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        checked = granted = revoked = 0
        for ids in incident_id_batches(Incident.objects.all(), batch_size):
            added, removed = sync_grants(ids)
            checked += len(ids)
            granted += added
            revoked += removed
            if options["verbosity"] > 1:
                self.stdout.write(f"  {checked} incidents, up to id {ids[-1]}")
        self.stdout.write(f"Checked {checked} incidents: {granted} grants added, "
                          f"{revoked} revoked.")
