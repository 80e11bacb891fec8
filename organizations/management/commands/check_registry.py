from django.core.management.base import BaseCommand, CommandError

from organizations import health
from organizations.services import sync_cert_groups


class Command(BaseCommand):
    help = ("Report every broken composition rule and staffing gap of the CERT registry, each "
            "with the CERT it concerns. Exits with status 1 when a rule is broken; staffing gaps "
            "are warnings.")

    def add_arguments(self, parser):
        parser.add_argument("--repair-paths", action="store_true",
                            help="First rewrite the stored tree paths from the parent links.")
        parser.add_argument("--repair-groups", action="store_true",
                            help="First put every member in their CERT's group, and no one else.")

    def handle(self, *args, repair_paths: bool, repair_groups: bool, **options):
        if repair_paths:
            self.stdout.write(f"Repaired the tree path of {health.repair_paths()} CERTs.")
        if repair_groups:
            self.stdout.write(f"Made {sync_cert_groups()} group membership changes.")
        findings = health.registry_findings()
        for finding in findings:
            self.stdout.write(str(finding))
        errors = sum(1 for finding in findings if finding.level == "error")
        summary = f"{errors} broken rules, {len(findings) - errors} staffing gaps."
        if errors:
            raise CommandError(summary, returncode=1)
        self.stdout.write(self.style.SUCCESS(summary))
