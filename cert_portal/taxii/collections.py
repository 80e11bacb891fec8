"""The TAXII collections and their pages of STIX objects (issue 11, DOMAIN.md §6).

What a caller may see is decided by the access modules (incidents.access.visible_incidents,
advisories.access.readable_advisories); this module only orders and pages it.

A collection is the union of a few sources, each in the order (date added, source rank, row,
sub-object): the TLP 2.0 marking definitions, the identities of the CERTs, and the collection's
own rows (observables, or advisories). A page asks each source for at most `limit + 2` rows after
the cursor's position (keyset, one query per source whatever the page size), merges them, and
stops at the earliest position up to which every source answered in full (the horizon), so that no
row is skipped when a source had more rows than it was asked for.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q

from advisories.access import readable_advisories
from advisories.models import Advisory, AdvisoryStatus
from cert_portal.pagination import BadCursor
from cert_portal.taxii import stix
from cert_portal.taxii.stix import Entry
from incidents.access import visible_incidents
from incidents.models import Incident, Observable
from incidents.observables import ObservableType
from incidents.tlp import Tlp
from organizations.models import Cert

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def collection_id(name: str) -> str:
    return str(uuid.uuid5(stix.PORTAL_NAMESPACE, f"collection:{name}"))


@dataclass(frozen=True)
class Filters:
    """The TAXII filters of a request, parsed (views.parse_filters)."""

    added_after: datetime | None = None
    ids: frozenset[str] | None = None
    types: frozenset[str] | None = None
    # Timestamps asked for with match[version]; None for first, last or all (the portal serves
    # one version of each object, its current one, which is first, last and all at once).
    versions: frozenset[str] | None = None
    spec_versions: frozenset[str] | None = None

    def keeps(self, entry: Entry) -> bool:
        obj = entry.obj
        return ((self.ids is None or obj["id"] in self.ids)
                and (self.types is None or obj["type"] in self.types)
                and (self.versions is None or obj.get("modified", obj.get("created")) in self.versions)
                and (self.spec_versions is None or obj.get("spec_version") in self.spec_versions)
                and (self.added_after is None or stix.stix_time(entry.added) > stix.stix_time(
                    self.added_after)))

    def wants_type(self, *types: str) -> bool:
        return self.types is None or bool(self.types & set(types))

    def row_ids(self, kind: str, stix_type: str) -> set[int] | None:
        """The primary keys of `kind` rows that match[id] names, or None without match[id]."""
        if self.ids is None:
            return None
        found = set()
        for stix_id in self.ids:
            prefix, _, text = stix_id.partition("--")
            parsed = stix.parse_row_uuid(text) if prefix == stix_type else None
            if parsed and parsed[0] == kind:
                found.add(parsed[1])
        return found


Key = tuple  # (added, rank, pk, sub)


def encode_key(key: Key) -> str:
    text = json.dumps([key[0].isoformat(), *key[1:]])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_key(value: str) -> Key:
    """The position a `next` value names; BadCursor for anything else."""
    try:
        added, rank, pk, sub = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        key = (datetime.fromisoformat(added), int(rank), int(pk), int(sub))
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise BadCursor from None
    if key[0].tzinfo is None:
        raise BadCursor
    return key


@dataclass
class Fetched:
    entries: list[Entry]
    horizon: Key | None  # None: the source answered everything after the position


@dataclass
class Page:
    entries: list[Entry]
    more: bool
    next: str | None


def _after(after: Key | None, rank: int, at: str) -> Q:
    """Rows of a source of `rank` that may come after `after` (a superset: Entry.key decides)."""
    if after is None:
        return Q()
    if rank > after[1]:
        return Q(**{f"{at}__gte": after[0]})
    if rank < after[1]:
        return Q(**{f"{at}__gt": after[0]})
    return Q(**{f"{at}__gt": after[0]}) | Q(**{at: after[0], "pk__gte": after[2]})


def _added_since(filters: Filters, at: str) -> Q:
    if filters.added_after is None:
        return Q()
    # Timestamps are shown with milliseconds: "added after X" is "shown as later than X".
    shown = filters.added_after.replace(microsecond=filters.added_after.microsecond // 1000 * 1000)
    return Q(**{f"{at}__gte": shown + timedelta(milliseconds=1)})


def _rows(queryset, *, after, rank, at, filters, limit, make) -> Fetched:
    rows = list(queryset.filter(_after(after, rank, at), _added_since(filters, at))
                .order_by(at, "pk")[: limit + 2])
    entries = [entry for row in rows for entry in make(row)]
    horizon = entries[-1].key if len(rows) == limit + 2 and entries else None
    return Fetched(entries, horizon)


# --- Sources ---------------------------------------------------------------------------------
MARKINGS_RANK, IDENTITIES_RANK, ROWS_RANK = 0, 1, 2


def markings(user, after, filters: Filters, limit: int) -> Fetched:
    if not filters.wants_type("marking-definition"):
        return Fetched([], None)
    return Fetched([Entry(stix.TLP2_CREATED, MARKINGS_RANK, number, 0,
                          stix.as_dict(stix.tlp_marking(tlp)))
                    for number, tlp in enumerate(Tlp, start=1)], None)


def identities(user, after, filters: Filters, limit: int) -> Fetched:
    if not filters.wants_type("identity"):
        return Fetched([], None)
    certs = Cert.objects.filter(is_active=True)
    if filters.ids is not None:
        wanted = {stix_id for stix_id in filters.ids if stix_id.startswith("identity--")}
        if not wanted:
            return Fetched([], None)
        # uuid5 is not reversible, and the registry is small: one query for every slug.
        certs = certs.filter(pk__in=[pk for pk, slug in certs.values_list("pk", "slug")
                                     if stix.identity_id(slug) in wanted])
    return _rows(certs, after=after, rank=IDENTITIES_RANK, at="created_at", filters=filters,
                 limit=limit, make=lambda cert: [Entry(cert.created_at, IDENTITIES_RANK, cert.pk, 0,
                                                       stix.as_dict(stix.cert_identity(cert)))])


def observables(user, after, filters: Filters, limit: int) -> Fetched:
    rows = Observable.objects.filter(Exists(visible_incidents(
        user, Incident.objects.filter(pk=OuterRef("incident_id")))))
    if not filters.wants_type("indicator", "vulnerability"):
        return Fetched([], None)
    if not filters.wants_type("indicator"):
        rows = rows.filter(type=ObservableType.CVE)
    elif not filters.wants_type("vulnerability"):
        rows = rows.exclude(type=ObservableType.CVE)
    if filters.ids is not None:
        rows = rows.filter(pk__in=filters.row_ids("observable", "indicator")
                           | filters.row_ids("observable", "vulnerability"))
    return _rows(rows.select_related("incident__owner_cert"), after=after, rank=ROWS_RANK,
                 at="created_at", filters=filters, limit=limit,
                 make=lambda row: [Entry(row.created_at, ROWS_RANK, row.pk, 0,
                                         stix.as_dict(stix.observable_object(row)))])


def advisories(user, after, filters: Filters, limit: int) -> Fetched:
    if not filters.wants_type("report", "vulnerability"):
        return Fetched([], None)
    rows = readable_advisories(user, Advisory.objects.select_related("author_cert",
                                                                     "current_revision"))
    rows = rows.filter(status=AdvisoryStatus.PUBLISHED, last_published_at__isnull=False)
    if filters.ids is not None:
        rows = rows.filter(pk__in=filters.row_ids("advisory", "report")
                           | {pk for pk, _ in _cve_ids(filters)})

    def make(advisory):
        return [Entry(advisory.last_published_at, ROWS_RANK, advisory.pk, sub, stix.as_dict(obj))
                for sub, obj in enumerate(stix.advisory_objects(advisory))]

    return _rows(rows, after=after, rank=ROWS_RANK, at="last_published_at", filters=filters,
                 limit=limit, make=make)


def _cve_ids(filters: Filters) -> set[tuple[int, int]]:
    found = set()
    for stix_id in filters.ids or ():
        prefix, _, text = stix_id.partition("--")
        parsed = stix.parse_row_uuid(text) if prefix == "vulnerability" else None
        if parsed and parsed[0] == "advisory-cve":
            found.add((parsed[1], parsed[2]))
    return found


@dataclass(frozen=True)
class Collection:
    name: str
    title: str
    description: str
    sources: tuple[Callable, ...] = field(default=())
    readable: bool = True

    @property
    def id(self) -> str:
        return collection_id(self.name)


COLLECTIONS = (
    Collection("indicators", "Indicators",
               "Observables of the incidents your CERT may see, as STIX indicators (CVE IDs as "
               "vulnerabilities), with the CERTs' identities and the TLP 2.0 markings.",
               (markings, identities, observables)),
    Collection("advisories", "Advisories",
               "The published advisories your CERT may read, as STIX reports with a "
               "vulnerability for each CVE.", (markings, identities, advisories)),
    Collection("inbox", "Inbox",
               "Send indicators here with a read-write key: they become the observables of a new "
               "incident of your CERT, source TAXII.", (), readable=False),
)
BY_ID = {collection.id: collection for collection in COLLECTIONS}


def page(user, collection: Collection, *, filters: Filters, limit: int,
         after: Key | None = None) -> Page:
    """One page of `collection` for `user`: at most `limit` objects after `after`, oldest added
    first, and whether there is more (with the `next` position)."""
    if filters.spec_versions is not None and "2.1" not in filters.spec_versions:
        return Page([], False, None)
    fetched = [source(user, after, filters, limit) for source in collection.sources]
    horizons = [f.horizon for f in fetched if f.horizon is not None]
    horizon = min(horizons) if horizons else None
    candidates = sorted(
        (entry for f in fetched for entry in f.entries
         if (after is None or entry.key > after) and (horizon is None or entry.key <= horizon)
         and filters.keeps(entry)),
        key=lambda entry: entry.key)
    if len(candidates) > limit:
        shown = candidates[:limit]
        return Page(shown, True, encode_key(shown[-1].key))
    if horizon is not None:
        return Page(candidates, True, encode_key(horizon))
    return Page(candidates, False, None)
