"""One CSAF 2.0 document from a published (or withdrawn) advisory (issue 10, DOMAIN.md §5).

`build_document` is pure: it takes the advisory (with its author CERT and current revision) and
its published revisions and returns the document as a dict; `document_bytes` fetches the
revisions and serialises. The document is rendered on every request instead of being stored:
published revisions never change (AdvisoryRevision.save refuses), so the same advisory gives the
same bytes (as long as its CERT's registry entry and the portal's address stay as they are), and
the hash files (advisories.csaf.directory) always match what is served.

Choices where the portal's model and CSAF 2.0 do not meet one to one, each said where it is made:
- csaf_security_advisory needs vulnerabilities AND affected products (profile tests 6.1.27.4,
  6.1.27.6 and 6.1.27.11): an advisory that names CVEs but no product is an informational
  advisory whose CVE IDs are listed in a note.
- CSAF 2.0 knows TLP 1.0 labels only (TLP_V1 below); the TLP 2.0 label and its sharing rule are
  written in distribution.text.
- CVSS v4.0 has no place in CSAF 2.0 (scores know CVSS v2.0 and v3.x): it goes into a note.
- Indicators (observables drawn from an incident) go into a note, see `_indicator_note`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from importlib import metadata

from cvss import CVSS3
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from advisories.csaf.cwe import CWE_NAMES
from advisories.models import Advisory, AdvisoryRevision, AdvisorySeverity, RevisionState
from incidents.tlp import Tlp, strictness
from organizations.models import Cert

CSAF_VERSION = "2.0"
FIRST_TLP_URL = "https://www.first.org/tlp/"

# TLP 2.0 label -> the TLP 1.0 label CSAF 2.0 writes. AMBER+STRICT has no TLP 1.0 counterpart:
# RED is the nearest label that is not less strict (DOMAIN.md §5), and distribution.text says so.
TLP_V1: dict[str, str] = {
    Tlp.CLEAR: "WHITE",
    Tlp.GREEN: "GREEN",
    Tlp.AMBER: "AMBER",
    Tlp.AMBER_STRICT: "RED",
    Tlp.RED: "RED",
}

# FIRST's TLP 2.0 sharing rules, in one line each (shared/standards/tlp.json).
SHARING_RULES: dict[str, str] = {
    Tlp.CLEAR: "Recipients can spread this to the world, there is no limit on disclosure.",
    Tlp.GREEN: "Limited disclosure, recipients can spread this within their community, but not "
               "via publicly accessible channels.",
    Tlp.AMBER: "Limited disclosure, recipients can only spread this on a need-to-know basis within "
               "their organization and its clients.",
    Tlp.AMBER_STRICT: "Limited disclosure, recipients can only spread this on a need-to-know basis "
                      "within their organization.",
    Tlp.RED: "For the eyes and ears of individual recipients only, no further disclosure.",
}

_NOT_IN_FILE_NAME = re.compile(r"[^+\-a-z0-9]+")
# What makes a version string a range rather than one version: the words and signs of CSAF's
# mandatory test 6.1.31 ("version range in product version") and a few more of the same kind.
_RANGE_SIGNS = ("<", ">", "≤", "≥", "*")
_RANGE_WORDS = frozenset({"after", "all", "before", "earlier", "later", "prior", "versions",
                          "and", "or", "to", "through", "until", "since", "from", "up", "older",
                          "newer", "below", "above", "onwards", "any", "every"})
_WILDCARD_VERSION = re.compile(r"(^|\.)x($|\.)", re.IGNORECASE)


def file_name(tracking_id: str) -> str:
    """The file name of CSAF §5.1: the tracking id lower-cased, every run of characters outside
    [+-a-z0-9] replaced by one "_", and ".json"."""
    return _NOT_IN_FILE_NAME.sub("_", tracking_id.lower()) + ".json"


def csaf_datetime(value: datetime) -> str:
    """A timestamp as CSAF documents, index files and changes.csv write it: UTC, milliseconds."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def document_year(advisory: Advisory) -> int:
    """The folder year of CSAF requirement 11: the year of initial_release_date, which is
    written in UTC."""
    return advisory.first_published_at.astimezone(UTC).year


def absolute_url(path: str) -> str:
    return f"{settings.PORTAL_BASE_URL}{path}"


def publisher(cert: Cert) -> dict:
    """The CSAF publisher for documents of `cert` and for the provider metadata."""
    contact = []
    if cert.email:
        contact.append(f"e-mail {cert.email}")
    if cert.hotline:
        contact.append(f"24/7 hotline {cert.hotline}")
    if cert.website:
        contact.append(f"web {cert.website}")
    entry = {
        "category": "coordinator",
        "name": cert.name,
        # One namespace for every CERT of the portal: tracking ids are unique portal-wide.
        "namespace": settings.PORTAL_BASE_URL,
    }
    if contact:
        entry["contact_details"] = f"{cert.name} can be reached by " + ", ".join(contact) + "."
    with translation.override("en"):  # CSAF documents and the provider metadata are in English
        kind = str(cert.get_kind_display())
    authority = (f"{kind} in Pakistan's national CERT network (Computer Emergency Response Team "
                 "Rules 2023, under PECA 2016).")
    if cert.constituency.strip():
        authority += f" Constituency: {' '.join(cert.constituency.split())}"
    entry["issuing_authority"] = authority
    return entry


def published_history(advisory: Advisory) -> list[AdvisoryRevision]:
    """The published revisions of `advisory`, oldest first (one query)."""
    return list(AdvisoryRevision.objects.filter(advisory=advisory, state=RevisionState.PUBLISHED)
                .order_by("number")
                .only("pk", "advisory_id", "number", "published_at", "change_summary", "withdraws",
                      "tlp"))


def document_bytes(advisory: Advisory, *, url: str) -> bytes:
    """The served bytes of the advisory's CSAF document, whose canonical address is `url`.
    `advisory` comes with author_cert and current_revision (select_related)."""
    history = published_history(advisory)
    # The document is in English ("lang": "en") whatever language the requester chose for the
    # pages: the labels below are translatable, and the bytes must not depend on who asks.
    with translation.override("en"):
        return serialise(build_document(advisory, history, url=url))


def serialise(document: dict) -> bytes:
    """UTF-8 JSON with the keys in alphabetical order, as CSAF's optional test 6.2.13 asks."""
    return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def build_document(advisory: Advisory, history: list[AdvisoryRevision], *, url: str) -> dict:
    """The CSAF 2.0 document of the advisory's current revision; `history` is every published
    revision, oldest first; `url` the document's canonical address (its "self" reference)."""
    revision = advisory.current_revision
    cert = advisory.author_cert
    products, product_ids = product_tree(revision.products)
    # A security advisory states which products each vulnerability affects; without products
    # there is nothing to state it of (see the module docstring).
    security = bool(revision.cve_ids and product_ids)

    document = {
        "category": "csaf_security_advisory" if security else "csaf_informational_advisory",
        "csaf_version": CSAF_VERSION,
        "aggregate_severity": {"text": str(AdvisorySeverity(revision.severity).label)},
        "distribution": {
            "text": distribution_text(advisory.tlp),
            "tlp": {"label": TLP_V1[advisory.tlp], "url": FIRST_TLP_URL},
        },
        "lang": "en",
        "notes": document_notes(advisory, revision, security=security),
        "publisher": publisher(cert),
        "references": document_references(advisory, revision, url=url, cert=cert),
        "title": revision.title,
        "tracking": tracking(advisory, history),
    }
    csaf = {"document": document}
    if products:
        csaf["product_tree"] = {"branches": products}
    if security:
        csaf["vulnerabilities"] = [vulnerability(revision, cve, product_ids)
                                   for cve in revision.cve_ids]
    return csaf


def distribution_text(tlp: str) -> str:
    text = f"{Tlp(tlp).value} (TLP 2.0): {SHARING_RULES[tlp]}"
    if tlp == Tlp.AMBER_STRICT:
        text += (" CSAF 2.0 knows only the TLP 1.0 labels, which have no AMBER+STRICT: this "
                 "document is labelled RED so that no tool treats it as less restricted than it "
                 "is, and the TLP:AMBER+STRICT rule above is the one that applies.")
    elif tlp == Tlp.CLEAR:
        text += " CSAF 2.0 writes TLP 1.0 labels, in which TLP:CLEAR is TLP:WHITE."
    return text


def tracking(advisory: Advisory, history: list[AdvisoryRevision]) -> dict:
    entries = []
    current_strictness = strictness(advisory.tlp)
    for revision in history:
        summary = revision.change_summary.strip()
        if strictness(revision.tlp) > current_strictness:
            # Published under a stricter label than the document's: its change summary is not
            # for this document's readers (the revision's own text never is in it either).
            summary = f"Revision {revision.number} (published under a stricter TLP label)"
        elif not summary:
            summary = "Initial release" if revision.number == 1 else f"Revision {revision.number}"
        entries.append({"date": csaf_datetime(revision.published_at),
                        "number": str(revision.number), "summary": summary})
    current = advisory.current_revision
    generator = {"date": csaf_datetime(advisory.last_published_at),
                 "engine": {"name": "CERT portal"}}
    try:
        generator["engine"]["version"] = metadata.version("cert-portal")
    except metadata.PackageNotFoundError:
        pass
    return {
        "current_release_date": csaf_datetime(advisory.last_published_at),
        # Its publication time: the same bytes on every request, so the hash files hold.
        "generator": generator,
        "id": advisory.reference,
        "initial_release_date": csaf_datetime(advisory.first_published_at),
        "revision_history": entries,
        # CSAF 2.0 has no "withdrawn" status (2.1 adds it): a withdrawn advisory stays final,
        # with the withdrawal as its last revision and a note saying why.
        "status": "final",
        "version": str(current.number),
    }


def document_notes(advisory: Advisory, revision: AdvisoryRevision, *, security: bool) -> list[dict]:
    notes = []
    if revision.withdraws:
        reason = revision.change_summary.removeprefix("Withdrawn:").strip()
        withdrawn_at = advisory.withdrawn_at or revision.published_at
        text = f"{advisory.reference} was withdrawn on {withdrawn_at.astimezone(UTC):%Y-%m-%d}"
        notes.append({"category": "general", "title": "Withdrawn",
                      "text": f"{text}: {reason}" if reason else f"{text}."})
    notes.append({"category": "summary", "title": "Summary", "text": revision.summary})
    if revision.body_markdown.strip():
        # The author's Markdown as written: CSAF notes are text, and Markdown reads as text.
        notes.append({"category": "details", "title": "Details", "text": revision.body_markdown})
    if not security:
        # What a security advisory carries in its vulnerabilities, an informational one says here.
        if revision.cve_ids:
            notes.append({"category": "other", "title": "CVE IDs",
                          "text": "This advisory names " + ", ".join(revision.cve_ids) + "."})
        if revision.cvss_v3_vector:
            notes.append({"category": "other", "title": "CVSS v3.1",
                          "text": f"Base score {revision.cvss_v3_score}: {revision.cvss_v3_vector}"})
        if revision.remedies.strip():
            notes.append({"category": "general", "title": "Recommended actions",
                          "text": revision.remedies})
    if revision.cwe_id and not (security and revision.cwe_id in CWE_NAMES):
        notes.append({"category": "other", "title": "CWE",
                      "text": f"{revision.cwe_id}: {revision.cwe_name}"})
    if revision.cvss_v4_vector:
        # CSAF 2.0's scores know CVSS v2.0 and v3.x only (its schema has no cvss_v4), so the
        # CVSS v4.0 vector and score are given as text.
        notes.append({"category": "other", "title": "CVSS v4.0",
                      "text": f"Base score {revision.cvss_v4_score}: {revision.cvss_v4_vector}. "
                              "CSAF 2.0 has no field for CVSS v4.0, hence this note."})
    indicator_note = _indicator_note(revision.indicators)
    if indicator_note:
        notes.append(indicator_note)
    return notes


def _indicator_note(indicators: list[dict]) -> dict | None:
    """Indicators as one note, one "type: value" a line. CSAF 2.0 has no structure for
    observables; leaving them out would drop what readers act on first (block this address,
    look for this hash), and a note carries them under the document's own TLP label. Tools that
    want them structured get them as STIX 2.1 over TAXII (DOMAIN.md §6)."""
    lines = [f"{item['type']}: {item['value']}" for item in indicators or ()
             if item.get("type") and item.get("value")]
    if not lines:
        return None
    return {"category": "other", "title": "Indicators",
            "text": "Indicators of compromise:\n" + "\n".join(lines)}


def document_references(advisory: Advisory, revision: AdvisoryRevision, *, url: str,
                        cert: Cert) -> list[dict]:
    references = [{"category": "self", "summary": f"{advisory.reference} as a CSAF 2.0 document",
                   "url": url}]
    page = html_page(advisory)
    if page:
        references.append({"category": "external", "summary": f"{advisory.reference} on the "
                           f"portal of {cert.short_name or cert.name} (HTML)", "url": page})
    if cert.is_active:
        # The publisher's profile in the spirit of RFC 2350 (contacts, constituency): also the
        # external reference that an informational advisory must have (mandatory test
        # 6.1.27.2), whatever references its author gave.
        references.append({"category": "external",
                           "summary": f"About the publisher: {cert.name}",
                           "url": absolute_url(cert.get_absolute_url())})
    for link in revision.references:
        references.append({"category": "external", "summary": f"Reference: {link}", "url": link})
    return references


def html_page(advisory: Advisory) -> str | None:
    """The advisory's page: the public page for TLP:CLEAR, the staff page otherwise."""
    try:
        if advisory.tlp == Tlp.CLEAR:
            return absolute_url(reverse("advisories:detail", args=[advisory.reference]))
        return absolute_url(advisory.get_absolute_url())
    except NoReverseMatch:  # the page is not part of this installation
        return None


def product_tree(products: list[dict]) -> tuple[list[dict], list[str]]:
    """Branches vendor > product_name > product_version (or product_version_range), and the ids
    of the products at their leaves, in the order the advisory names them.

    A product id is derived from vendor, product and version, so it is the same in every
    revision and every document that names that product. The versions text is one version or
    one range as the author wrote it; it is not split, since "1.0, < 2.0" means nothing else."""
    tree: dict[str, dict[str, list[str]]] = {}
    for item in products:
        versions = tree.setdefault(item["vendor"], {}).setdefault(item["product"], [])
        version = item.get("versions", "").strip()
        if version not in versions:
            versions.append(version)
    branches, ids = [], []
    for vendor, named in tree.items():
        product_branches = []
        for product, versions in named.items():
            # Named with versions and also without (twice in the list), the versions stand for it.
            versions = [version for version in versions if version]
            if not versions:
                pid = product_id(vendor, product, "")
                ids.append(pid)
                product_branches.append({"category": "product_name", "name": product,
                                         "product": {"name": f"{vendor} {product}", "product_id": pid}})
                continue
            leaves = []
            for version in versions:
                pid = product_id(vendor, product, version)
                ids.append(pid)
                category = "product_version_range" if is_version_range(version) else "product_version"
                leaves.append({"category": category, "name": version,
                               "product": {"name": f"{vendor} {product} {version}", "product_id": pid}})
            product_branches.append({"category": "product_name", "name": product, "branches": leaves})
        branches.append({"category": "vendor", "name": vendor, "branches": product_branches})
    return branches, ids


def product_id(vendor: str, product: str, version: str) -> str:
    digest = hashlib.sha256("\x1f".join((vendor, product, version)).encode()).hexdigest()
    return f"CSAFPID-{digest[:16]}"


def is_version_range(version: str) -> bool:
    lowered = version.lower()
    if any(sign in lowered for sign in _RANGE_SIGNS):
        return True
    words = re.split(r"[\s,;()]+", lowered)
    return any(word in _RANGE_WORDS or _WILDCARD_VERSION.search(word) for word in words if word)


def vulnerability(revision: AdvisoryRevision, cve: str, product_ids: list[str]) -> dict:
    """One vulnerability per CVE. The advisory has one CWE, one CVSS v3.1 vector and one text of
    remedies, which apply to each of its CVEs and to every product it names."""
    entry: dict = {"cve": cve}
    if revision.cwe_id in CWE_NAMES:
        # The CWE list's name for the id (mandatory test 6.1.11), whatever the author typed; an
        # id the list does not know is told in a note instead (`document_notes`).
        entry["cwe"] = {"id": revision.cwe_id, "name": CWE_NAMES[revision.cwe_id]}
    entry["notes"] = [{"category": "description", "title": "Summary of the advisory",
                       "text": revision.summary}]
    entry["product_status"] = {"known_affected": list(product_ids)}
    entry["references"] = [{"category": "external", "summary": f"{cve} in the CVE list",
                            "url": f"https://www.cve.org/CVERecord?id={cve}"}]
    if revision.remedies.strip():
        # "mitigation": the portal cannot tell whether the text names an official fix
        # (vendor_fix) or a workaround, so it claims the least: what reduces the exposure.
        entry["remediations"] = [{"category": "mitigation", "details": revision.remedies,
                                  "product_ids": list(product_ids)}]
    if revision.cvss_v3_vector:
        entry["scores"] = [{"products": list(product_ids), "cvss_v3": cvss_v3(revision.cvss_v3_vector)}]
    return entry


def cvss_v3(vector: str) -> dict:
    """The CVSS v3.1 JSON object of `vector`, every score and metric computed from it by the
    library that scored it when it was saved, so that the document passes CSAF's mandatory tests
    6.1.9 (scores computed right) and 6.1.10 (metrics consistent with the vector)."""
    return CVSS3(vector).as_json(minimal=True)
