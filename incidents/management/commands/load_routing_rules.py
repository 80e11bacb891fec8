from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from incidents.models import RoutingRule
from organizations.models import Cert
from organizations.rules import CertKind


class Command(BaseCommand):
    help = ("Create the default routing rules for public reports, if there are none yet: a "
            "report about a sector goes to that sector's CERT; about a public body, to the "
            "provincial CERT of its region, or the federal CERT when no region is given. Anything "
            "else goes to the national CERT's triage queue. Edit them in the admin afterwards.")

    def handle(self, *args, **options):
        if RoutingRule.objects.exists():
            self.stdout.write(f"Routing rules: {RoutingRule.objects.count()} already there, "
                              "none added.")
            return
        certs = list(Cert.objects.filter(is_active=True).select_related("sector"))
        if not certs:
            raise CommandError("The registry is empty: run `manage.py load_national_structure` "
                               "first.")
        rules = []
        for cert in certs:
            if cert.kind == CertKind.SECTORAL:
                rules.append(RoutingRule(name=f"{cert.sector.name} sector", priority=10,
                                         sector=cert.sector, target_cert=cert))
            elif cert.kind == CertKind.PROVINCIAL:
                rules.append(RoutingRule(name=f"Public body in {cert.get_region_display()}",
                                         priority=20, region=cert.region, public_body=True,
                                         target_cert=cert))
            elif cert.kind == CertKind.FEDERAL:
                rules.append(RoutingRule(name="Public body, region not given", priority=30,
                                         public_body=True, target_cert=cert))
        with transaction.atomic():
            RoutingRule.objects.bulk_create(rules)
        self.stdout.write(f"Routing rules: {len(rules)} created.")
