"""What an advisory may contain (issue 10 points 1 and "bad input"): each bad value is refused
with a message naming the field and saying what to fix, and nothing is stored; the Markdown body
is rendered to HTML that runs no script; CVSS scores, CVE and CWE IDs in their stored form."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError

from advisories.content import AdvisoryContent, clean_content, render_markdown
from advisories.models import Advisory, AdvisoryRevision
from advisories.services import (
    advisory_create,
    advisory_edit,
    advisory_submit,
    check_advisory_create,
)
from incidents.models import ReferenceCounter
from organizations.models import Cert
from organizations.services import cert_update
from tests.advisories.support import VALID_CVSS_V3, VALID_CVSS_V4, content
from tests.factories import make_incident

AUTHOR = "lahore"

# --- bad input, each refused by the service with its field named --------------------------------

# name -> (content fields, the field in the error, a part of its message)
BAD_INPUT = {
    "TLP 1.0's WHITE": ({"tlp": "TLP:WHITE"}, "tlp", "TLP 2.0 calls it TLP:CLEAR"),
    "an unknown colour": ({"tlp": "purple"}, "tlp", "'purple' is not a TLP 2.0 label. Use one of: "
                          "TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED."),
    "a label in lower case": ({"tlp": "tlp:amber"}, "tlp", "Did you mean 'TLP:AMBER'?"),
    "no label": ({"tlp": ""}, "tlp", "is not a TLP 2.0 label"),
    "a CVE with a two-digit year": ({"cve_ids": ["CVE-12-1"]}, "cve_ids", "Not a CVE ID: CVE-12-1."),
    "a CVE with a short number": ({"cve_ids": ["CVE-2026-1234", "cve-2026-12"]}, "cve_ids",
                                  "Not a CVE ID: CVE-2026-12. Write CVE IDs as CVE-YYYY-NNNN"),
    "a CVE in Urdu digits": ({"cve_ids": ["CVE-۲۰۲۶-۱۲۳۴"]}, "cve_ids", "Not a CVE ID"),
    "a CVE without its prefix": ({"cve_ids": ["2026-1234"]}, "cve_ids", "Not a CVE ID: 2026-1234."),
    "CVSS 3.0 in the 3.1 field": ({"cvss_v3_vector": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
                                  "cvss_v3_vector", 'A CVSS v3.1 vector starts with "CVSS:3.1/"'),
    "a v3.1 vector without A": ({"cvss_v3_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H"},
                                "cvss_v3_vector", 'not valid: Missing mandatory metrics "A"'),
    "a v3.1 vector with a bad value": ({"cvss_v3_vector": "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
                                       "cvss_v3_vector", 'Unknown value "X" in field "AV:X"'),
    "a v3.1 vector twice AV": ({"cvss_v3_vector": VALID_CVSS_V3 + "/AV:L"}, "cvss_v3_vector",
                               'Duplicate metric "AV"'),
    "a v4.0 vector in the v3.1 field": ({"cvss_v3_vector": VALID_CVSS_V4}, "cvss_v3_vector",
                                        'starts with "CVSS:3.1/"'),
    "a v4.0 vector without SA": ({"cvss_v4_vector": VALID_CVSS_V4.rsplit("/", 1)[0]},
                                 "cvss_v4_vector", 'Missing mandatory metrics "SA"'),
    "a v4.0 vector with a bad value": ({"cvss_v4_vector": VALID_CVSS_V4.replace("AV:N", "AV:Q")},
                                       "cvss_v4_vector", 'CVSS v4.0 vector is not valid'),
    "a v3.1 vector in the v4.0 field": ({"cvss_v4_vector": VALID_CVSS_V3}, "cvss_v4_vector",
                                        'A CVSS v4.0 vector starts with "CVSS:4.0/"'),
    "a CWE without its name": ({"cwe_id": "CWE-79"}, "cwe_name", "Give the CWE's name too"),
    "a CWE name without its ID": ({"cwe_name": "Cross-site Scripting"}, "cwe_id",
                                  "Give the CWE ID the name belongs to"),
    "a CWE without its prefix": ({"cwe_id": "79", "cwe_name": "XSS"}, "cwe_id",
                                 "'79' is not a CWE ID: write CWE- and its number"),
    "a CWE with a leading zero": ({"cwe_id": "CWE-079", "cwe_name": "XSS"}, "cwe_id", "not a CWE ID"),
    "a javascript: reference": ({"references": ["javascript:alert(1)"]}, "references",
                                "'javascript:alert(1)' is not a web address: references start "
                                "with https://"),
    "an ftp reference": ({"references": ["ftp://ftp.example.com/patch.tar"]}, "references",
                         "is not a web address"),
    "a reference without a scheme": ({"references": ["www.example.com/advisory"]}, "references",
                                     "is not a web address"),
    "an over-long title": ({"title": "A" * 301}, "title", "The title has 301 characters; at most 300."),
    "no title": ({"title": "  \n "}, "title", "Give the advisory a title."),
    "no summary": ({"summary": ""}, "summary", "Write a summary"),
    "an over-long summary": ({"summary": "s" * 2001}, "summary", "at most 2000"),
    "a severity off the scale": ({"severity": 7}, "severity", "Choose a severity: Informational, Low, "
                                 "Medium, High, Critical."),
    "a severity that is no number": ({"severity": "urgent"}, "severity", "Choose a severity"),
    "a product without vendor": ({"products": [{"vendor": "", "product": "EdgeGate"}]}, "products",
                                 "Affected product 1: both the vendor and the product are needed"),
    "a product given as text": ({"products": ["EdgeGate"]}, "products",
                                "Affected product 1: give a vendor and a product."),
    "a product with a null vendor": ({"products": [{"vendor": None, "product": "EdgeGate"}]},
                                     "products", "both the vendor and the product are needed"),
    "a RED advisory without readers": ({"tlp": "TLP:RED"}, "reader_ids",
                                       "TLP:RED goes to named people only: name at least one reader."),
    "an audience id that is no number": ({"tlp": "TLP:AMBER", "audience_ids": ["banking"]},
                                         "audience_ids", "Choose the audience CERTs from the list"),
    "an over-long change summary": ({"change_summary": "c" * 501}, "change_summary",
                                    "at most 500 characters"),
}


@pytest.fixture
def refused(certs, member):
    """refused(**fields) -> the ValidationError of creating an advisory with these fields, after
    checking that nothing was stored (not even a reference number)."""
    handler = member(AUTHOR, "handler")

    def attempt(source_incident=None, **fields) -> ValidationError:
        with pytest.raises(ValidationError) as error:
            advisory_create(actor=handler, cert=certs[AUTHOR], content=content(**fields),
                            source_incident=source_incident)
        assert not Advisory.objects.exists()
        assert not AdvisoryRevision.objects.exists()
        assert not ReferenceCounter.objects.filter(prefix="PK-ADV").exists()
        return error.value

    return attempt


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_refused_naming_the_field(refused, case):
    fields, field, message = BAD_INPUT[case]
    error = refused(**fields)
    assert list(error.message_dict) == [field], error.message_dict
    assert any(message in text for text in error.message_dict[field]), error.message_dict[field]


def test_every_field_to_fix_is_named_at_once(refused):
    error = refused(title="", tlp="TLP:WHITE", cve_ids=["CVE-1-1"], cvss_v3_vector="9.8",
                    references=["javascript:void(0)"])
    assert set(error.message_dict) == {"title", "tlp", "cve_ids", "cvss_v3_vector", "references"}


def test_an_inactive_audience_cert_is_refused(certs, refused):
    cert_update(cert=certs["karachi"], actor=None, is_active=False)
    error = refused(tlp="TLP:AMBER", audience_ids=[certs["karachi"].pk, certs["banking"].pk])
    assert error.message_dict == {
        "audience_ids": ["Choose audience CERTs from the registry's active CERTs."]}


def test_an_unknown_audience_cert_is_refused(refused):
    missing = (Cert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    assert refused(tlp="TLP:AMBER", audience_ids=[missing]).message_dict == {
        "audience_ids": ["Choose audience CERTs from the registry's active CERTs."]}


def test_named_readers_must_be_active_members(refused, outsider, member):
    message = {"reader_ids": ["Named readers must be active members of an active CERT."]}
    assert refused(tlp="TLP:RED", reader_ids=[outsider.pk]).message_dict == message
    former = member("telecom", "analyst")
    former.is_active = False
    former.save(update_fields=["is_active"])
    assert refused(tlp="TLP:RED", reader_ids=[former.pk]).message_dict == message


def test_an_unknown_sector_is_refused(refused):
    assert refused(sector_ids=[987654]).message_dict == {"sector_ids": ["Choose sectors from the list."]}


@pytest.mark.parametrize(("incident_tlp", "advisory_tlp"), [
    ("TLP:AMBER", "TLP:GREEN"), ("TLP:AMBER", "TLP:CLEAR"), ("TLP:RED", "TLP:AMBER+STRICT"),
    ("TLP:GREEN", "TLP:CLEAR")])
def test_an_advisory_is_never_less_strict_than_its_incident(certs, member, refused, incident_tlp,
                                                            advisory_tlp):
    incident = make_incident(owner_cert=certs[AUTHOR], actor=member(AUTHOR, "handler"),
                             tlp=incident_tlp)
    error = refused(source_incident=incident, tlp=advisory_tlp)
    assert error.message_dict == {"tlp": [
        f"This advisory is drawn from {incident.reference}, marked {incident_tlp}: choose that "
        "label or a stricter one."]}


@pytest.mark.parametrize("advisory_tlp", ["TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"])
def test_the_incidents_label_or_a_stricter_one_is_accepted(certs, member, advisory_tlp):
    handler = member(AUTHOR, "handler")
    incident = make_incident(owner_cert=certs[AUTHOR], actor=handler, tlp="TLP:AMBER")
    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], source_incident=incident,
                               content=content(tlp=advisory_tlp, reader_ids=[handler.pk]))
    assert advisory.tlp == advisory_tlp


def test_a_bad_edit_leaves_the_draft_as_it_was(certs, member):
    handler = member(AUTHOR, "handler")
    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content())
    before = list(AdvisoryRevision.objects.filter(advisory=advisory).values())
    with pytest.raises(ValidationError) as error:
        advisory_edit(actor=handler, advisory=advisory, content=content(
            title="Changed", tlp="TLP:WHITE", cve_ids=["CVE-2026-1"]))
    assert set(error.value.message_dict) == {"tlp", "cve_ids"}
    assert list(AdvisoryRevision.objects.filter(advisory=advisory).values()) == before
    assert Advisory.objects.get(pk=advisory.pk).version == advisory.version


def test_the_check_alone_writes_nothing(certs, member, django_assert_max_num_queries):
    # The check of a valid advisory reads (access, registry) and never writes.
    handler = member(AUTHOR, "handler")
    with django_assert_max_num_queries(10) as captured:
        check_advisory_create(actor=handler, cert=certs[AUTHOR], content=content(
            tlp="TLP:AMBER", audience_ids=[certs["banking"].pk]))
    assert all(query["sql"].lstrip().upper().startswith("SELECT")
               for query in captured.captured_queries), captured.captured_queries


# --- what is stored -----------------------------------------------------------------------------

def _clean(**fields) -> dict:
    values = {"title": "t", "summary": "s", "tlp": "TLP:CLEAR", **fields}
    return clean_content(AdvisoryContent(**values))


def test_cve_ids_are_upper_cased_and_kept_once():
    assert _clean(cve_ids=[" cve-2026-1234 ", "CVE-2026-1234", "CVE-2025-1234567", ""])["cve_ids"] == [
        "CVE-2026-1234", "CVE-2025-1234567"]


def test_cve_ids_typed_in_one_field_are_split():
    assert _clean(cve_ids="CVE-2026-1234, cve-2026-5678;CVE-2026-9999\nCVE-2026-1234")["cve_ids"] == [
        "CVE-2026-1234", "CVE-2026-5678", "CVE-2026-9999"]


def test_too_many_cves_are_refused():
    with pytest.raises(ValidationError) as error:
        _clean(cve_ids=[f"CVE-2026-{n:05d}" for n in range(201)])
    assert error.value.message_dict == {"cve_ids": ["At most 200 CVE IDs per advisory."]}


def test_a_cwe_is_stored_upper_cased_with_its_name():
    cleaned = _clean(cwe_id=" cwe-78 ", cwe_name="Improper Neutralization of Special Elements "
                                                   "used in an OS Command ('OS Command Injection')")
    assert cleaned["cwe_id"] == "CWE-78"
    assert cleaned["cwe_name"].endswith("('OS Command Injection')")


def test_references_are_web_addresses_kept_once():
    assert _clean(references=["https://example.com/a", " https://example.com/a ",
                              "http://vendor.example/psirt"])["references"] == [
        "https://example.com/a", "http://vendor.example/psirt"]
    assert _clean(references="https://example.com/a\nhttps://example.com/b")["references"] == [
        "https://example.com/a", "https://example.com/b"]


def test_products_are_kept_once_and_on_one_line():
    cleaned = _clean(products=[{"vendor": "Example\nNetworks", "product": "EdgeGate", "versions": ""},
                               {"vendor": "Example Networks", "product": "EdgeGate"}])
    assert cleaned["products"] == [{"vendor": "Example Networks", "product": "EdgeGate",
                                    "versions": ""}]


def test_audience_and_readers_are_kept_only_where_the_label_uses_them(certs, member):
    from advisories.services import check_content

    reader = member("telecom", "analyst")
    kept = {}
    for tlp in ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"):
        cleaned = check_content(author_cert=certs[AUTHOR], content=content(
            tlp=tlp, audience_ids=[certs["banking"].pk, certs[AUTHOR].pk], reader_ids=[reader.pk]))
        kept[tlp] = (cleaned["audience_ids"], cleaned["reader_ids"])
    banking = [certs["banking"].pk]
    assert kept == {"TLP:CLEAR": ([], []), "TLP:GREEN": ([], []), "TLP:AMBER": (banking, []),
                    "TLP:AMBER+STRICT": (banking, []), "TLP:RED": ([], [reader.pk])}


# --- CVSS ---------------------------------------------------------------------------------------

# Base scores as FIRST's calculators give them.
CVSS_V3 = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "9.8"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "6.1"),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "7.8"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "0.0"),
]
CVSS_V4 = [
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "9.3"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "8.7"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", "0.0"),
]


@pytest.mark.parametrize(("vector", "score"), CVSS_V3)
def test_cvss_v3_scores(vector, score):
    cleaned = _clean(cvss_v3_vector=vector)
    assert (cleaned["cvss_v3_vector"], cleaned["cvss_v3_score"]) == (vector, Decimal(score))


@pytest.mark.parametrize(("vector", "score"), CVSS_V4)
def test_cvss_v4_scores(vector, score):
    cleaned = _clean(cvss_v4_vector=vector)
    assert (cleaned["cvss_v4_vector"], cleaned["cvss_v4_score"]) == (vector, Decimal(score))


def test_vectors_are_stored_in_the_standard_order():
    cleaned = _clean(cvss_v3_vector=" CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H ",
                     cvss_v4_vector="CVSS:4.0/VC:H/AV:N/AC:L/AT:N/PR:N/UI:N/VI:H/VA:H/SC:N/SI:N/SA:N")
    assert cleaned["cvss_v3_vector"] == VALID_CVSS_V3
    assert cleaned["cvss_v4_vector"] == VALID_CVSS_V4
    assert (cleaned["cvss_v3_score"], cleaned["cvss_v4_score"]) == (Decimal("9.8"), Decimal("9.3"))


def test_no_vector_no_score():
    cleaned = _clean(cvss_v3_vector="  ", cvss_v4_vector="")
    assert (cleaned["cvss_v3_vector"], cleaned["cvss_v3_score"]) == ("", None)
    assert (cleaned["cvss_v4_vector"], cleaned["cvss_v4_score"]) == ("", None)


def test_the_scores_are_stored_on_the_revision(certs, member):
    advisory = advisory_create(actor=member(AUTHOR, "handler"), cert=certs[AUTHOR], content=content(
        cvss_v3_vector=CVSS_V3[1][0], cvss_v4_vector=CVSS_V4[1][0]))
    revision = AdvisoryRevision.objects.get(advisory=advisory)
    assert (revision.cvss_v3_score, revision.cvss_v4_score) == (Decimal("6.1"), Decimal("8.7"))


# --- Markdown -----------------------------------------------------------------------------------

class _Elements(HTMLParser):
    """The tags and attributes of an HTML fragment, as a browser's parser sees them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, name, value or "") for name, value in attrs)


HOSTILE = """## Patch now

<script>alert("body")</script>
<img src="x" onerror="alert('img')">
<iframe src="https://evil.example/"></iframe>
<a href="javascript:alert('raw link')">raw link</a>
<div onclick="alert('div')">click</div>
<style>body { display: none }</style>

[markdown link](javascript:alert('md'))
[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
[vbscript](vbscript:msgbox)
<javascript:alert('autolink')>
![tracking pixel](https://tracker.example/pixel.png)
[title trick](https://example.com "x\\" onmouseover=\\"alert('title')")

See [the vendor's note](https://vendor.example/psirt) or write to <cert@example.com>.
"""


def test_markdown_runs_no_script_whatever_the_author_writes():
    html = render_markdown(HOSTILE)
    elements = _Elements(html)
    assert set(elements.tags) <= {"h2", "p", "a", "br"}, elements.tags
    for tag, name, value in elements.attributes:
        assert not name.startswith("on"), (tag, name)
        assert name in {"href", "title", "rel"}, (tag, name)
        if name == "href":
            assert value.startswith(("https://", "mailto:")), value
    hrefs = [value for _, name, value in elements.attributes if name == "href"]
    assert hrefs == ["https://example.com", "https://vendor.example/psirt", "mailto:cert@example.com"]
    # Raw HTML is shown to the reader as the text it is, not dropped in silence.
    assert '&lt;script&gt;alert("body")&lt;/script&gt;' in html


def test_links_open_without_handing_over_the_page():
    html = render_markdown("[vendor](https://vendor.example/psirt)")
    assert html == ('<p><a href="https://vendor.example/psirt" rel="noopener noreferrer nofollow">'
                    "vendor</a></p>\n")


def test_markdown_keeps_the_structure_of_an_advisory():
    html = render_markdown("## Affected\n\n| Product | Fixed in |\n|---|---|\n| EdgeGate | 9.2.1 |\n\n"
                           "1. Patch\n2. ~~Reboot~~ Rotate keys\n\n```\nshow version\n```\n\n"
                           "> Exploited in the wild.")
    tags = _Elements(html).tags
    for tag in ("h2", "table", "thead", "tbody", "tr", "th", "td", "ol", "li", "pre", "code",
                "blockquote"):
        assert tag in tags, tag
    # A struck-out step stays struck out: shown plain, it would read as an instruction.
    assert "<s>Reboot</s> Rotate keys" in html


def test_the_stored_body_is_the_markdown_and_its_sanitised_html(certs, member):
    advisory = advisory_create(actor=member(AUTHOR, "handler"), cert=certs[AUTHOR],
                               content=content(body_markdown=HOSTILE))
    advisory_submit(actor=member(AUTHOR, "handler"), advisory=advisory)
    revision = AdvisoryRevision.objects.get(advisory=advisory)
    assert revision.body_markdown == HOSTILE  # as written, for the next edit
    assert revision.body_html == render_markdown(HOSTILE)
    assert set(_Elements(revision.body_html).tags) == {"h2", "p", "a"}


def test_an_over_long_body_is_refused(refused):
    error = refused(body_markdown="x" * 100_001)
    assert error.message_dict == {"body_markdown": ["The body has 100001 characters; at most 100000."]}
