from __future__ import annotations

import functools
import re
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from incidents.text import hidden_character_message
from organizations.rules import CertKind, Region, database_constraints

PATH_SEPARATOR = "/"


@functools.cache
def _time_zone_names() -> frozenset[str]:
    """The IANA names this machine knows. Listing them walks the whole time-zone database on disk
    (about 30 ms, paid by every CERT validation); it changes only when tzdata is upgraded, and an
    upgrade restarts the process."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _time_zone_names():
        raise ValidationError(f"{value!r} is not an IANA time zone name, such as Asia/Karachi.")


def validate_pgp_fingerprint(value: str) -> None:
    if value and not re.fullmatch(r"[0-9A-F]{40}", value.replace(" ", "").upper()):
        raise ValidationError("A PGP fingerprint is 40 hexadecimal characters (spaces allowed).")


class Sector(models.Model):
    """A sector of critical infrastructure and its regulator; administrators extend the list."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120, unique=True)
    regulator = models.CharField(max_length=200, help_text="The regulator that runs the "
                                 "sector's CERT, e.g. Pakistan Telecommunication Authority.")
    regulator_short_name = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Cert(models.Model):
    """A CERT in the national tree. Created, changed and moved only through
    organizations.services, which enforces organizations.rules."""

    kind = models.CharField(max_length=20, choices=CertKind.choices)
    name = models.CharField(max_length=200, unique=True)
    short_name = models.CharField(max_length=40, help_text="As used in headers, e.g. PK-CERT.")
    slug = models.SlugField(max_length=60, unique=True, help_text="Used in addresses: /certs/<slug>/.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    region = models.CharField(max_length=5, choices=Region.choices, blank=True)
    sector = models.ForeignKey(Sector, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="certs")
    is_active = models.BooleanField(default=True)

    # Materialised path of primary keys from the root, e.g. "/1/4/9/": ancestors and descendants
    # are each one query whatever the depth. Maintained only by organizations.services.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(editable=False, default=0)

    # The Django group whose members are this CERT's staff; object permissions are granted to it.
    group = models.OneToOneField(Group, on_delete=models.PROTECT, editable=False,
                                 related_name="cert")

    # Public profile in the spirit of RFC 2350.
    constituency = models.TextField(blank=True, help_text="Whom this CERT serves.")
    description = models.TextField(blank=True)
    hotline = models.CharField(max_length=40, blank=True, help_text="24/7 telephone number.",
                               validators=[RegexValidator(r"^\+?[0-9 ()-]{5,}$",
                                                          "Use digits, spaces, + ( ) and -.")])
    email = models.EmailField(blank=True, help_text="24/7 incident reporting address.")
    website = models.URLField(blank=True)
    pgp_fingerprint = models.CharField(max_length=50, blank=True,
                                       validators=[validate_pgp_fingerprint])
    time_zone = models.CharField(max_length=64, default="Asia/Karachi",
                                 validators=[validate_time_zone])
    languages = models.CharField(max_length=120, default="English, Urdu",
                                 help_text="Languages the team works in, separated by commas.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CERT"
        ordering = ["path"]
        constraints = database_constraints()

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("organizations:cert_detail", kwargs={"slug": self.slug})

    def clean(self) -> None:
        """Refuse invisible characters (bidi controls, zero-width space...) in the names: the
        registry, the admin and every page that names a CERT go through here (issue 13, item 6)."""
        errors = {}
        for field in ("name", "short_name"):
            message = hidden_character_message(
                getattr(self, field), field=str(self._meta.get_field(field).verbose_name))
            if message:
                errors[field] = [message]
        if errors:
            raise ValidationError(errors)

    def validate_constraints(self, exclude=None) -> None:
        """Skip Django's generic check of the constraints: each one derives from a composition
        rule, and organizations.services.cert_check reports the same rules with messages that
        name the CERTs involved. The database still enforces every constraint."""

    @property
    def path_ids(self) -> list[int]:
        """Primary keys from the root down to this CERT."""
        return [int(part) for part in self.path.split(PATH_SEPARATOR) if part]

    @property
    def has_24x7_contact(self) -> bool:
        return bool(self.hotline and self.email)

    @property
    def language_list(self) -> list[str]:
        return [item.strip() for item in self.languages.split(",") if item.strip()]

    def is_ancestor_of(self, other: Cert) -> bool:
        return other.pk != self.pk and other.path.startswith(self.path)

    def ancestors(self) -> models.QuerySet[Cert]:
        """The CERTs above this one, root first (one query)."""
        return Cert.objects.filter(pk__in=self.path_ids[:-1]).order_by("depth")

    def path_to_root(self) -> list[Cert]:
        """This CERT and its ancestors, this CERT first (one query)."""
        return list(Cert.objects.filter(pk__in=self.path_ids).order_by("-depth"))

    def descendants(self) -> models.QuerySet[Cert]:
        """Every CERT below this one, at any depth (one query)."""
        return Cert.objects.filter(path__startswith=self.path).exclude(pk=self.pk)


class Role(models.TextChoices):
    HEAD = "head", _("Head")
    HANDLER = "handler", _("Incident handler")
    ANALYST = "analyst", _("Analyst")
    LIAISON = "liaison", _("Liaison")


class Membership(models.Model):
    """A person's place in a CERT. Kept in step with the CERT's group by
    organizations.services.membership_*."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    cert = models.ForeignKey(Cert, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "cert"], name="membership_one_per_cert",
                                    violation_error_message="This person is already a member "
                                                            "of this CERT."),
            models.CheckConstraint(condition=models.Q(role__in=Role.values),
                                   name="membership_role_known"),
        ]
        ordering = ["cert__path", "role", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()}, {self.cert.short_name}"


class ApiKey(models.Model):
    """A partner system's key: it acts as its CERT through the same access modules as a member
    (DOMAIN.md §6, issue 11).

    The secret is shown once when issued; only its SHA-256 is stored. `prefix` (the first
    characters of the secret, not secret on their own) finds the row, the hash proves the rest.
    Each key acts through a `service_user` of its own: a user with no password and no membership,
    who during a request with the key holds the role of its scope in the key's CERT (handler for
    read-write, liaison for read; organizations.api_keys.acting_user), so that the access
    modules, the services and the timeline treat a partner's request as a member's, and every
    change names the key. Revoking or expiring the key stops it at once.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        READ_WRITE = "read-write", _("Read and write")

    cert = models.ForeignKey(Cert, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. \"SOAR at the SOC\".")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    service_user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                        related_name="api_key", editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True,
                                      help_text="Empty: does not expire (not recommended).")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["cert__path", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.cert.short_name}, {self.scope})"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
