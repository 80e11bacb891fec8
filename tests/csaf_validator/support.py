"""CSAF test support: the schemas, registered offline, and a set of advisories whose documents
cover every TLP label and every shape a CSAF document of the portal takes (issue 10).

The schemas in tests/csaf_validator/schemas/ are pinned copies of ../shared/standards/csaf/
(test_csaf_documents.py compares them when that folder exists): OASIS's CSAF 2.0 and provider
schemas and FIRST's CVSS v2.0, v3.0 and v3.1 schemas, which the CSAF schema refers to by their
https:// ids. `referencing.Registry` maps those ids to the files, so nothing is fetched.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from advisories.csaf.directory import document_url
from advisories.csaf.document import document_bytes
from advisories.models import Advisory
from advisories.services import (
    advisory_approve,
    advisory_edit,
    advisory_revise,
    advisory_submit,
    advisory_withdraw,
)
from tests.advisories.support import VALID_CVSS_V3, VALID_CVSS_V4, content

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
VALIDATE_SCRIPT = HERE / "validate.mjs"
VALIDATOR_LIB = HERE / "node_modules" / "@secvisogram" / "csaf-validator-lib"

CSAF_SCHEMA_ID = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"
PROVIDER_SCHEMA_ID = "https://docs.oasis-open.org/csaf/csaf/v2.0/provider_json_schema.json"
# The address each schema is referred to by, its file, and the JSON Schema draft it is written in.
SCHEMA_FILES = {
    CSAF_SCHEMA_ID: ("csaf_json_schema.json", None),
    PROVIDER_SCHEMA_ID: ("provider_json_schema.json", None),
    "https://www.first.org/cvss/cvss-v2.0.json": ("cvss-v2.0.json", DRAFT4),
    "https://www.first.org/cvss/cvss-v3.0.json": ("cvss-v3.0.json", DRAFT4),
    "https://www.first.org/cvss/cvss-v3.1.json": ("cvss-v3.1.json", DRAFT7),
}
CWE_79 = ("CWE-79", "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')")


def load_schema(file: str) -> dict:
    return json.loads((SCHEMAS / file).read_text(encoding="utf-8"))


@cache
def registry() -> Registry:
    resources = []
    for uri, (file, draft) in SCHEMA_FILES.items():
        contents = load_schema(file)
        resource = (Resource.from_contents(contents) if draft is None
                    else draft.create_resource(contents))
        resources.append((uri, resource))
    return Registry().with_resources(resources)


def validator(schema_id: str) -> Draft202012Validator:
    """A Draft 2020-12 validator of the schema with this id, every $ref resolved offline."""
    file, _ = SCHEMA_FILES[schema_id]
    return Draft202012Validator(load_schema(file), registry=registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(schema_id: str, instance: dict) -> list[str]:
    """Every schema error as "<path>: <message>", [] for a valid instance."""
    return [f"/{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
            for error in validator(schema_id).iter_errors(instance)]


def served_document(advisory: Advisory) -> bytes:
    """The bytes the provider serves for `advisory` (what a CSAF consumer downloads)."""
    advisory = Advisory.objects.select_related("author_cert", "current_revision").get(pk=advisory.pk)
    return document_bytes(advisory, url=document_url(advisory))


@pytest.fixture
def csaf_advisories(make_advisory, member, certs, clock) -> dict[str, Advisory]:
    """Published advisories of every TLP label, one of each shape a CSAF document takes, each
    published a minute after the previous one: {name: advisory}."""
    made = {}

    def publish(name, **fields):
        made[name] = make_advisory(**fields)
        clock.advance(minutes=1)

    banking = [certs["banking"].pk]
    named_reader = member("punjab", "analyst")
    publish("clear_security", tlp="TLP:CLEAR", severity=4, cve_ids=["CVE-2026-10001", "CVE-2026-10002"],
            cvss_v3_vector=VALID_CVSS_V3, cvss_v4_vector=VALID_CVSS_V4, cwe_id=CWE_79[0], cwe_name=CWE_79[1],
            products=[{"vendor": "Example Networks", "product": "EdgeGate VPN", "versions": "7.2.0"},
                      {"vendor": "Example Networks", "product": "EdgeGate VPN", "versions": "< 7.1.5"},
                      {"vendor": "Example Networks", "product": "EdgeGate Manager", "versions": ""},
                      {"vendor": "Other Soft", "product": "libexample", "versions": "all versions"}],
            remedies="Update EdgeGate VPN to 7.2.1 or later; until then, disable the web portal.",
            references=["https://vendor.example/psirt/2026-01"])
    publish("clear_informational", tlp="TLP:CLEAR", severity=0,
            title="Holiday season scams: what to tell your staff",
            summary="Fraudsters send fake parcel and bonus messages before Eid.")
    publish("green_products_indicators", tlp="TLP:GREEN", severity=2,
            products=[{"vendor": "Example Bank Software", "product": "Teller", "versions": "3.x"}],
            indicators=[{"type": "domain", "value": "login-examplebank.example"},
                        {"type": "ipv4", "value": "203.0.113.7"}])
    publish("amber_cve_without_products", tlp="TLP:AMBER", audience_ids=banking, severity=3,
            cve_ids=["CVE-2026-20001"], cvss_v3_vector=VALID_CVSS_V3)
    publish("amber_strict_security", tlp="TLP:AMBER+STRICT", audience_ids=banking, severity=3,
            cve_ids=["CVE-2026-30001"], products=[{"vendor": "Core Switch Co", "product": "CS-9000",
                                                  "versions": "4.1"}], remedies="Apply hotfix 4.1.2.",
            # The author's own words for the CWE's name, which CSAF's test 6.1.11 would refuse.
            cwe_id="CWE-78", cwe_name="OS command injection")
    publish("red_cvss_v4_only", tlp="TLP:RED", reader_ids=[named_reader.pk], severity=4,
            cve_ids=["CVE-2026-40001"], cvss_v4_vector=VALID_CVSS_V4,
            cwe_id="CWE-999999", cwe_name="A weakness the CWE list does not have",
            products=[{"vendor": "Payments Inc", "product": "Switch", "versions": "2.0"}])

    revised = make_advisory(tlp="TLP:CLEAR", cve_ids=["CVE-2026-50001"], cvss_v3_vector=VALID_CVSS_V3,
                            products=[{"vendor": "Example Networks", "product": "EdgeGate VPN",
                                       "versions": "7.2.0"}])
    clock.advance(minutes=1)
    author, head = member("national", "handler"), member("national", "head")
    advisory_revise(actor=author, advisory=revised)
    advisory_edit(actor=author, advisory=revised, content=content(
        tlp="TLP:CLEAR", cve_ids=["CVE-2026-50001", "CVE-2026-50002"], cvss_v3_vector=VALID_CVSS_V3,
        products=[{"vendor": "Example Networks", "product": "EdgeGate VPN", "versions": "7.2.0"},
                  {"vendor": "Example Networks", "product": "EdgeGate VPN", "versions": "7.2.1"}],
        change_summary="A second CVE; 7.2.1 is affected too."))
    advisory_submit(actor=author, advisory=revised)
    advisory_approve(actor=head, advisory=revised)
    revised.refresh_from_db()
    made["clear_revised"] = revised
    clock.advance(minutes=1)

    withdrawn = make_advisory(tlp="TLP:GREEN", cve_ids=["CVE-2026-60001"],
                              products=[{"vendor": "Example Networks", "product": "EdgeGate VPN",
                                         "versions": "6.0"}])
    clock.advance(minutes=1)
    advisory_withdraw(actor=head, advisory=withdrawn, reason="The vendor found 6.0 is not affected.")
    withdrawn.refresh_from_db()
    made["green_withdrawn"] = withdrawn
    clock.advance(minutes=1)
    return made


@pytest.fixture
def csaf_documents(csaf_advisories) -> dict[str, dict]:
    """The CSAF document of each of `csaf_advisories`, as served, parsed."""
    return {name: json.loads(served_document(advisory)) for name, advisory in csaf_advisories.items()}
