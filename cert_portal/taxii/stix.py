"""STIX 2.1 objects for the portal's TAXII collections (issue 11, DOMAIN.md §6), made with `stix2`.

Ids are deterministic, so that the same row is the same STIX object in every answer:
- a CERT's `identity` is uuid5(PORTAL_NAMESPACE, "cert:<slug>");
- TLP 2.0 marking definitions have the fixed ids OASIS publishes with the TLP 2.0 extension
  (cti-stix-common-objects, extension-definition--60a3c5c5-...);
- objects made from rows (an observable's indicator or vulnerability, an advisory's report and
  the vulnerability of each of its CVEs) carry the row in their UUID (`row_uuid`): a UUID is not
  reversible when it is a hash, and a client asking for one object by id must be answered with
  one indexed query, not by hashing every row it may see.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import stix2
from django.conf import settings

from incidents.observables import ObservableType
from incidents.tlp import Tlp

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
PORTAL_NAMESPACE = uuid.UUID("8a0b6c8e-3f4c-5b0e-9a52-6f1f0c2d7e11")

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = datetime.fromisoformat("2022-10-01T00:00:00+00:00")
TLP2_IDS = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_BY_MARKING = {marking: tlp for tlp, marking in TLP2_IDS.items()}


def stix_time(moment: datetime) -> str:
    """A STIX/TAXII timestamp in UTC with milliseconds, the precision used everywhere here so that
    `modified`, `date_added`, versions and filters compare alike."""
    return stix2.utils.format_datetime(stix2.utils.STIXdatetime(moment, precision="millisecond"))


def tlp_marking(tlp: str) -> stix2.v21.MarkingDefinition:
    return stix2.v21.MarkingDefinition(
        id=TLP2_IDS[Tlp(tlp)], created=TLP2_CREATED, name=Tlp(tlp).value,
        extensions={TLP2_EXTENSION: {"extension_type": "property-extension",
                                     "tlp_2_0": Tlp(tlp).value.removeprefix("TLP:").lower()}})


def identity_id(slug: str) -> str:
    return f"identity--{uuid.uuid5(PORTAL_NAMESPACE, f'cert:{slug}')}"


def cert_identity(cert) -> stix2.v21.Identity:
    return stix2.v21.Identity(
        id=identity_id(cert.slug), name=cert.name, identity_class="organization",
        description=f"{cert.get_kind_display()} CERT {cert.short_name} of the national CERT portal.",
        contact_information=cert.email or None,
        created=stix_time(cert.created_at), modified=stix_time(max(cert.created_at, cert.updated_at)))


# --- Ids that carry their row --------------------------------------------------------------------
# 122 free bits of a version-5 RFC 4122 UUID: a 26-bit tag of the kind of row, the row's primary
# key (64 bits) and 32 bits more (a CVE number for an advisory's vulnerability).
_KINDS = ("observable", "advisory", "advisory-cve")


def _tag(kind: str) -> int:
    return uuid.uuid5(PORTAL_NAMESPACE, f"row:{kind}").int >> 102  # 26 bits


def row_uuid(kind: str, pk: int, extra: int = 0) -> str:
    value = (_tag(kind) << 96) | (pk << 32) | extra
    high, middle, low = value >> 74, (value >> 62) & 0xFFF, value & ((1 << 62) - 1)
    return str(uuid.UUID(int=(high << 80) | (5 << 76) | (middle << 64) | (0b10 << 62) | low))


def parse_row_uuid(text: str) -> tuple[str, int, int] | None:
    """(kind, pk, extra) of an id made by `row_uuid`, or None for any other UUID."""
    try:
        number = uuid.UUID(text).int
    except ValueError:
        return None
    if (number >> 76) & 0xF != 5 or (number >> 62) & 0b11 != 0b10:
        return None
    value = ((number >> 80) << 74) | (((number >> 64) & 0xFFF) << 62) | (number & ((1 << 62) - 1))
    tag, pk, extra = value >> 96, (value >> 32) & ((1 << 64) - 1), value & 0xFFFFFFFF
    for kind in _KINDS:
        if _tag(kind) == tag:
            return kind, pk, extra
    return None


def cve_number(cve_id: str) -> int:
    """CVE-YYYY-N as 32 bits: 8 for the year after 1999, 24 for N (CVE numbers stay far below)."""
    _, year, number = cve_id.split("-")
    return ((int(year) - 1999) & 0xFF) << 24 | (int(number) & 0xFFFFFF)


# --- Observables -------------------------------------------------------------------------------
# (STIX object path, observable type) of each pattern the portal writes and reads.
PATTERN_PATHS = {
    ObservableType.IPV4: ("ipv4-addr", "value"),
    ObservableType.IPV6: ("ipv6-addr", "value"),
    ObservableType.DOMAIN: ("domain-name", "value"),
    ObservableType.URL: ("url", "value"),
    ObservableType.EMAIL: ("email-addr", "value"),
    ObservableType.MD5: ("file", "hashes.MD5"),
    ObservableType.SHA1: ("file", "hashes.'SHA-1'"),
    ObservableType.SHA256: ("file", "hashes.'SHA-256'"),
}


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(kind: str, value: str) -> str:
    object_type, path = PATTERN_PATHS[ObservableType(kind)]
    return f"[{object_type}:{path} = {_quoted(value)}]"


def observable_object(observable) -> stix2.v21._STIXBase21:
    """The indicator (or, for a CVE, the vulnerability) of an Observable row, with its incident
    and the incident's owner CERT loaded."""
    incident = observable.incident
    common = {
        "created_by_ref": identity_id(incident.owner_cert.slug),
        "created": stix_time(observable.created_at), "modified": stix_time(observable.created_at),
        "object_marking_refs": [TLP2_IDS[Tlp(incident.tlp)]],
        "external_references": [{"source_name": "cert-portal", "external_id": incident.reference}],
    }
    row_id = row_uuid("observable", observable.pk)
    if observable.type == ObservableType.CVE:
        return stix2.v21.Vulnerability(
            id=f"vulnerability--{row_id}", name=observable.value,
            description=f"Named in incident {incident.reference}.",
            external_references=[{"source_name": "cve", "external_id": observable.value},
                                 *common.pop("external_references")], **common)
    label = ObservableType(observable.type).label
    return stix2.v21.Indicator(
        id=f"indicator--{row_id}", name=f"{label} {observable.value}",
        description=f"{label} seen in incident {incident.reference}.",
        pattern=pattern_for(observable.type, observable.value), pattern_type="stix",
        pattern_version="2.1", valid_from=stix_time(observable.created_at), **common)


# --- Advisories --------------------------------------------------------------------------------
def advisory_objects(advisory) -> list[stix2.v21._STIXBase21]:
    """The report of an advisory's current published revision and a vulnerability per CVE, with
    `author_cert` and `current_revision` loaded."""
    revision = advisory.current_revision
    when = stix_time(revision.published_at or advisory.last_published_at)
    common = {"created_by_ref": identity_id(advisory.author_cert.slug), "created": when,
              "modified": when, "object_marking_refs": [TLP2_IDS[Tlp(advisory.tlp)]]}
    vulnerabilities = [
        stix2.v21.Vulnerability(
            id=f"vulnerability--{row_uuid('advisory-cve', advisory.pk, cve_number(cve))}",
            name=cve, external_references=[
                {"source_name": "cve", "external_id": cve},
                {"source_name": "cert-portal", "external_id": advisory.reference}], **common)
        for cve in revision.cve_ids or []]
    reference = {"source_name": "cert-portal", "external_id": advisory.reference,
                 "url": f"{settings.PORTAL_BASE_URL}{advisory.get_absolute_url()}"}
    report = stix2.v21.Report(
        id=f"report--{row_uuid('advisory', advisory.pk)}", name=revision.title,
        description=revision.summary, published=when,
        report_types=["vulnerability"] if vulnerabilities else ["threat-report"],
        object_refs=[v.id for v in vulnerabilities] or [common["created_by_ref"]],
        external_references=[reference], **common)
    return [report, *vulnerabilities]


@dataclass(frozen=True)
class Entry:
    """One STIX object of a collection, where it sits in the collection's order, and its JSON."""

    added: datetime
    rank: int
    pk: int
    sub: int
    obj: dict

    @property
    def key(self) -> tuple:
        return (self.added, self.rank, self.pk, self.sub)


def as_dict(stix_object) -> dict:
    return json.loads(stix_object.serialize())
