"""CSAF 2.0 documents of published advisories (issue 10, point 5): valid against the official
JSON schema offline, and what each field says."""

from __future__ import annotations

import copy
import json
from datetime import UTC

import pytest

from advisories.csaf.document import TLP_V1, file_name, is_version_range, product_id
from tests.csaf_validator.support import (
    CSAF_SCHEMA_ID,
    CWE_79,
    SCHEMAS,
    csaf_advisories,  # noqa: F401  (fixture)
    csaf_documents,  # noqa: F401  (fixture)
    schema_errors,
)
from tests.incidents.shared import shared_standard_path

pytestmark = pytest.mark.django_db


def test_every_document_is_valid_against_the_csaf_schema(csaf_documents):  # noqa: F811
    assert len(csaf_documents) == 8
    for name, document in csaf_documents.items():
        assert schema_errors(CSAF_SCHEMA_ID, document) == [], name


def test_the_schema_check_finds_what_is_wrong(csaf_documents):  # noqa: F811
    """The validator is not a no-op: a TLP 2.0 label, a CVSS v3.1 score that its schema refuses
    (a score out of range, checked through the registered CVSS schema) and a missing tracking id
    are each reported."""
    document = copy.deepcopy(csaf_documents["clear_security"])
    document["document"]["distribution"]["tlp"]["label"] = "CLEAR"
    document["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] = 11
    del document["document"]["tracking"]["id"]
    errors = "\n".join(schema_errors(CSAF_SCHEMA_ID, document))
    assert "/document/distribution/tlp/label: 'CLEAR' is not one of" in errors
    assert "/vulnerabilities/0/scores/0/cvss_v3" in errors
    assert "'id' is a required property" in errors


def test_the_pinned_schemas_are_the_shared_ones():
    for path in sorted(SCHEMAS.glob("*.json")):
        shared = shared_standard_path(f"csaf/{path.name}")
        assert json.loads(path.read_text()) == json.loads(shared.read_text()), path.name


def test_tlp_labels_are_written_as_csaf_2_0_knows_them(csaf_documents, csaf_advisories):  # noqa: F811
    expected = {"clear_security": "WHITE", "clear_informational": "WHITE", "clear_revised": "WHITE",
                "green_products_indicators": "GREEN", "green_withdrawn": "GREEN",
                "amber_cve_without_products": "AMBER", "amber_strict_security": "RED",
                "red_cvss_v4_only": "RED"}
    for name, label in expected.items():
        distribution = csaf_documents[name]["document"]["distribution"]
        assert distribution["tlp"] == {"label": label, "url": "https://www.first.org/tlp/"}, name
        assert distribution["text"].startswith(f"{csaf_advisories[name].tlp} (TLP 2.0): "), name
    strict = csaf_documents["amber_strict_security"]["document"]["distribution"]["text"]
    assert "within their organization." in strict
    assert "labelled RED" in strict and "TLP:AMBER+STRICT rule above is the one that applies" in strict
    assert TLP_V1 == {"TLP:CLEAR": "WHITE", "TLP:GREEN": "GREEN", "TLP:AMBER": "AMBER",
                      "TLP:AMBER+STRICT": "RED", "TLP:RED": "RED"}


def test_a_security_advisory_has_one_vulnerability_per_cve(csaf_documents, settings):  # noqa: F811
    csaf = csaf_documents["clear_security"]
    document = csaf["document"]
    assert document["category"] == "csaf_security_advisory"
    assert document["csaf_version"] == "2.0"
    assert document["lang"] == "en"
    assert document["aggregate_severity"] == {"text": "Critical"}
    assert document["publisher"]["category"] == "coordinator"
    assert document["publisher"]["name"] == "National CERT"
    assert document["publisher"]["namespace"] == settings.PORTAL_BASE_URL
    ids = product_ids_of(csaf["product_tree"]["branches"])
    assert len(ids) == 4
    vulnerabilities = csaf["vulnerabilities"]
    assert [v["cve"] for v in vulnerabilities] == ["CVE-2026-10001", "CVE-2026-10002"]
    for vulnerability in vulnerabilities:
        assert vulnerability["cwe"] == {"id": CWE_79[0], "name": CWE_79[1]}
        assert vulnerability["product_status"] == {"known_affected": ids}
        assert vulnerability["remediations"] == [{
            "category": "mitigation", "product_ids": ids,
            "details": "Update EdgeGate VPN to 7.2.1 or later; until then, disable the web portal."}]
        [score] = vulnerability["scores"]
        assert score["products"] == ids
        assert score["cvss_v3"]["vectorString"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        assert score["cvss_v3"]["baseScore"] == 9.8
        assert score["cvss_v3"]["baseSeverity"] == "CRITICAL"
        assert vulnerability["notes"][0]["category"] == "description"
    notes = {note["title"]: note for note in document["notes"]}
    assert notes["Summary"]["category"] == "summary"
    assert notes["Details"]["text"].startswith("## What happens")
    # CVSS v4.0 cannot be a CSAF 2.0 score: it is a note.
    assert "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" in notes["CVSS v4.0"]["text"]
    assert "Base score 9.3" in notes["CVSS v4.0"]["text"]
    assert not any("cvss_v4" in json.dumps(v) for v in vulnerabilities)
    references = document["references"]
    assert references[0]["category"] == "self"
    name = file_name(document["tracking"]["id"])
    assert references[0]["url"] == f"{settings.PORTAL_BASE_URL}/.well-known/csaf/white/2026/{name}"
    assert {"category": "external", "summary": "Reference: https://vendor.example/psirt/2026-01",
            "url": "https://vendor.example/psirt/2026-01"} in references


def test_the_product_tree_goes_vendor_product_version(csaf_documents):  # noqa: F811
    branches = csaf_documents["clear_security"]["product_tree"]["branches"]
    assert [(b["category"], b["name"]) for b in branches] == [("vendor", "Example Networks"),
                                                              ("vendor", "Other Soft")]
    vpn, manager = branches[0]["branches"]
    assert (vpn["category"], vpn["name"]) == ("product_name", "EdgeGate VPN")
    assert [(b["category"], b["name"]) for b in vpn["branches"]] == [
        ("product_version", "7.2.0"), ("product_version_range", "< 7.1.5")]
    assert vpn["branches"][0]["product"] == {
        "name": "Example Networks EdgeGate VPN 7.2.0",
        "product_id": product_id("Example Networks", "EdgeGate VPN", "7.2.0")}
    # Named without versions: the product_name branch is the product.
    assert manager["product"]["name"] == "Example Networks EdgeGate Manager"
    libexample = branches[1]["branches"][0]["branches"][0]
    assert (libexample["category"], libexample["name"]) == ("product_version_range", "all versions")


def test_product_ids_are_stable_across_revisions(csaf_documents):  # noqa: F811
    revised = csaf_documents["clear_revised"]
    ids = product_ids_of(revised["product_tree"]["branches"])
    assert ids == [product_id("Example Networks", "EdgeGate VPN", "7.2.0"),
                   product_id("Example Networks", "EdgeGate VPN", "7.2.1")]
    # The same product in another advisory has the same id.
    assert ids[0] in product_ids_of(csaf_documents["clear_security"]["product_tree"]["branches"])


def test_version_ranges_are_told_from_versions():
    for text in ("< 7.1.5", "before 2.0", "all versions", "7.x", "1.0 to 1.4", "<= 3", "3.0 and later"):
        assert is_version_range(text), text
    for text in ("7.2.0", "2024.1", "v3 build 1142", "10.0.19045"):
        assert not is_version_range(text), text


def test_a_revised_advisory_tracks_every_published_revision(csaf_documents, csaf_advisories):  # noqa: F811
    advisory = csaf_advisories["clear_revised"]
    revisions = list(advisory.revisions.filter(state="published").order_by("number"))
    tracking = csaf_documents["clear_revised"]["document"]["tracking"]
    assert tracking["id"] == advisory.reference
    assert tracking["status"] == "final"
    assert tracking["version"] == "2"
    assert tracking["revision_history"] == [
        {"date": iso(revisions[0].published_at), "number": "1", "summary": "Initial release"},
        {"date": iso(revisions[1].published_at), "number": "2",
         "summary": "A second CVE; 7.2.1 is affected too."},
    ]
    assert tracking["initial_release_date"] == iso(advisory.first_published_at)
    assert tracking["current_release_date"] == iso(advisory.last_published_at)
    assert tracking["initial_release_date"] < tracking["current_release_date"]
    assert tracking["generator"]["engine"]["name"] == "CERT portal"
    assert [v["cve"] for v in csaf_documents["clear_revised"]["vulnerabilities"]] == [
        "CVE-2026-50001", "CVE-2026-50002"]


def test_a_withdrawn_advisory_says_so_and_why(csaf_documents, csaf_advisories):  # noqa: F811
    document = csaf_documents["green_withdrawn"]["document"]
    history = document["tracking"]["revision_history"]
    assert [entry["number"] for entry in history] == ["1", "2"]
    assert history[1]["summary"] == "Withdrawn: The vendor found 6.0 is not affected."
    assert document["tracking"]["version"] == "2"
    withdrawn = document["notes"][0]
    assert withdrawn["title"] == "Withdrawn"
    assert withdrawn["text"] == (f"{csaf_advisories['green_withdrawn'].reference} was withdrawn on "
                                 "2026-03-10: The vendor found 6.0 is not affected.")
    # Nothing else of the advisory withdrawn advisory is marked withdrawn.
    assert not any(note["title"] == "Withdrawn"
                   for note in csaf_documents["clear_revised"]["document"]["notes"])


def test_informational_advisories_have_no_vulnerabilities(csaf_documents):  # noqa: F811
    for name in ("clear_informational", "green_products_indicators", "amber_cve_without_products"):
        csaf = csaf_documents[name]
        assert csaf["document"]["category"] == "csaf_informational_advisory", name
        assert "vulnerabilities" not in csaf, name
        # The profile asks for an external reference: at least the publisher's profile.
        assert any(ref["category"] == "external" for ref in csaf["document"]["references"]), name
    assert "product_tree" not in csaf_documents["clear_informational"]
    # CVEs without products: the CVE IDs and the CVSS vector are told in notes.
    notes = {n["title"]: n["text"] for n in csaf_documents["amber_cve_without_products"]["document"]["notes"]}
    assert notes["CVE IDs"] == "This advisory names CVE-2026-20001."
    assert notes["CVSS v3.1"] == "Base score 9.8: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def test_indicators_are_a_note(csaf_documents):  # noqa: F811
    notes = {n["title"]: n for n in csaf_documents["green_products_indicators"]["document"]["notes"]}
    assert notes["Indicators"]["category"] == "other"
    assert notes["Indicators"]["text"] == ("Indicators of compromise:\ndomain: login-examplebank.example\n"
                                           "ipv4: 203.0.113.7")
    assert "Indicators" not in {n["title"] for n in csaf_documents["clear_security"]["document"]["notes"]}


def test_cwe_names_are_the_cwe_lists(csaf_documents):  # noqa: F811
    """CSAF wants the CWE list's name of the id: the author's shorthand is replaced by it, and an
    id the list does not know becomes a note."""
    [vulnerability] = csaf_documents["amber_strict_security"]["vulnerabilities"]
    assert vulnerability["cwe"] == {"id": "CWE-78", "name": "Improper Neutralization of Special "
                                    "Elements used in an OS Command ('OS Command Injection')"}
    assert "CWE" not in {n["title"] for n in csaf_documents["amber_strict_security"]["document"]["notes"]}
    red = csaf_documents["red_cvss_v4_only"]
    assert "cwe" not in red["vulnerabilities"][0]
    notes = {n["title"]: n["text"] for n in red["document"]["notes"]}
    assert notes["CWE"] == "CWE-999999: A weakness the CWE list does not have"


def test_a_cvss_v4_only_advisory_has_no_score_but_a_note(csaf_documents):  # noqa: F811
    csaf = csaf_documents["red_cvss_v4_only"]
    assert csaf["document"]["category"] == "csaf_security_advisory"
    assert "scores" not in csaf["vulnerabilities"][0]
    assert "CVSS v4.0" in {n["title"] for n in csaf["document"]["notes"]}


def test_file_names_follow_csaf_5_1():
    # The examples of CSAF 2.0 §5.1.
    assert file_name("cisco-sa-20190513-secureboot") == "cisco-sa-20190513-secureboot.json"
    assert file_name("Example Company - 2019-YH3234") == "example_company_-_2019-yh3234.json"
    assert file_name("RHBA-2019:0024") == "rhba-2019_0024.json"
    assert file_name("2022_#01-A") == "2022_01-a.json"
    assert file_name("PK-ADV-2026-0042") == "pk-adv-2026-0042.json"


def product_ids_of(branches) -> list[str]:
    ids = []
    for branch in branches:
        if "product" in branch:
            ids.append(branch["product"]["product_id"])
        else:
            ids.extend(product_ids_of(branch["branches"]))
    return ids


def iso(value) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_revision_published_under_a_stricter_label_keeps_its_change_summary_out(
        make_advisory, member, certs):
    """An AMBER advisory made CLEAR by its second revision: the public document lists revision 1
    (CSAF needs every version) without the change summary written for the AMBER audience."""
    from advisories.csaf.document import build_document, published_history
    from advisories.models import Advisory
    from advisories.services import (
        advisory_approve,
        advisory_edit,
        advisory_revise,
        advisory_submit,
        content_of,
    )

    handler, head = member("national", "handler"), member("national", "head")
    advisory = make_advisory(tlp="TLP:AMBER", audience_ids=[certs["banking"].pk],
                             change_summary="Shared with the banks' SOCs only, before the patch")
    advisory_revise(actor=handler, advisory=advisory)
    changed = content_of(Advisory.objects.get(pk=advisory.pk).revisions.get(state="draft"))
    changed.tlp, changed.audience_ids, changed.change_summary = "TLP:CLEAR", [], "Patch released"
    advisory_edit(actor=handler, advisory=Advisory.objects.get(pk=advisory.pk), content=changed)
    advisory_submit(actor=handler, advisory=Advisory.objects.get(pk=advisory.pk))
    advisory_approve(actor=head, advisory=Advisory.objects.get(pk=advisory.pk))
    advisory = Advisory.objects.select_related("author_cert", "current_revision").get(pk=advisory.pk)

    document = build_document(advisory, published_history(advisory), url="https://x.example/d.json")

    history = document["document"]["tracking"]["revision_history"]
    assert [entry["summary"] for entry in history] == [
        "Revision 1 (published under a stricter TLP label)", "Patch released"]
    assert "banks' SOCs" not in json.dumps(document)
    assert document["document"]["distribution"]["tlp"]["label"] == "WHITE"
