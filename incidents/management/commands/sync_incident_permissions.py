from django.core.management.base import BaseCommand, CommandError

from incidents.grants import sync_grants
from incidents.models import Incident


class Command(BaseCommand):
    help = ("Re-derive every incident's object permissions from its owner, ownership history, "
            "shares and TLP. Run it after moving CERTs in the registry, or to repair grants.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000,
                            help="Incidents per transaction (default 1000).")

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        ids = list(Incident.objects.order_by("pk").values_list("pk", flat=True))
        granted = revoked = 0
        for start in range(0, len(ids), batch_size):
            added, removed = sync_grants(ids[start:start + batch_size])
            granted += added
            revoked += removed
            if options["verbosity"] > 1:
                self.stdout.write(f"  {min(start + batch_size, len(ids))}/{len(ids)} incidents")
        self.stdout.write(f"Checked {len(ids)} incidents: {granted} grants added, "
                          f"{revoked} revoked.")
