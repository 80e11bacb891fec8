import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cert_portal.accounts.devices import demo_authenticator, otpauth_uri, secret_base32
from cert_portal.audit.record import command_channel
from organizations.models import Cert, Membership, Sector
from organizations.national_structure import CERTS, DEMO_MEMBERS, SECTORS, demo_contact
from organizations.services import cert_create, membership_add

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = ("Create the national CERT structure (National, Government, Federal, provincial, local, "
            "CII, sectoral and a few organizational CERTs) and its sectors. Safe to run again: "
            "what exists is left as it is.")

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true",
                            help="Also create demo users in several CERTs and roles, and an "
                                 f"'{ADMIN_USERNAME}' superuser; their passwords are printed once, "
                                 "their authenticator secrets every time.")
        parser.add_argument("--reset-demo-passwords", action="store_true",
                            help="With --demo: give the existing demo users new passwords and "
                                 "print them.")

    @command_channel
    def handle(self, *args, demo: bool, reset_demo_passwords: bool, **options):
        if reset_demo_passwords and not demo:
            raise CommandError("--reset-demo-passwords only goes with --demo.")
        try:
            with transaction.atomic():
                created_certs = self._load_structure()
                logins = self._load_demo_users(reset_demo_passwords) if demo else []
                authenticators = self._load_demo_authenticators([row[0] for row in logins])
        except ValidationError as error:
            raise CommandError(f"The registry refused the national structure, nothing was "
                               f"changed: {'; '.join(error.messages)}") from None
        total = Cert.objects.count()
        self.stdout.write(f"National structure: {created_certs} CERTs created, "
                          f"{total - created_certs} already there ({total} in the registry).")
        if demo:
            self._print_logins(logins)
            self._print_authenticators(authenticators)

    def _load_structure(self) -> int:
        sectors = {}
        for slug, name, regulator, short in SECTORS:
            sectors[slug], _ = Sector.objects.get_or_create(
                slug=slug, defaults={"name": name, "regulator": regulator,
                                     "regulator_short_name": short})
        existing = {cert.slug: cert for cert in Cert.objects.all()}
        created = 0
        for entry in CERTS:
            if entry["slug"] in existing:
                continue
            fields = dict(entry)
            if "parent" in fields:
                fields["parent"] = existing[fields["parent"]]
            if "sector" in fields:
                fields["sector"] = sectors[fields["sector"]]
            if fields["kind"] != "organizational":
                fields.update(demo_contact(fields["slug"]))
            existing[entry["slug"]] = cert_create(actor=None, **fields)
            created += 1
        return created

    def _load_demo_users(self, reset_passwords: bool) -> list[tuple[str, str, str]]:
        """Create missing demo users; return (username, where, password or note) rows."""
        User = get_user_model()
        rows = []
        admin, made = User.objects.get_or_create(
            username=ADMIN_USERNAME,
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@cert.example"})
        rows.append((ADMIN_USERNAME, "registry administrator (no CERT)",
                     self._password_for(admin, made or reset_passwords)))
        certs = {cert.slug: cert for cert in Cert.objects.filter(
            slug__in={slug for _, slug, _ in DEMO_MEMBERS})}
        for username, slug, role in DEMO_MEMBERS:
            user, made = User.objects.get_or_create(
                username=username,
                # Members work in the dashboard; the Django admin is for the registry
                # administrator only (issue 9), so they get no staff status.
                defaults={"email": f"{username}@{slug}.cert.example",
                          "first_name": username.split(".")[0].title(),
                          "last_name": role.title()})
            if not Membership.objects.filter(user=user, cert=certs[slug]).exists():
                membership_add(cert=certs[slug], user=user, role=role, actor=None)
            rows.append((username, f"{role} at {certs[slug].short_name}",
                         self._password_for(user, made or reset_passwords)))
        return rows

    def _password_for(self, user, set_new: bool) -> str:
        if not set_new:
            return "(unchanged)"
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        return password

    def _print_logins(self, rows) -> None:
        width = max(len(username) for username, _, _ in rows)
        self.stdout.write(f"\nDemo logins for {settings.PORTAL_BASE_URL.rstrip('/')}/login/ "
                          "(new passwords are shown only now):")
        for username, where, password in rows:
            self.stdout.write(f"  {username:<{width}}  {password:<18}  {where}")
        if any(password == "(unchanged)" for _, _, password in rows):  # nosec B105 # the placeholder printed for unchanged passwords
            self.stdout.write("Forgot them? manage.py load_national_structure --demo "
                              "--reset-demo-passwords")

    def _load_demo_authenticators(self, usernames: list[str]) -> list[tuple[str, object]]:
        """Each demo user's confirmed TOTP device: kept from one run to the next, so that `make run`
        prints the same secret again and an app set up once keeps working."""
        users = get_user_model().objects.in_bulk(usernames, field_name="username")
        return [(username, demo_authenticator(user=users[username])) for username in usernames]

    def _print_authenticators(self, rows) -> None:
        """The demo users' TOTP secrets, so that a newcomer can add one to any authenticator app
        and pass the second factor of sign-in."""
        if not rows:
            return
        width = max(len(username) for username, _ in rows)
        self.stdout.write("\nDemo authenticators (DEMO DATA ONLY: these secrets are printed in "
                          "clear; never use them on a real installation).\nAdd one to an "
                          "authenticator app: its setup key (time-based, 6 digits), or its "
                          "otpauth:// link as a QR code.")
        for username, device in rows:
            self.stdout.write(f"  {username:<{width}}  {secret_base32(device)}")
            self.stdout.write(f"  {'':<{width}}  {otpauth_uri(device)}")
