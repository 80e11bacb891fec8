"""The MISP feed of the indicators a CERT may see (issue 11, point 7).

A MISP instance subscribes to a feed by its address and fetches, as MISP's own feed generator
writes them (PyMISP's MISPEvent.manifest, MISPEvent.to_feed and attributes_hashes("md5")):

- manifest.json: {event uuid: {"Orgc", "Tag", "info", "date", "analysis", "threat_level_id",
  "timestamp"}}, from which it decides which events are new or changed (timestamp);
- <event uuid>.json: {"Event": {..., "Attribute": [...]}} for each of those;
- hashes.csv: "<md5 of an attribute value>,<event uuid>" per line, for the feed's overlap and
  cache lookups.

One event per incident the caller may see (incidents.access.visible_incidents) that has
observables, and one per advisory it may read (advisories.access.readable_advisories) whose
current revision has indicators or CVE IDs. Nothing here decides visibility: every read starts
from those two functions.

Identity: an event's uuid is the incident's or advisory's public_id. It never changes, so MISP
updates its copy instead of making a new event, and the event file is found by its uuid with one
indexed lookup (a uuid5 derived from the public_id could not be looked up without scanning or
storing it). Attribute uuids are uuid5(event uuid, "<type>:<value>"), equally stable.

Bounded work: the manifest reads incidents and advisories (one query each, EXISTS for "has
observables", nothing loaded per observable), capped at settings.MISP_FEED_MAX_EVENTS (default
10,000) most recently changed events of each kind. At national scale the National CERT may see
most incidents of the country: its feed lists the newest 10,000 with indicators; older events
stay in the subscribers' MISP as they were fetched, and each remains fetchable by its uuid.
hashes.csv covers exactly the listed events and is streamed row by row from one query per kind,
so its memory does not grow with the number of observables.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from advisories.access import readable_advisories
from advisories.models import Advisory, AdvisoryStatus
from cert_portal.audit.events import advisory_viewed, incident_viewed
from cert_portal.audit.record import current_request
from incidents.access import visible_incidents
from incidents.models import Incident, Observable, Status
from incidents.observables import ObservableType
from incidents.tlp import COLOURS, Tlp
from organizations.models import Cert

DEFAULT_MAX_EVENTS = 10_000
# Rows fetched from the database at a time while streaming hashes.csv.
STREAM_CHUNK = 2_000

# Portal observable type -> (MISP attribute type, MISP category, to_ids), as MISP's
# describeTypes.json allows them together (its sane defaults, except that addresses seen in an
# incident are destinations: ip-dst).
MISP_TYPES: dict[str, tuple[str, str, bool]] = {
    ObservableType.IPV4: ("ip-dst", "Network activity", True),
    ObservableType.IPV6: ("ip-dst", "Network activity", True),
    ObservableType.DOMAIN: ("domain", "Network activity", True),
    ObservableType.URL: ("url", "Network activity", True),
    ObservableType.EMAIL: ("email-src", "Payload delivery", True),
    ObservableType.MD5: ("md5", "Payload delivery", True),
    ObservableType.SHA1: ("sha1", "Payload delivery", True),
    ObservableType.SHA256: ("sha256", "Payload delivery", True),
    ObservableType.CVE: ("vulnerability", "External analysis", False),
}

# MISP threat_level_id: 1 high, 2 medium, 3 low, 4 undefined.
INCIDENT_THREAT_LEVEL = {5: 1, 4: 1, 3: 1, 2: 2, 1: 3, 0: 3}  # NCISS severity 0-5
ADVISORY_THREAT_LEVEL = {4: 1, 3: 1, 2: 2, 1: 3, 0: 4}  # informational .. critical
# MISP analysis: 0 initial, 1 ongoing, 2 completed.
INCIDENT_ANALYSIS = {Status.NEW: 0, Status.ACKNOWLEDGED: 1, Status.IN_PROGRESS: 1,
                     Status.RESOLVED: 2, Status.CLOSED: 2}


def max_events() -> int:
    """How many events of each kind the manifest and hashes.csv list at most."""
    return int(getattr(settings, "MISP_FEED_MAX_EVENTS", DEFAULT_MAX_EVENTS))


def epoch(moment: datetime | None) -> str:
    """A time as MISP writes it in feeds: seconds since the epoch, as a string."""
    return str(int(moment.timestamp())) if moment else "0"


def tlp_tag(tlp: str) -> dict:
    """The event's tag from MISP's tlp taxonomy: "tlp:clear", "tlp:amber+strict", ..."""
    return {"name": Tlp(tlp).value.lower(), "colour": COLOURS[Tlp(tlp)]}


def orgc(cert: Cert) -> dict:
    """The creator organisation of an event: the CERT, with a uuid stable per deployment."""
    org_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"{settings.PORTAL_BASE_URL}/certs/{cert.slug}/")
    return {"name": cert.name, "uuid": str(org_uuid)}


def md5(value: str) -> str:
    # MISP hashes an attribute's value as UTF-8 (MISPAttribute.hash_values), not for security.
    return hashlib.md5(value.encode("utf-8"), usedforsecurity=False).hexdigest()


# --- What the feed lists -------------------------------------------------------------------------

def feed_incidents(user) -> QuerySet[Incident]:
    """The incidents of the feed: visible to `user`, with observables, not rejected (a rejected
    report's observables are not indicators), most recently changed first."""
    has_observables = Exists(Observable.objects.filter(incident_id=OuterRef("pk")))
    return (visible_incidents(user).exclude(status=Status.REJECTED).filter(has_observables)
            .order_by("-updated_at", "-pk"))


def feed_advisories(user) -> QuerySet[Advisory]:
    """The advisories of the feed: published (not withdrawn) ones `user` may read whose current
    revision names indicators or CVE IDs, most recently published first."""
    no_indicators = Q(current_revision__indicators=[]) & Q(current_revision__cve_ids=[])
    return (readable_advisories(user).filter(status=AdvisoryStatus.PUBLISHED,
                                             current_revision__isnull=False)
            .exclude(no_indicators).order_by("-last_published_at", "-pk"))


# --- Attributes --------------------------------------------------------------------------------

def _attributes(event_uuid: str, rows: Iterable[tuple[str, str, str]]) -> list[dict]:
    """The event's attributes from (portal type, value, epoch timestamp) rows: one per distinct
    (MISP type, value), portal types that MISP has no type for left out. The one mapping behind
    event files and hashes.csv, so that both name the same values."""
    namespace = uuid.UUID(event_uuid)
    seen: set[tuple[str, str]] = set()
    out = []
    for portal_type, value, timestamp in rows:
        mapped = MISP_TYPES.get(portal_type)
        if mapped is None or not value:
            continue
        misp_type, category, to_ids = mapped
        if (misp_type, value) in seen:
            continue
        seen.add((misp_type, value))
        out.append({"uuid": str(uuid.uuid5(namespace, f"{portal_type}:{value}")), "type": misp_type,
                    "category": category, "value": value, "to_ids": to_ids, "comment": "",
                    "timestamp": timestamp, "deleted": False, "disable_correlation": False})
    return out


def _advisory_rows(indicators, cve_ids, timestamp: str) -> list[tuple[str, str, str]]:
    rows = [(str(item.get("type", "")), str(item.get("value", "")), timestamp)
            for item in indicators or () if isinstance(item, dict)]
    return rows + [(ObservableType.CVE, str(cve), timestamp) for cve in cve_ids or ()]


# --- The three documents -----------------------------------------------------------------------

def _incident_meta(incident: Incident) -> dict:
    return {"Orgc": orgc(incident.owner_cert), "Tag": [tlp_tag(incident.tlp)],
            "info": f"{incident.reference}: {incident.title}",
            "date": incident.reported_at.date().isoformat(),
            "analysis": INCIDENT_ANALYSIS.get(incident.status, 1),
            "threat_level_id": INCIDENT_THREAT_LEVEL.get(incident.severity, 4),
            "timestamp": epoch(incident.updated_at)}


def _advisory_meta(advisory: Advisory) -> dict:
    revision = advisory.current_revision
    return {"Orgc": orgc(advisory.author_cert), "Tag": [tlp_tag(advisory.tlp)],
            "info": f"{advisory.reference}: {revision.title}",
            "date": (advisory.first_published_at or advisory.last_published_at).date().isoformat(),
            "analysis": 2,
            "threat_level_id": ADVISORY_THREAT_LEVEL.get(revision.severity, 4),
            "timestamp": epoch(advisory.last_published_at)}


# What the manifest reads of each row: no descriptions or bodies, which may be long.
_INCIDENT_FIELDS = ("public_id", "reference", "title", "reported_at", "status", "severity", "tlp",
                    "updated_at", "owner_cert__name", "owner_cert__slug")
_ADVISORY_FIELDS = ("public_id", "reference", "tlp", "first_published_at", "last_published_at",
                    "author_cert__name", "author_cert__slug", "current_revision__title",
                    "current_revision__severity")


def manifest(user) -> dict:
    """manifest.json: two queries whatever the number of events and observables."""
    cap = max_events()
    entries = {}
    for incident in feed_incidents(user).select_related("owner_cert").only(*_INCIDENT_FIELDS)[:cap]:
        entries[str(incident.public_id)] = _incident_meta(incident)
    for advisory in (feed_advisories(user).select_related("author_cert", "current_revision")
                     .only(*_ADVISORY_FIELDS)[:cap]):
        entries[str(advisory.public_id)] = _advisory_meta(advisory)
    return entries


def _event(event_uuid: str, meta: dict, attributes: list[dict]) -> dict:
    fields = {name: meta[name] for name in ("info", "date", "analysis", "threat_level_id", "timestamp")}
    return {"Event": {"uuid": event_uuid, **fields, "published": True,
                      "publish_timestamp": meta["timestamp"], "extends_uuid": "",
                      "Orgc": meta["Orgc"], "Tag": meta["Tag"], "Attribute": attributes}}


def event(user, event_uuid: uuid.UUID) -> dict:
    """<uuid>.json for `user`; Http404 when no event of the feed the user may see has that uuid
    (missing and invisible alike). Two or three queries, and the audit trail's INSERT: an
    event is one incident's (or protected advisory's) detail, so fetching it is a view."""
    incident = feed_incidents(user).select_related("owner_cert").filter(public_id=event_uuid).first()
    if incident is not None:
        key = str(incident.public_id)
        rows = [(kind, value, epoch(at)) for kind, value, at in
                incident.observables.order_by("pk").values_list("type", "value", "created_at")]
        incident_viewed(current_request(), incident, detail={"via": "misp"})
        return _event(key, _incident_meta(incident), _attributes(key, rows))
    advisory = (feed_advisories(user).select_related("author_cert", "current_revision")
                .filter(public_id=event_uuid).first())
    if advisory is not None:
        key = str(advisory.public_id)
        revision = advisory.current_revision
        rows = _advisory_rows(revision.indicators, revision.cve_ids, epoch(advisory.last_published_at))
        advisory_viewed(current_request(), advisory, detail={"via": "misp"})
        return _event(key, _advisory_meta(advisory), _attributes(key, rows))
    raise Http404("No event of this feed has this uuid.")


def hash_lines(user) -> Iterator[str]:
    """hashes.csv, line by line, for the events the manifest lists: "<md5 of value>,<uuid>\\n"
    per attribute. Two queries, read in chunks."""
    cap = max_events()
    listed = feed_incidents(user).values("pk")[:cap]
    observables = (Observable.objects.filter(incident_id__in=listed)
                   .order_by("incident_id", "pk").values_list("incident__public_id", "type", "value"))
    current, rows = None, []
    for public_id, kind, value in observables.iterator(chunk_size=STREAM_CHUNK):
        if public_id != current:
            yield from _lines(current, rows)
            current, rows = public_id, []
        rows.append((kind, value, ""))
    yield from _lines(current, rows)
    advisories = (feed_advisories(user)[:cap]
                  .values_list("public_id", "current_revision__indicators", "current_revision__cve_ids"))
    for public_id, indicators, cve_ids in advisories.iterator(chunk_size=STREAM_CHUNK):
        yield from _lines(public_id, _advisory_rows(indicators, cve_ids, ""))


def _lines(public_id, rows) -> Iterator[str]:
    if public_id is None:
        return
    key = str(public_id)
    for attribute in _attributes(key, rows):
        yield f"{md5(attribute['value'])},{key}\n"
