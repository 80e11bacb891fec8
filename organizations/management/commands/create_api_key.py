"""manage.py create_api_key --cert SLUG --scope read|read-write [--expires DAYS] [--name NAME]

Issues a partner API key to a CERT (issue 11), for operators and scripts, through
organizations.api_keys.api_key_issue (the same check and write as the dashboard). The secret is
printed once: only its hash is stored. `--demo-once` (make run) issues the demo key only when the
CERT has no usable one yet.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import slug_re
from django.db.models import Q
from django.utils import timezone

from cert_portal.audit.record import command_channel
from organizations.api_keys import api_key_issue
from organizations.models import ApiKey, Cert

DEMO_NAME = "Demo key (make run)"


class Command(BaseCommand):
    help = "Issue an API key to a CERT and print its secret (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--cert", required=True, help="The CERT's slug, e.g. banking.")
        parser.add_argument("--scope", required=True, help="read or read-write.")
        parser.add_argument("--expires", type=int, default=90, metavar="DAYS",
                            help="Days until the key expires (1 to 3650; default 90).")
        parser.add_argument("--name", default="Issued at the command line",
                            help="What uses the key, e.g. \"SOAR at the SOC\".")
        parser.add_argument("--demo-once", action="store_true",
                            help="Issue the demo key only if the CERT has no usable demo key yet.")

    @command_channel
    def handle(self, *args, cert: str, scope: str, expires: int, name: str, demo_once: bool,
               **options):
        # A slug is letters, digits, "-" and "_": anything else (a NUL, which PostgreSQL cannot
        # even compare) names no CERT.
        target = Cert.objects.filter(slug=cert).first() if slug_re.match(cert) else None
        if target is None:
            known = ", ".join(Cert.objects.filter(is_active=True).order_by("slug")
                              .values_list("slug", flat=True)[:30])
            known = known or "(none yet: run load_national_structure)"
            raise CommandError(f"No CERT has the slug {cert!r}. Use one of: {known}.")
        if demo_once:
            name = DEMO_NAME
            now = timezone.now()
            existing = (ApiKey.objects.filter(cert=target, name=DEMO_NAME, revoked_at__isnull=True)
                        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).first())
            if existing is not None:
                self.stdout.write(
                    f"{target.short_name} already has a demo API key (id {existing.pk}, prefix "
                    f"cpk_{existing.prefix}_..., {existing.scope}, expires "
                    f"{self._expiry(existing)}). Its secret was printed when it was made and "
                    f"cannot be shown again. For a new one: manage.py create_api_key --cert "
                    f"{target.slug} --scope {scope}, or revoke the old one in the dashboard "
                    f"(API keys) and run make run again.")
                return
        try:
            key, secret = api_key_issue(actor=None, cert=target, name=name, scope=scope,
                                        expires_days=expires)
        except ValidationError as error:
            messages = [f"--{'expires' if field == 'expires_days' else field}: {message}"
                        for field, items in error.message_dict.items() for message in items]
            raise CommandError(" ".join(messages)) from None
        self.stdout.write(f"API key for {target.name} ({target.slug})\n"
                          f"  id:      {key.pk}\n  name:    {key.name}\n  scope:   {key.scope}\n"
                          f"  expires: {self._expiry(key)}\n  secret:  {secret}\n"
                          "Shown once: store it now. Send it as \"Authorization: Bearer <secret>\" "
                          "(see /api/docs/).")

    @staticmethod
    def _expiry(key: ApiKey) -> str:
        return key.expires_at.isoformat(timespec="seconds") if key.expires_at else "never"
