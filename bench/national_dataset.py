"""The national bench data set (issue 8): the registry, its staff and five years of incidents.

`generate(scale=1.0, seed=8)` fills the current database (PostgreSQL; SQLite for small scales)
with, at scale 1.0: the national structure with its demo users, 200 organizational CERTs made by
organizations.services.cert_create, 3,000 staff in CERTs of every kind, and 1,000,000 incidents
reported over five years up to `until` with their ownership history, timelines, comments, shares,
3,000,000 observables and the grants `incidents.grants.derive_grants` gives them.

The registry and the staff go through the ORM (and the registry services): a few thousand rows.
The incidents and everything hanging from them are made as plain tuples, a chunk of incidents at a
time, and bulk loaded: COPY on PostgreSQL, executemany on SQLite. Primary keys are chosen here, so
that rows can point at each other without a round trip; the sequences are set past them at the
end. Everything is drawn from random generators seeded by `seed` (one per chunk of incidents) and
times are offsets from `until`, so the same seed, scale and `until` give the same rows.

The rows are what the services would have written had people and the SLA pass done it over the
years (incidents.services, incidents.sla): references from the same counters, deadlines from the
same SLA table, a hand-over starting a fresh acknowledgement clock in status new, an automatic
escalation only for a missed acknowledgement, a missed resolution flagged a minute after its
deadline. Notifications (the outbox) are not generated: they would all have been sent.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import ipaddress
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from incidents import taxonomy
from incidents.grants import ALL_GRANTS, derive_grants
from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    Incident,
    IncidentGroupObjectPermission,
    IncidentShare,
    Observable,
    OwnershipPeriod,
    ReferenceCounter,
    Source,
    Status,
    TimelineEvent,
)
from incidents.observables import ObservableType
from incidents.services.lifecycle import reference_prefix
from incidents.severity import Severity, sla_table
from incidents.sla import ACK_MISSED_REASON
from incidents.tlp import Tlp, shareable
from organizations.models import Cert, Membership, Role
from organizations.national_structure import CERTS, DEMO_MEMBERS, demo_contact
from organizations.rules import Region
from organizations.services import cert_create, membership_add

PASSWORD = "bench-password"
HEAVY_TITLE = "Bench: busy incident"
ORG_SLUG = "bench-org-{:03d}"

# At scale 1.0 (issue 8, item 6).
FULL_INCIDENTS = 1_000_000
FULL_STAFF = 3_000
FULL_ORG_CERTS = 200
FULL_CAMPAIGNS = 60
MIN_INCIDENTS = 100
# Below this many organizational CERTs the parents of every kind would not all get one.
MIN_ORG_CERTS = 8

# Incidents per chunk: each chunk has its own random generator, so the chunk size is part of what
# makes a seed repeatable; it is not an option.
CHUNK = 10_000
YEARS = 5
DAY = 86_400.0
SPAN = YEARS * 365.25 * DAY

# Who first owns an incident: weights per kind of CERT (shared among the CERTs of that kind).
OWNER_KIND_WEIGHTS = {"organizational": 40, "sectoral": 18, "provincial": 15, "local": 12,
                      "federal": 5, "national": 5, "cii": 3, "government": 2}
# Staff beyond a head and a handler per CERT: weights per kind, per CERT.
STAFF_KIND_WEIGHTS = {"national": 40, "sectoral": 20, "federal": 15, "provincial": 15,
                      "government": 10, "cii": 10, "local": 8, "organizational": 8}
EXTRA_ROLE_WEIGHTS = [(Role.HANDLER, 45), (Role.ANALYST, 35), (Role.LIAISON, 10), (Role.HEAD, 10)]
TLP_WEIGHTS = [(Tlp.CLEAR, 15), (Tlp.GREEN, 30), (Tlp.AMBER, 43), (Tlp.AMBER_STRICT, 8),
               (Tlp.RED, 4)]
SEVERITY_WEIGHTS = [(Severity.BASELINE, 10), (Severity.LOW, 25), (Severity.MEDIUM, 35),
                    (Severity.HIGH, 20), (Severity.SEVERE, 8), (Severity.EMERGENCY, 2)]
SOURCE_WEIGHTS = [(Source.STAFF, 55), (Source.PUBLIC_FORM, 30), (Source.API, 12),
                  (Source.TAXII, 3)]
TYPE_WEIGHTS = {"phishing": 30, "infected-system": 15, "scanner": 12, "ddos": 8, "spam": 8,
                "brute-force": 8, "exploit": 6, "malware-distribution": 6,
                "vulnerable-system": 6, "unauthorised-information-access": 5, "data-leak": 5,
                "c2-server": 4, "system-compromise": 4, "masquerade": 3, "test": 0}
OBSERVABLE_TYPE_WEIGHTS = [(ObservableType.IPV4, 28), (ObservableType.DOMAIN, 20),
                           (ObservableType.URL, 16), (ObservableType.SHA256, 11),
                           (ObservableType.EMAIL, 9), (ObservableType.MD5, 5),
                           (ObservableType.IPV6, 4), (ObservableType.CVE, 4),
                           (ObservableType.SHA1, 3)]
# Observables per incident (index = count): about 3 on average.
OBSERVABLE_COUNT_WEIGHTS = [9, 15, 20, 20, 15, 10, 5, 3, 1.5, 1, 0.5]
COMMENT_COUNT_WEIGHTS = [65, 20, 9, 3, 2, 1]
ESCALATED_ONCE, ESCALATED_TWICE, REFERRED = 0.10, 0.05, 0.03
AUTOMATIC_ESCALATION = 0.4
SHARED = 0.05
CAMPAIGN_SHARE = 0.08
LATE_ACK_AT_ROOT = 0.10
LATE_RESOLUTION = 0.15

HEAVY_OWNERS = ("national", "punjab", "banking", ORG_SLUG.format(1))
HEAVY_COMMENTS, HEAVY_EXTRA_EVENTS, HEAVY_OBSERVABLES = 200, 200, 20
HEAVY_ATTACHMENTS, HEAVY_SHARES = 5, 5

FAMOUS_CVES = ["CVE-2021-44228", "CVE-2023-34362", "CVE-2023-4966", "CVE-2024-3400",
               "CVE-2023-20198", "CVE-2021-26855", "CVE-2019-19781", "CVE-2022-1388",
               "CVE-2023-22515", "CVE-2024-21762", "CVE-2018-13379", "CVE-2020-1472",
               "CVE-2017-0144", "CVE-2022-30190", "CVE-2023-23397", "CVE-2024-1709"]
WORDS = ["secure", "login", "verify", "account", "update", "bank", "pay", "mobile", "portal",
         "online", "service", "support", "cloud", "mail", "drive", "track", "parcel", "refund",
         "tax", "fbr", "prize", "wallet", "cash", "alert", "id", "auth", "web", "net", "data",
         "sync", "cdn", "static", "api", "files", "docs", "share", "office", "invoice", "bill",
         "gov", "punjab", "sindh", "karachi", "lahore", "quetta", "peshawar", "indus", "ravi"]
TLDS = ["com", "net", "org", "info", "xyz", "top", "online", "site", "pk", "com.pk", "ru",
        "cn", "io", "biz", "club", "shop", "live", "cc"]
URL_PATHS = ["login", "verify", "account/update", "wp-admin/includes", "gate.php", "panel/admin",
             "secure/session", "invoice", "download", "files/doc", "track", "api/v1/collect",
             "refund/claim", "update/patch", "index.php"]
ORG_PREFIXES = ["National", "Punjab", "Sindh", "Khyber", "Balochistan", "Islamabad", "Karachi",
                "Lahore", "Quetta", "Peshawar", "Multan", "Faisalabad", "Hyderabad", "Indus",
                "Capital", "Frontier", "Northern", "Pak", "Crescent", "Green"]
ORG_NOUNS = ["Bank", "Microfinance Bank", "Telecom", "Power Company", "Gas Company",
             "Electric Supply Company", "Revenue Authority", "University", "Hospital",
             "Development Authority", "Stock Brokers", "Insurance", "Refinery", "Airport",
             "Water and Sanitation Agency", "Health Department", "Police", "Board of Revenue",
             "Textile Mills", "Logistics"]
FIRST_NAMES = ["Ayesha", "Ali", "Fatima", "Hassan", "Zainab", "Usman", "Maryam", "Bilal",
               "Sana", "Imran", "Hina", "Kamran", "Nida", "Faisal", "Saima", "Tariq", "Amna",
               "Farhan", "Rabia", "Shahid"]
LAST_NAMES = ["Khan", "Ahmed", "Malik", "Hussain", "Qureshi", "Butt", "Chaudhry", "Sheikh",
              "Siddiqui", "Baloch", "Shah", "Mirza", "Abbasi", "Raza", "Javed"]
TITLES = ["{label} reported by {org}", "{label} affecting {org}", "Suspected {lower} at {org}",
          "{label} targeting {org} customers", "{label} on systems of {org}",
          "{label}: {org} asks for support"]
DESCRIPTIONS = [
    "{org} reported {lower}. The first signs were seen on {day}; the team is collecting logs.",
    "Staff of {org} noticed {lower} and informed the CERT. Scope is not yet known.",
    "Automated monitoring flagged {lower} involving {org}. Analysts confirmed the alert.",
    "A member of the public reported {lower} that appears to concern {org}.",
]
COMMENTS = ["Logs requested from the affected organization.",
            "Called the organization's focal person; they confirm the timeline.",
            "Blocked the indicators at the perimeter; monitoring for recurrence.",
            "Hosting provider contacted for a takedown.",
            "Affected hosts isolated; reimaging planned for tonight.",
            "No further activity seen in the last 24 hours.",
            "Shared the indicators with the sector CERT.",
            "Waiting for the reporter to send the original e-mail with headers.",
            "Patch applied on the exposed servers; verifying.",
            "Passwords of the affected accounts reset.",
            "Thank you for the report. We are looking into it."]
ESCALATION_REASONS = ["Needs national coordination.", "Affects several organizations.",
                      "Beyond our capacity: requesting support.",
                      "Critical infrastructure involved."]
REFERRAL_REASONS = ["Belongs to this CERT's constituency.", "Regional matter: handed down.",
                    "The organization's own team handles it."]
REJECTION_REASONS = ["Not a security incident.", "Duplicate of an earlier report.",
                     "Outside our constituency; the reporter was told whom to contact."]


class DatasetError(Exception):
    """Why the data set cannot be generated here; nothing was written."""


@dataclass(frozen=True)
class Plan:
    """How much of everything a scale gives."""

    scale: float
    incidents: int
    staff: int
    org_certs: int
    campaigns: int

    @classmethod
    def for_scale(cls, scale: float) -> Plan:
        if not (isinstance(scale, int | float) and 0 < scale <= 1):
            raise DatasetError(f"--scale must be above 0 and at most 1 (1.0 = {FULL_INCIDENTS:,} "
                               f"incidents); got {scale!r}.")
        incidents = round(FULL_INCIDENTS * scale)
        if incidents < MIN_INCIDENTS:
            raise DatasetError(f"--scale {scale} gives {incidents} incidents; the smallest data "
                               f"set has {MIN_INCIDENTS} (--scale {MIN_INCIDENTS / FULL_INCIDENTS}).")
        return cls(scale=scale, incidents=incidents, staff=round(FULL_STAFF * scale),
                   org_certs=max(MIN_ORG_CERTS, round(FULL_ORG_CERTS * scale)),
                   campaigns=max(3, round(FULL_CAMPAIGNS * scale)))


@dataclass
class CertInfo:
    """What the generator needs of one CERT, in plain values."""

    pk: int
    slug: str
    kind: str
    short_name: str
    name: str
    group_id: int
    path_ids: list[int]
    region: str = ""
    sector_id: int | None = None
    under_cii: bool = False
    under_government: bool = False
    workers: list[int] = field(default_factory=list)  # heads and handlers
    openers: list[int] = field(default_factory=list)  # heads, handlers and analysts
    members: list[int] = field(default_factory=list)


@dataclass
class TableLoad:
    rows: int = 0
    seconds: float = 0.0


@dataclass
class Summary:
    plan: Plan
    seed: int
    until: datetime
    tables: dict[str, TableLoad]
    seconds: float
    password: str = PASSWORD


# --- writing rows -------------------------------------------------------------------------------

class _Writer:
    """Appends rows to tables in bulk and counts rows and seconds per table."""

    def __init__(self):
        self.loads: dict[str, TableLoad] = {}

    def write(self, model: type[models.Model], columns: Sequence[str], rows: list[tuple]) -> None:
        if not rows:
            return
        table = model._meta.db_table
        started = time.perf_counter()
        self._write(table, columns, rows)
        load = self.loads.setdefault(table, TableLoad())
        load.rows += len(rows)
        load.seconds += time.perf_counter() - started

    def _write(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        raise NotImplementedError


class _CopyWriter(_Writer):
    """PostgreSQL: COPY ... FROM STDIN on Django's own connection, inside its transaction."""

    def _write(self, table, columns, rows):
        quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
        with connection.connection.cursor() as cursor:
            with cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)


class _InsertWriter(_Writer):
    """SQLite: executemany, with values in the forms Django stores (UTC text times, hex UUIDs)."""

    def _write(self, table, columns, rows):
        adapt = connection.ops.adapt_datetimefield_value

        def value(item):
            if isinstance(item, datetime):
                return adapt(item)
            if isinstance(item, uuid.UUID):
                return item.hex
            return item

        quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})",
                [tuple(value(item) for item in row) for row in rows])


def _columns(model: type[models.Model], *names: str) -> list[str]:
    return [model._meta.get_field(name).column for name in names]


INCIDENT_FIELDS = ("id", "public_id", "reference", "title", "description", "classification",
                   "incident_type", "severity", "tlp", "status", "owner_cert", "assignee",
                   "source", "reporter_name", "reporter_email", "reporter_phone",
                   "reporter_consents_to_contact", "reporter_language", "reporter_token_hash",
                   "reporter_token_salt", "submission_key", "impact", "is_public_body",
                   "affected_organization", "sector", "region", "is_cii", "occurred_at",
                   "detected_at", "reported_at", "owner_since", "ack_due_at", "resolve_due_at",
                   "acknowledged_at", "resolved_at", "ack_alerted_for", "resolution_missed_at",
                   "version", "created_by", "created_at", "updated_at")
PERIOD_FIELDS = ("id", "incident", "cert", "started_at", "ended_at")
EVENT_FIELDS = ("id", "incident", "kind", "at", "actor", "old_value", "new_value", "reason")
COMMENT_FIELDS = ("id", "incident", "author", "body", "reporter_visible", "created_at")
OBSERVABLE_FIELDS = ("id", "incident", "type", "value", "created_at", "added_by")
SHARE_FIELDS = ("id", "incident", "cert", "shared_by", "created_at")
GRANT_FIELDS = ("id", "content_object", "group", "permission", "incident_reported_at")
ATTACHMENT_FIELDS = ("id", "incident", "file", "original_name", "size", "sha256", "content_type",
                     "uploaded_by", "created_at")

# Bulk-loaded tables, in the order their rows are written.
LOADED = [(Incident, INCIDENT_FIELDS), (OwnershipPeriod, PERIOD_FIELDS),
          (TimelineEvent, EVENT_FIELDS), (Comment, COMMENT_FIELDS),
          (Observable, OBSERVABLE_FIELDS), (IncidentShare, SHARE_FIELDS),
          (Attachment, ATTACHMENT_FIELDS), (IncidentGroupObjectPermission, GRANT_FIELDS)]


# --- small helpers ------------------------------------------------------------------------------

class _Weighted:
    """Draws from weighted choices with one random number and a bisection."""

    def __init__(self, pairs: Sequence[tuple[object, float]]):
        pairs = [(getattr(item, "value", item), weight) for item, weight in pairs if weight > 0]
        self.items = [item for item, _ in pairs]
        self.cumulative = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def draw(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def _pick(rng: random.Random, items: Sequence):
    """rng.choice, at a fraction of its cost (it is called some fifty million times)."""
    return items[int(rng.random() * len(items))]


def _int(rng: random.Random, low: int, high: int) -> int:
    """rng.randint, at a fraction of its cost."""
    return low + int(rng.random() * (high - low + 1))


def _plain(choices) -> SimpleNamespace:
    """The members of `choices` as plain values: an enum member is slow to look up in a loop run
    a million times."""
    return SimpleNamespace(**{member.name: member.value for member in choices})


ST, EV, SRC = _plain(Status), _plain(EventKind), _plain(Source)
# The labels as the services store them in the timeline: in English (services.base.in_english).
STATUS_LABELS = {member.value: str(member.label) for member in Status}
SOURCE_LABELS = {member.value: str(member.label) for member in Source}
SHAREABLE = frozenset(label.value for label in Tlp if shareable(label))


def _dt(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


# --- the registry and its staff ---------------------------------------------------------------

def _ensure_registry(out: Callable[[str], None], password_hash: str) -> None:
    """The national structure (loaded if missing) and its demo users (created if missing).

    The demo users are those of `load_national_structure --demo`, made the same way (same names,
    memberships through membership_add) but with the bench password, so that every login of the
    data set is known and no slow password hash is computed per user.
    """
    slugs = {entry["slug"] for entry in CERTS}
    if Cert.objects.filter(slug__in=slugs).count() < len(slugs):
        call_command("load_national_structure", stdout=io.StringIO())
        out("National structure loaded.")
    User = get_user_model()
    certs = {cert.slug: cert for cert in Cert.objects.filter(
        slug__in={slug for _, slug, _ in DEMO_MEMBERS})}
    made = []
    if not User.objects.filter(username="admin").exists():
        User.objects.create(username="admin", email="admin@cert.example", is_staff=True,
                            is_superuser=True, password=password_hash)
        made.append("admin")
    for username, slug, role in DEMO_MEMBERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": f"{username}@{slug}.cert.example", "is_staff": True,
                      "first_name": username.split(".")[0].title(), "last_name": role.title(),
                      "password": password_hash})
        if created:
            made.append(username)
        if not Membership.objects.filter(user=user, cert=certs[slug]).exists():
            membership_add(cert=certs[slug], user=user, role=role, actor=None)
    if made:
        out(f"Demo users created with the bench password: {', '.join(made)}.")


def _ensure_org_certs(count: int, rng: random.Random) -> None:
    """Organizational CERTs bench-org-001... under sectoral, federal, provincial and local
    parents, through the registry service (so every composition rule is checked)."""
    existing = set(Cert.objects.filter(slug__startswith="bench-org-").values_list("slug", flat=True))
    parents = {kind: list(Cert.objects.filter(kind=kind).order_by("slug"))
               for kind in ("sectoral", "federal", "provincial", "local")}
    kinds = _Weighted([("sectoral", 40), ("federal", 10), ("provincial", 30), ("local", 20)])
    for number in range(1, count + 1):
        slug = ORG_SLUG.format(number)
        # The first four take one parent of each kind; the draw happens for every number, made or
        # not, so that the parents do not depend on what already exists.
        kind = ("sectoral", "federal", "provincial", "local")[number - 1] if number <= 4 else \
            kinds.draw(rng)
        parent = rng.choice(parents[kind])
        if slug in existing:
            continue
        cert_create(actor=None, kind="organizational", slug=slug,
                    name=f"Bench Organization {number:03d} SOC", short_name=f"BO{number:03d}-SOC",
                    parent=parent, region=parent.region, sector=parent.sector,
                    constituency=f"Bench organization {number:03d} and its subsidiaries.",
                    **demo_contact(slug))


def _staff_plan(certs: list[CertInfo], total: int, rng: random.Random) -> list[tuple[str, CertInfo, str]]:
    """(username, CERT, role): a head and a handler in every CERT, the rest by kind weight."""
    roles: dict[str, list[str]] = {cert.slug: [Role.HEAD, Role.HANDLER] for cert in certs}
    extra = max(0, total - 2 * len(certs))
    weights = [STAFF_KIND_WEIGHTS[cert.kind] for cert in certs]
    whole = sum(weights)
    shares = [extra * weight / whole for weight in weights]
    counts = [int(share) for share in shares]
    # Largest remainder: the counts add up to exactly `extra`.
    for index in sorted(range(len(certs)), key=lambda i: (counts[i] - shares[i], certs[i].slug))[
            :extra - sum(counts)]:
        counts[index] += 1
    role_draw = _Weighted(EXTRA_ROLE_WEIGHTS)
    for cert, count in zip(certs, counts, strict=True):
        roles[cert.slug].extend(role_draw.draw(rng) for _ in range(count))
    plan = []
    for cert in certs:
        numbers: dict[str, int] = {}
        for role in roles[cert.slug]:
            numbers[role] = numbers.get(role, 0) + 1
            plan.append((f"{cert.slug}.{role}.{numbers[role]}", cert, role))
    return plan


def _create_staff(plan, password_hash: str) -> None:
    """Users, memberships and group memberships in bulk: the rows membership_add writes."""
    User = get_user_model()
    usernames = [username for username, _, _ in plan]
    taken = User.objects.filter(username__in=usernames).count()
    if taken:
        raise DatasetError(f"{taken} bench staff users (e.g. {usernames[0]}) exist already: the "
                           "generator fills a fresh database. Start over with a new one (createdb, "
                           "manage.py migrate).")
    now = timezone.now()
    User.objects.bulk_create([
        User(username=username, email=f"{username}@{cert.slug}.cert.example", is_staff=True,
             first_name=username.split(".")[0][:150], last_name=role.title(),
             password=password_hash, date_joined=now)
        for username, cert, role in plan], batch_size=1000)
    ids = dict(User.objects.filter(username__in=usernames).values_list("username", "pk"))
    Membership.objects.bulk_create([Membership(user_id=ids[username], cert_id=cert.pk, role=role)
                                    for username, cert, role in plan], batch_size=1000)
    through = User.groups.through
    through.objects.bulk_create([through(user_id=ids[username], group_id=cert.group_id)
                                 for username, cert, _ in plan], batch_size=1000)


def _cert_infos() -> list[CertInfo]:
    """Every CERT with its staff by role, in slug order (not id order: ids may differ between
    databases, the slugs do not)."""
    certs = list(Cert.objects.order_by("slug"))
    by_pk = {cert.pk: cert for cert in certs}
    infos = []
    for cert in certs:
        path = [by_pk[pk] for pk in cert.path_ids]
        sector_id = next((c.sector_id for c in reversed(path) if c.sector_id), None)
        region = next((c.region for c in reversed(path) if c.region), "")
        infos.append(CertInfo(
            pk=cert.pk, slug=cert.slug, kind=cert.kind, short_name=cert.short_name,
            name=cert.name, group_id=cert.group_id, path_ids=cert.path_ids, region=region,
            sector_id=sector_id, under_cii=any(c.kind == "cii" for c in path),
            under_government=any(c.kind == "government" for c in path)))
    info_of = {info.pk: info for info in infos}
    for cert_id, user_id, role in (Membership.objects.filter(user__is_active=True)
                                   .order_by("user__username")
                                   .values_list("cert_id", "user_id", "role")):
        info = info_of[cert_id]
        info.members.append(user_id)
        if role in (Role.HEAD, Role.HANDLER):
            info.workers.append(user_id)
        if role in (Role.HEAD, Role.HANDLER, Role.ANALYST):
            info.openers.append(user_id)
    return infos


# --- observables --------------------------------------------------------------------------------

_PRIVATE_FIRST_OCTETS = frozenset({0, 10, 100, 127, 169, 172, 192, 198})


def _ipv4(rng: random.Random) -> str:
    first = _int(rng, 1, 223)
    while first in _PRIVATE_FIRST_OCTETS:
        first = _int(rng, 1, 223)
    return f"{first}.{_int(rng, 0, 255)}.{_int(rng, 0, 255)}.{_int(rng, 1, 254)}"


def _ipv6(rng: random.Random) -> str:
    value = ((0x2000 | rng.getrandbits(12)) << 112) | (rng.getrandbits(32) << 80) | rng.getrandbits(16)
    return str(ipaddress.IPv6Address(value))


def _domain(rng: random.Random) -> str:
    words = WORDS
    name = f"{_pick(rng, words)}-{_pick(rng, words)}"
    if rng.random() < 0.5:
        name += str(_int(rng, 1, 999))
    return f"{name}.{_pick(rng, TLDS)}"


def _url(rng: random.Random) -> str:
    host = _ipv4(rng) if rng.random() < 0.2 else _domain(rng)
    url = f"{'https' if rng.random() < 0.6 else 'http'}://{host}/{_pick(rng, URL_PATHS)}"
    if rng.random() < 0.3:
        url += f"?id={rng.getrandbits(32):x}"
    return url


def _email(rng: random.Random) -> str:
    local = f"{_pick(rng, FIRST_NAMES).lower()}.{_pick(rng, WORDS)}{_int(rng, 1, 99)}"
    return f"{local}@{_domain(rng)}"


def _cve(rng: random.Random, last_year: int) -> str:
    if rng.random() < 0.5:
        return _pick(rng, FAMOUS_CVES)
    return f"CVE-{_int(rng, last_year - 8, last_year)}-{_int(rng, 1000, 49999)}"


def _observable(rng: random.Random, kind: str, last_year: int) -> str:
    """A value of `kind` in the canonical form incidents.observables.normalise gives."""
    if kind == ObservableType.IPV4:
        return _ipv4(rng)
    if kind == ObservableType.DOMAIN:
        return _domain(rng)
    if kind == ObservableType.URL:
        return _url(rng)
    if kind == ObservableType.EMAIL:
        return _email(rng)
    if kind == ObservableType.SHA256:
        return f"{rng.getrandbits(256):064x}"
    if kind == ObservableType.MD5:
        return f"{rng.getrandbits(128):032x}"
    if kind == ObservableType.SHA1:
        return f"{rng.getrandbits(160):040x}"
    if kind == ObservableType.IPV6:
        return _ipv6(rng)
    return _cve(rng, last_year)


@dataclass
class Campaign:
    """Indicators that recur in many incidents while the campaign runs."""

    incident_type: str
    starts: float
    ends: float
    indicators: list[tuple[str, str]]


# --- the generator ------------------------------------------------------------------------------

class _Generator:
    def __init__(self, *, plan: Plan, seed: int, until: datetime, certs: list[CertInfo],
                 usernames: dict[int, str], permission_ids: dict[str, int], writer: _Writer):
        self.plan, self.seed, self.writer = plan, seed, writer
        self.until = until.timestamp()
        self.until_year = timezone.localtime(until).year
        self.certs = certs
        self.cert_of = {cert.pk: cert for cert in certs}
        self.usernames = usernames
        self.permission_ids = permission_ids
        self.targets = {int(level): (targets.acknowledge.total_seconds(),
                                     targets.resolve.total_seconds())
                        for level, targets in sla_table().items()}
        self.prefix = reference_prefix()
        self.ordinary = plan.incidents - len(HEAVY_OWNERS)
        self.sector_ids = sorted({cert.sector_id for cert in certs if cert.sector_id})
        self.regions = list(Region.values)
        zone = timezone.get_current_timezone()
        self.years = list(range(self.until_year - YEARS - 1, self.until_year + 2))
        self.year_starts = [datetime(year, 1, 1, tzinfo=zone).timestamp() for year in self.years]
        self.zone = zone
        self.counters = dict(ReferenceCounter.objects.filter(prefix=self.prefix)
                             .values_list("year", "last_number"))
        self.next_id = {model: (model.objects.aggregate(top=models.Max("pk"))["top"] or 0) + 1
                        for model, _ in LOADED}
        self.columns = {model: _columns(model, *names) for model, names in LOADED}
        self.buffers: dict[type[models.Model], list[tuple]] = {model: [] for model, _ in LOADED}
        self.grants_of: dict[tuple, list[tuple[int, int]]] = {}

        by_kind: dict[str, list[CertInfo]] = {}
        for cert in certs:
            by_kind.setdefault(cert.kind, []).append(cert)
        owner_weights = []
        for kind, members in by_kind.items():
            # Within a kind a few CERTs own much more than the rest (rank weights 1/sqrt(rank)).
            ranks = [1 / (rank + 1) ** 0.5 for rank in range(len(members))]
            for cert, rank in zip(members, ranks, strict=True):
                owner_weights.append((cert, OWNER_KIND_WEIGHTS.get(kind, 1) * rank / sum(ranks)))
        self.owners = _Weighted(owner_weights)
        self.deep_owners = _Weighted([(cert, weight) for cert, weight in owner_weights
                                      if len(cert.path_ids) >= 3])
        self.tlps = _Weighted(TLP_WEIGHTS)
        self.severities = _Weighted(SEVERITY_WEIGHTS)
        self.sources = _Weighted(SOURCE_WEIGHTS)
        types = [(t.value, TYPE_WEIGHTS.get(t.value, 2)) for c in taxonomy.load().classifications.values()
                 for t in c.types]
        self.types = _Weighted(types)
        self.type_labels = {t.value: t.label for c in taxonomy.load().classifications.values()
                            for t in c.types}
        self.classification_of = taxonomy.load().classification_of_type
        self.observable_types = _Weighted(OBSERVABLE_TYPE_WEIGHTS)
        self.observable_counts = _Weighted(list(enumerate(OBSERVABLE_COUNT_WEIGHTS)))
        self.comment_counts = _Weighted(list(enumerate(COMMENT_COUNT_WEIGHTS)))

        setup = random.Random(f"bench-setup-{seed}")
        self.organizations = sorted({f"{setup.choice(ORG_PREFIXES)} {setup.choice(ORG_NOUNS)}"
                                     for _ in range(400)})
        self.campaigns = []
        for _ in range(plan.campaigns):
            starts = setup.uniform(0.0, 0.85)
            length = setup.uniform(0.15, 0.5)
            incident_type = setup.choice(["phishing", "phishing", "malware-distribution",
                                          "c2-server", "ddos", "exploit", "spam"])
            indicators = [(ObservableType.IPV4, _ipv4(setup)), (ObservableType.DOMAIN, _domain(setup)),
                          (ObservableType.SHA256, f"{setup.getrandbits(256):064x}"),
                          (ObservableType.EMAIL, _email(setup))]
            indicators.append((ObservableType.URL, f"https://{indicators[1][1]}/"
                                                   f"{setup.choice(URL_PATHS)}"))
            self.campaigns.append(Campaign(incident_type, self.until - SPAN * (1 - starts),
                                           self.until - SPAN * max(0.0, 1 - starts - length),
                                           indicators))

    # Identifiers and references ---------------------------------------------------------------

    def _id(self, model) -> int:
        value = self.next_id[model]
        self.next_id[model] = value + 1
        return value

    def _reference(self, reported: float) -> str:
        year = self.years[bisect.bisect_right(self.year_starts, reported) - 1]
        number = self.counters.get(year, 0) + 1
        self.counters[year] = number
        return f"{self.prefix}-{year}-{number:06d}"

    def _reported_at(self, index: int, rng: random.Random) -> float:
        """The report time of incident `index` (0 = oldest): one draw inside the index's own slice
        of the distribution, so that times rise with the index. The rate rises linearly, four
        times as many reports now as five years ago."""
        share = (index + rng.random()) / self.ordinary
        # Inverse of F(x) = (x + 1.5 x^2) / 2.5, the distribution of density 1 + 3x on [0, 1].
        position = (-1 + (1 + 15 * share) ** 0.5) / 3
        return self.until - SPAN * (1 - position)

    # Whole run ---------------------------------------------------------------------------------

    def run(self, out: Callable[[str], None]) -> None:
        ordinary = self.ordinary
        started = time.perf_counter()
        for chunk_start in range(0, ordinary, CHUNK):
            rng = random.Random(self.seed * 1_000_003 + chunk_start // CHUNK)
            for index in range(chunk_start, min(chunk_start + CHUNK, ordinary)):
                self._incident(rng, index)
            self.flush()
            done = min(chunk_start + CHUNK, ordinary)
            if done % (10 * CHUNK) == 0 or done == ordinary:
                out(f"  incidents {done:>9,}/{ordinary:,}  {time.perf_counter() - started:7.1f} s")
        self._heavy_incidents(random.Random(f"bench-heavy-{self.seed}"))
        self.flush()
        for year, number in self.counters.items():
            ReferenceCounter.objects.update_or_create(prefix=self.prefix, year=year,
                                                      defaults={"last_number": number})

    def flush(self) -> None:
        for model, _ in LOADED:
            self.writer.write(model, self.columns[model], self.buffers[model])
            self.buffers[model] = []

    # One incident ------------------------------------------------------------------------------

    def _incident(self, rng: random.Random, index: int) -> None:
        reported = self._reported_at(index, rng)
        until = self.until
        age = until - reported
        incident_id = self._id(Incident)
        severity = self.severities.draw(rng)
        ack_target, resolve_target = self.targets[severity]
        tlp = self.tlps.draw(rng)
        source = self.sources.draw(rng)

        campaign = None
        if rng.random() < CAMPAIGN_SHARE:
            running = [c for c in self.campaigns if c.starts <= reported < c.ends]
            campaign = _pick(rng, running) if running else None
        incident_type = campaign.incident_type if campaign else self.types.draw(rng)

        # Who owned it when: the first owner, then hand-overs up (escalation) or down (referral).
        draw = rng.random()
        if draw < REFERRED:
            final = self.deep_owners.draw(rng)
            first = self.cert_of[final.path_ids[0] if rng.random() < 0.5
                                 else _pick(rng, final.path_ids[:-1])]
            hops = [(EV.REFERRED, final)]
        else:
            first = self.owners.draw(rng)
            hops = []
            current = first
            for _ in range(2 if draw < REFERRED + ESCALATED_TWICE
                           else 1 if draw < REFERRED + ESCALATED_TWICE + ESCALATED_ONCE else 0):
                if len(current.path_ids) < 2:
                    break
                ancestors = current.path_ids[:-1]
                target = self.cert_of[ancestors[-1] if len(ancestors) == 1 or rng.random() < 0.85
                                      else _pick(rng, ancestors[:-1])]
                hops.append((EV.ESCALATED, target))
                current = target

        created_by = (_pick(rng, first.openers) if source in (SRC.STAFF, SRC.API)
                      and first.openers else None)
        events: list[tuple] = []  # (at, kind, actor, old, new, reason)
        events.append((reported, EV.CREATED, created_by, "", first.short_name,
                       f"Source: {SOURCE_LABELS[source]}"))
        periods: list[list] = [[first, reported, None]]
        owner, owner_since = first, reported
        acknowledged_at = None
        writes = 0
        for kind, target in hops:
            if kind == EV.REFERRED:
                actor = _pick(rng, owner.workers) if owner.workers else None
                at = owner_since + rng.uniform(0.05, 0.8) * ack_target
                reason = _pick(rng, REFERRAL_REASONS)
            elif rng.random() < AUTOMATIC_ESCALATION or not owner.workers:
                # The SLA pass (every minute) finds the missed acknowledgement.
                actor = None
                at = owner_since + ack_target + rng.uniform(1, 59)
                reason = ACK_MISSED_REASON
            else:
                actor = _pick(rng, owner.workers)
                acked = owner_since + rng.uniform(0.1, 0.9) * ack_target
                at = acked + rng.uniform(0.05, 0.5) * ack_target
                if at >= until:
                    break
                events.append((acked, EV.STATUS, actor, STATUS_LABELS[ST.NEW],
                               STATUS_LABELS[ST.ACKNOWLEDGED], ""))
                writes += 1
                acknowledged_at = acknowledged_at or acked
                reason = _pick(rng, ESCALATION_REASONS)
            if at >= until:
                break
            events.append((at, kind, actor, owner.short_name, target.short_name, reason))
            writes += 1
            periods[-1][2] = at
            periods.append([target, at, None])
            owner, owner_since = target, at

        ack_due = owner_since + ack_target
        resolve_due = reported + resolve_target
        # The status follows the age: nearly everything of the last week is open, less and less
        # up to four months, and a few stragglers beyond.
        if age < 7 * DAY:
            open_chance = 0.9
        elif age < 120 * DAY:
            open_chance = 0.9 - 0.8 * (age - 7 * DAY) / (113 * DAY)
        else:
            open_chance = 0.01
        if rng.random() < open_chance:
            if until < ack_due and rng.random() < 0.5:
                status = ST.NEW
            else:
                status = ST.ACKNOWLEDGED if rng.random() < 0.3 else ST.IN_PROGRESS
        else:
            draw = rng.random()
            status = (ST.REJECTED if draw < 0.10
                      else ST.RESOLVED if draw < (0.18 if age < 60 * DAY else 0.12)
                      else ST.CLOSED)

        # The steps of the current owner, as offsets from owner_since; squeezed to fit before
        # `until` if needed (squeezing only brings them closer to their deadlines).
        steps: list[tuple[float, str]] = []  # (offset, step)
        ack_alerted_for = None
        if status != ST.NEW:
            late = len(owner.path_ids) == 1 and rng.random() < LATE_ACK_AT_ROOT
            ack_offset = (rng.uniform(1.05, 3.0) if late else rng.uniform(0.05, 0.95)) * ack_target
            if status == ST.REJECTED:
                steps.append((ack_offset, "reject"))
            else:
                steps.append((ack_offset, "ack"))
                if owner.members and rng.random() < 0.85:
                    steps.append((ack_offset + rng.uniform(60, 3600), "assign"))
                if status != ST.ACKNOWLEDGED:
                    progress = ack_offset + rng.uniform(0.01, 0.1) * resolve_target
                    steps.append((progress, "progress"))
                    if status in (ST.RESOLVED, ST.CLOSED):
                        factor = (rng.uniform(1.02, 2.5) if rng.random() < LATE_RESOLUTION
                                  else rng.uniform(0.1, 0.95))
                        resolved = max(reported + factor * resolve_target - owner_since,
                                       progress + rng.uniform(600, 6 * 3600))
                        steps.append((resolved, "resolve"))
                        if status == ST.CLOSED:
                            steps.append((resolved + rng.uniform(1, 7) * DAY, "close"))
            room = until - owner_since
            last = steps[-1][0]
            if last >= room:
                squeeze = room * rng.uniform(0.3, 0.98) / last
                steps = [(offset * squeeze, step) for offset, step in steps]
                late = late and steps[0][0] > ack_target + 60
            if late:
                ack_alerted_for = ack_due

        actor_pool = owner.workers or owner.members
        status_label = STATUS_LABELS[ST.NEW]
        assignee = None
        resolved_at = None
        open_until = until
        for offset, step in steps:
            at = owner_since + offset
            actor = _pick(rng, actor_pool) if actor_pool else None
            if step == "assign":
                assignee = _pick(rng, owner.openers or owner.members)
                events.append((at, EV.ASSIGNED, actor, "", self.usernames[assignee], ""))
                writes += 1
                continue
            new_label, reason = {
                "ack": (STATUS_LABELS[ST.ACKNOWLEDGED], ""),
                "reject": (STATUS_LABELS[ST.REJECTED], _pick(rng, REJECTION_REASONS)),
                "progress": (STATUS_LABELS[ST.IN_PROGRESS], ""),
                "resolve": (STATUS_LABELS[ST.RESOLVED], "Contained and remediated."),
                "close": (STATUS_LABELS[ST.CLOSED], ""),
            }[step]
            events.append((at, EV.STATUS, actor, status_label, new_label, reason))
            writes += 1
            status_label = new_label
            if step == "ack" and acknowledged_at is None:
                acknowledged_at = at
            if step in ("resolve", "reject"):
                resolved_at = open_until = at
        if ack_alerted_for is not None:
            events.append((ack_due + rng.uniform(1, 30), EV.ACK_MISSED, None, "",
                           f"due {datetime.fromtimestamp(ack_due, self.zone):%Y-%m-%d %H:%M}",
                           "acknowledgement deadline missed at the root: duty handlers alerted"))
        resolution_missed_at = None
        if open_until > resolve_due:
            flagged = resolve_due + rng.uniform(1, 59)
            if flagged < until:
                resolution_missed_at = flagged
                events.append((flagged, EV.RESOLUTION_MISSED, None, "",
                               f"due {datetime.fromtimestamp(resolve_due, self.zone):%Y-%m-%d %H:%M}",
                               "resolution deadline missed"))
        work_ends = min(until, (steps[-1][0] + owner_since) if steps else until)
        if work_ends <= owner_since:
            work_ends = min(until, owner_since + 3600)

        # Observables: most were found in the report, some added later by an analyst.
        organization = _pick(rng, self.organizations)
        wanted = self.observable_counts.draw(rng)
        found: dict[tuple[str, str], tuple[float, int | None]] = {}
        if campaign is not None:
            # The campaign's address in every one of its incidents, and some of its other traces.
            address, *traces = campaign.indicators
            for pair in [address, *rng.sample(traces, _int(rng, 0, 2))]:
                found[pair] = (reported, created_by)
        while len(found) < wanted:
            kind = self.observable_types.draw(rng)
            pair = (kind, _observable(rng, kind, self.until_year))
            if pair in found:
                continue
            if rng.random() < 0.25 and owner.openers:
                at = rng.uniform(owner_since, work_ends)
                by = _pick(rng, owner.openers)
                found[pair] = (at, by)
                events.append((at, EV.OBSERVABLE, by, "", f"{pair[0]}: {pair[1]}"[:300], ""))
            else:
                found[pair] = (reported, created_by)
        in_report = [value for (kind, value), (at, _) in found.items() if at == reported]

        # Comments, and shares where the label allows them.
        comments = []
        for _ in range(self.comment_counts.draw(rng)):
            at = rng.uniform(owner_since, work_ends)
            reporter = source == SRC.PUBLIC_FORM and rng.random() < 0.1
            author = None if reporter or not owner.members else _pick(rng, owner.members)
            visible = reporter or rng.random() < 0.1
            comments.append((at, author, _pick(rng, COMMENTS), visible))
            events.append((at, EV.COMMENT, author, "",
                           "reporter-visible" if visible else "internal", ""))
        shares = []
        if tlp in SHAREABLE and rng.random() < SHARED:
            for cert in rng.sample(self.certs, 2 if rng.random() < 0.3 else 1):
                if cert.pk == owner.pk:
                    continue
                at = rng.uniform(owner_since, work_ends)
                by = _pick(rng, owner.workers) if owner.workers else None
                shares.append((at, cert, by))
                events.append((at, EV.SHARED, by, "", cert.short_name, ""))

        label = self.type_labels[incident_type]
        title = _pick(rng, TITLES).format(label=label, lower=label.lower(), org=organization)
        day = datetime.fromtimestamp(reported, self.zone)
        description = _pick(rng, DESCRIPTIONS).format(org=organization, lower=label.lower(),
                                                      day=f"{day:%d %B %Y}")
        if in_report:
            description += "\n\nIndicators: " + ", ".join(in_report)
        public = source == SRC.PUBLIC_FORM
        first_name, last_name = _pick(rng, FIRST_NAMES), _pick(rng, LAST_NAMES)
        detected = reported - rng.uniform(0.1, 48) * 3600
        updated = max((event[0] for event in events
                       if event[1] in (EV.STATUS, EV.ASSIGNED,
                                       EV.ESCALATED, EV.REFERRED)),
                      default=reported)
        self._write_incident(
            incident_id=incident_id, rng=rng, reported=reported, title=title,
            description=description, incident_type=incident_type, severity=severity, tlp=tlp,
            status=status, owner=owner, first=first, assignee=assignee, source=source,
            reporter=((f"{first_name} {last_name}",
                       f"{first_name.lower()}.{last_name.lower()}{_int(rng, 1, 999)}@mail.example",
                       f"+92 3{_int(rng, 0, 4)}{_int(rng, 0, 9)} {_int(rng, 1000000, 9999999)}",
                       rng.random() < 0.6, "ur" if rng.random() < 0.2 else "en")
                      if public else None),
            organization=organization, occurred=detected - rng.uniform(0, 72) * 3600,
            detected=detected, owner_since=owner_since, ack_due=ack_due, resolve_due=resolve_due,
            acknowledged_at=acknowledged_at, resolved_at=resolved_at,
            ack_alerted_for=ack_alerted_for, resolution_missed_at=resolution_missed_at,
            version=1 + writes, created_by=created_by, updated=updated,
            periods=periods, events=events, comments=comments, observables=found, shares=shares,
            attachments=[])

    def _write_incident(self, *, incident_id, rng, reported, title, description, incident_type,
                        severity, tlp, status, owner, first, assignee, source, reporter,
                        organization, occurred, detected, owner_since, ack_due, resolve_due,
                        acknowledged_at, resolved_at, ack_alerted_for, resolution_missed_at,
                        version, created_by, updated, periods, events, comments, observables,
                        shares, attachments, public_id=None) -> None:
        reported_dt = _dt(reported)
        name, email, phone, consents, language = reporter or ("", "", "", False, "")
        self.buffers[Incident].append((
            incident_id, public_id or uuid.UUID(int=rng.getrandbits(128), version=4),
            self._reference(reported), title[:300], description, self.classification_of[incident_type],
            incident_type, int(severity), str(tlp), str(status), owner.pk, assignee, str(source),
            name, email, phone, consents, language,
            f"{rng.getrandbits(256):064x}" if reporter else "",
            f"{rng.getrandbits(128):032x}" if reporter else "",
            f"{rng.getrandbits(128):032x}" if reporter else None,
            "Services unavailable to the public for several hours." if reporter else "",
            first.under_government, organization,
            first.sector_id or (_pick(rng, self.sector_ids) if rng.random() < 0.25 else None),
            first.region or (_pick(rng, self.regions) if rng.random() < 0.5 else ""),
            first.under_cii, _dt(occurred), _dt(detected), reported_dt,
            _dt(owner_since), _dt(ack_due), _dt(resolve_due), _dt(acknowledged_at),
            _dt(resolved_at), _dt(ack_alerted_for), _dt(resolution_missed_at), version,
            created_by, reported_dt, _dt(updated),
        ))
        periods_buffer = self.buffers[OwnershipPeriod]
        for cert, started, ended in periods:
            periods_buffer.append((self._id(OwnershipPeriod), incident_id, cert.pk, _dt(started),
                                   _dt(ended)))
        events.sort(key=lambda event: event[0])
        events_buffer = self.buffers[TimelineEvent]
        for at, kind, actor, old, new, reason in events:
            events_buffer.append((self._id(TimelineEvent), incident_id, str(kind), _dt(at), actor,
                                  old, new, reason))
        comments_buffer = self.buffers[Comment]
        for at, author, body, visible in sorted(comments, key=lambda comment: comment[0]):
            comments_buffer.append((self._id(Comment), incident_id, author, body, visible, _dt(at)))
        observables_buffer = self.buffers[Observable]
        for (kind, value), (at, by) in observables.items():
            observables_buffer.append((self._id(Observable), incident_id, str(kind), value,
                                       _dt(at), by))
        shares_buffer = self.buffers[IncidentShare]
        for at, cert, by in shares:
            shares_buffer.append((self._id(IncidentShare), incident_id, cert.pk, by, _dt(at)))
        attachments_buffer = self.buffers[Attachment]
        for row in attachments:
            attachments_buffer.append((self._id(Attachment), incident_id, *row))

        earlier = frozenset(cert.pk for cert, _, ended in periods if ended is not None)
        shared = frozenset(cert.pk for _, cert, _ in shares)
        key = (owner.pk, earlier, shared, str(tlp))
        grants = self.grants_of.get(key)
        if grants is None:
            grants = [(self.cert_of[cert_id].group_id, self.permission_ids[codename])
                      for cert_id, codenames in derive_grants(
                          owner_path_ids=owner.path_ids, earlier_owner_ids=earlier,
                          shared_cert_ids=shared, tlp=tlp).items()
                      for codename in sorted(codenames)]
            self.grants_of[key] = grants
        grants_buffer = self.buffers[IncidentGroupObjectPermission]
        for group_id, permission_id in grants:
            grants_buffer.append((self._id(IncidentGroupObjectPermission), incident_id, group_id,
                                  permission_id, reported_dt))

    # The busy incidents ------------------------------------------------------------------------

    def _heavy_incidents(self, rng: random.Random) -> None:
        """One incident each for national, punjab, banking and an organizational CERT with 200
        comments, 200 further events by people, 20 observables, 5 files and 5 shares."""
        by_slug = {cert.slug: cert for cert in self.certs}
        severity = Severity.MEDIUM
        ack_target, resolve_target = self.targets[severity]
        for slug in HEAVY_OWNERS:
            owner = by_slug[slug]
            incident_id = self._id(Incident)
            reported = self.until - rng.uniform(3, 10) * DAY
            people = owner.members
            workers = owner.workers or people
            created_by = _pick(rng, owner.openers or people)
            events = [(reported, EV.CREATED, created_by, "", owner.short_name,
                       f"Source: {SOURCE_LABELS[SRC.STAFF]}")]
            acked = reported + rng.uniform(0.1, 0.9) * ack_target
            events.append((acked, EV.STATUS, _pick(rng, workers), STATUS_LABELS[ST.NEW],
                           STATUS_LABELS[ST.ACKNOWLEDGED], ""))
            progress = acked + 3600
            events.append((progress, EV.STATUS, _pick(rng, workers),
                           STATUS_LABELS[ST.ACKNOWLEDGED], STATUS_LABELS[ST.IN_PROGRESS], ""))
            span_start, span_end = progress + 60, self.until - 60
            comments = []
            for _ in range(HEAVY_COMMENTS):
                at = rng.uniform(span_start, span_end)
                author = _pick(rng, people)
                visible = rng.random() < 0.1
                comments.append((at, author, _pick(rng, COMMENTS), visible))
                events.append((at, EV.COMMENT, author, "",
                               "reporter-visible" if visible else "internal", ""))
            observables = {}
            while len(observables) < HEAVY_OBSERVABLES:
                kind = self.observable_types.draw(rng)
                pair = (kind, _observable(rng, kind, self.until_year))
                if pair not in observables:
                    at, by = rng.uniform(span_start, span_end), _pick(rng, owner.openers or people)
                    observables[pair] = (at, by)
                    events.append((at, EV.OBSERVABLE, by, "", f"{pair[0]}: {pair[1]}"[:300], ""))
            shares = []
            candidates = [cert for cert in self.certs if cert.pk != owner.pk]
            for cert in rng.sample(candidates, HEAVY_SHARES):
                at, by = rng.uniform(span_start, span_end), _pick(rng, workers)
                shares.append((at, cert, by))
                events.append((at, EV.SHARED, by, "", cert.short_name, ""))
            public_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            attachments = []
            for number in range(1, HEAVY_ATTACHMENTS + 1):
                at, by = rng.uniform(span_start, span_end), _pick(rng, owner.openers or people)
                content = (f"Bench attachment {number} of a busy incident owned by "
                           f"{owner.short_name}.\n").encode()
                name = default_storage.save(
                    f"incidents/{public_id}/{uuid.UUID(int=rng.getrandbits(128), version=4).hex}",
                    ContentFile(content))
                digest = hashlib.sha256(content).hexdigest()
                original = f"evidence-{number}.txt"
                attachments.append((name, original, len(content), digest, "text/plain", by, _dt(at)))
                events.append((at, EV.ATTACHMENT, by, "",
                               f"{original} ({len(content):,} bytes, sha256 {digest[:12]}…)", ""))
            # The rest of the 200 further events: the incident handed from person to person.
            assignee, previous = None, ""
            reassignments = HEAVY_EXTRA_EVENTS - HEAVY_OBSERVABLES - HEAVY_ATTACHMENTS - HEAVY_SHARES
            for at in sorted(rng.uniform(span_start, span_end) for _ in range(reassignments)):
                assignee = _pick(rng, people)
                events.append((at, EV.ASSIGNED, _pick(rng, workers), previous,
                               self.usernames[assignee], ""))
                previous = self.usernames[assignee]
            label = self.type_labels["phishing"]
            self._write_incident(
                incident_id=incident_id, rng=rng, reported=reported, title=HEAVY_TITLE,
                description=f"A long-running {label.lower()} case with many contributions.",
                incident_type="phishing", severity=severity, tlp=Tlp.AMBER,
                status=ST.IN_PROGRESS, owner=owner, first=owner, assignee=assignee,
                source=SRC.STAFF, reporter=None, organization=_pick(rng, self.organizations),
                occurred=reported - DAY, detected=reported - 3600, owner_since=reported,
                ack_due=reported + ack_target, resolve_due=reported + resolve_target,
                acknowledged_at=acked, resolved_at=None, ack_alerted_for=None,
                resolution_missed_at=None, version=1 + 2 + reassignments, created_by=created_by,
                updated=max(event[0] for event in events if event[1] == EV.ASSIGNED),
                periods=[[owner, reported, None]], events=events, comments=comments,
                observables=observables, shares=shares, attachments=attachments,
                public_id=public_id)


# --- entry point --------------------------------------------------------------------------------

def generate(*, scale: float = 1.0, seed: int = 8, until: datetime | None = None,
             out: Callable[[str], None] = print) -> Summary:
    """Fill the current database with the national data set; see the module docstring.

    Raises DatasetError, having written nothing, if the scale is out of range, the database is
    neither PostgreSQL nor SQLite, or it already holds incidents or bench staff.
    """
    plan = Plan.for_scale(scale)
    if connection.vendor not in ("postgresql", "sqlite"):
        raise DatasetError(f"The generator loads PostgreSQL or SQLite, not {connection.vendor}.")
    until = (until or timezone.now()).replace(microsecond=0)
    if timezone.is_naive(until):
        raise DatasetError("`until` must be a time-zone aware time.")
    held = Incident.objects.count()
    if held:
        raise DatasetError(f"The database already holds {held:,} incidents: the generator fills "
                           "one without any. Start over with a fresh database (e.g. dropdb and "
                           "createdb, then manage.py migrate) and run it again.")
    started = time.perf_counter()
    out(f"Generating the national data set: scale {plan.scale} ({plan.incidents:,} incidents), "
        f"seed {seed}, up to {timezone.localtime(until):%Y-%m-%d %H:%M %Z}, "
        f"on {connection.vendor}.")
    writer = _CopyWriter() if connection.vendor == "postgresql" else _InsertWriter()
    password_hash = make_password(PASSWORD, salt="benchdataset")
    rng = random.Random(f"bench-registry-{seed}")
    with transaction.atomic():
        step = time.perf_counter()
        _ensure_registry(out, password_hash)
        _ensure_org_certs(plan.org_certs, rng)
        certs = _cert_infos()
        _create_staff(_staff_plan(certs, plan.staff, rng), password_hash)
        certs = _cert_infos()
        out(f"Registry: {len(certs)} CERTs, {Membership.objects.count():,} memberships "
            f"({time.perf_counter() - step:.1f} s).")
        usernames = dict(get_user_model().objects.values_list("pk", "username"))
        permission_ids = dict(Permission.objects.filter(
            content_type__app_label="incidents", content_type__model="incident",
            codename__in=ALL_GRANTS).values_list("codename", "pk"))
        generator = _Generator(plan=plan, seed=seed, until=until, certs=certs, usernames=usernames,
                               permission_ids=permission_ids, writer=writer)
        generator.run(out)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(
                        no_style(), [model for model, _ in LOADED] + [ReferenceCounter]):
                    cursor.execute(statement)
    if connection.vendor == "postgresql":
        step = time.perf_counter()
        with connection.cursor() as cursor:
            # VACUUM as well as ANALYZE: it sets the visibility map, without which the lists'
            # index-only scans of the grants would visit the table for every row until
            # autovacuum came by, and the measures would depend on when it did. (Inside a
            # transaction, as in the tests, VACUUM cannot run.)
            statement = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            cursor.execute(statement)
        out(f"{statement}: {time.perf_counter() - step:.1f} s.")
    summary = Summary(plan=plan, seed=seed, until=until, tables=writer.loads,
                      seconds=time.perf_counter() - started)
    for table, load in writer.loads.items():
        out(f"  {table:<42} {load.rows:>11,} rows  {load.seconds:7.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            out(f"Database size: {cursor.fetchone()[0]}.")
    out(f"Done in {summary.seconds:.0f} s. Every generated user's password is {PASSWORD!r}.")
    return summary
