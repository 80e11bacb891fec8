"""What an advisory revision may contain, and the rendering of its Markdown body (issue 10).

`clean_content` checks a revision's fields as a form or the API sent them and returns them in
their stored form, or raises ValidationError with one message per field that says what to fix.
Every writer (dashboard, API, demo loader) goes through it, via advisories.services.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

import nh3
from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt

from advisories.models import AdvisorySeverity
from incidents.text import hidden_character_message, single_line
from incidents.tlp import as_tlp

# ASCII digits only: \d also matches other scripts' digits (Urdu's ۰-۹ among them), which no CVE
# or CWE consumer (CSAF's schema: [0-9]) accepts.
CVE_PATTERN = re.compile(r"CVE-\d{4}-\d{4,19}", re.ASCII)
CWE_PATTERN = re.compile(r"CWE-[1-9]\d{0,5}", re.ASCII)
MAX_CVES = 200
MAX_PRODUCTS = 200
MAX_REFERENCES = 100
MAX_INDICATORS = 1000

# What the sanitiser keeps of the rendered Markdown: text structure, links and code; no images
# (a tracking pixel in an e-mail tells the author who read it), no raw HTML, no attributes that
# run script or style. markdown-it writes ~~struck~~ text as <s>: without it a struck-out step
# ("~~Disable the VPN~~") would reach readers as an instruction.
ALLOWED_TAGS = {"p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre",
                "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
                "del", "s", "sup", "sub"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


@dataclass
class Product:
    vendor: str
    product: str
    versions: str = ""

    def as_dict(self) -> dict:
        return {"vendor": self.vendor, "product": self.product, "versions": self.versions}


@dataclass
class AdvisoryContent:
    """A revision's content as entered, before `clean_content`."""

    title: str = ""
    summary: str = ""
    body_markdown: str = ""
    severity: int = AdvisorySeverity.MEDIUM
    cvss_v3_vector: str = ""
    cvss_v4_vector: str = ""
    cve_ids: list[str] = field(default_factory=list)
    cwe_id: str = ""
    cwe_name: str = ""
    products: list[dict] = field(default_factory=list)
    remedies: str = ""
    references: list[str] = field(default_factory=list)
    indicators: list[dict] = field(default_factory=list)
    sector_ids: list[int] = field(default_factory=list)
    tlp: str = "TLP:AMBER"
    audience_ids: list[int] = field(default_factory=list)
    reader_ids: list[int] = field(default_factory=list)
    change_summary: str = ""


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable(
    "strikethrough")


def render_markdown(text: str) -> str:
    """Render Markdown to HTML that is safe to show anywhere: raw HTML in the source is shown as
    text (markdown-it's html=False), and nh3 drops whatever else could run script (javascript:
    links, event attributes). Links get rel="noopener noreferrer nofollow"."""
    html = _markdown.render(text or "")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def cvss_v3_score(vector: str) -> tuple[str, Decimal]:
    """Return (normalised vector, base score) of a CVSS v3.1 vector; ValidationError otherwise."""
    vector = vector.strip()
    if not vector.startswith("CVSS:3.1/"):
        raise ValidationError("A CVSS v3.1 vector starts with \"CVSS:3.1/\", e.g. "
                              "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H.", code="cvss_v3")
    try:
        parsed = CVSS3(vector)
    except CVSSError as error:
        raise ValidationError(f"This CVSS v3.1 vector is not valid: {error}.", code="cvss_v3") from None
    return parsed.clean_vector(), Decimal(str(parsed.scores()[0]))


def cvss_v4_score(vector: str) -> tuple[str, Decimal]:
    """Return (normalised vector, base score) of a CVSS v4.0 vector; ValidationError otherwise."""
    vector = vector.strip()
    if not vector.startswith("CVSS:4.0/"):
        raise ValidationError("A CVSS v4.0 vector starts with \"CVSS:4.0/\", e.g. CVSS:4.0/AV:N/AC:L/"
                              "AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N.", code="cvss_v4")
    try:
        parsed = CVSS4(vector)
    except CVSSError as error:
        raise ValidationError(f"This CVSS v4.0 vector is not valid: {error}.", code="cvss_v4") from None
    return parsed.clean_vector(), Decimal(str(parsed.base_score))


def _clean_cves(values) -> list[str]:
    if isinstance(values, str):  # "CVE-2026-1234, CVE-2026-5678" from a text field or the API
        values = re.split(r"[\s,;]+", values)
    cleaned, bad = [], []
    for value in values or ():
        value = str(value).strip().upper()
        if not value:
            continue
        if not CVE_PATTERN.fullmatch(value):
            bad.append(value)
        elif value not in cleaned:
            cleaned.append(value)
    if bad:
        raise ValidationError(f"Not a CVE ID: {', '.join(bad[:5])}. Write CVE IDs as CVE-YYYY-NNNN "
                              "(four or more digits), e.g. CVE-2026-12345.", code="cve")
    if len(cleaned) > MAX_CVES:
        raise ValidationError(f"At most {MAX_CVES} CVE IDs per advisory.", code="cve")
    return cleaned


def _clean_products(values) -> list[dict]:
    cleaned = []
    for number, value in enumerate(values or (), start=1):
        if isinstance(value, Product):
            value = value.as_dict()
        if not isinstance(value, dict):
            raise ValidationError(f"Affected product {number}: give a vendor and a product.",
                                  code="product")
        vendor = single_line(str(value.get("vendor") or ""))[:200]
        product = single_line(str(value.get("product") or ""))[:200]
        versions = single_line(str(value.get("versions") or ""))[:200]
        if not vendor or not product:
            raise ValidationError(f"Affected product {number}: both the vendor and the product "
                                  "are needed (versions are optional).", code="product")
        entry = {"vendor": vendor, "product": product, "versions": versions}
        if entry not in cleaned:
            cleaned.append(entry)
    if len(cleaned) > MAX_PRODUCTS:
        raise ValidationError(f"At most {MAX_PRODUCTS} affected products per advisory.", code="product")
    return cleaned


def _clean_references(values) -> list[str]:
    if isinstance(values, str):  # one address per line
        values = values.split()
    cleaned = []
    for value in values or ():
        value = str(value).strip()
        if not value:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2000:
            raise ValidationError(f"{value[:100]!r} is not a web address: references start with "
                                  "https:// (or http://).", code="reference")
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_REFERENCES:
        raise ValidationError(f"At most {MAX_REFERENCES} references per advisory.", code="reference")
    return cleaned


def _clean_ids(values, what: str) -> list[int]:
    """Sorted distinct ids; a value that is no id (an API client's typo) is a message, not a 500."""
    if isinstance(values, str):
        values = re.split(r"[\s,]+", values.strip()) if values.strip() else ()
    try:
        return sorted({int(pk) for pk in values or ()})
    except (TypeError, ValueError):
        raise ValidationError(f"Choose the {what} from the list (ids are whole numbers).",
                              code="ids") from None


def clean_content(content: AdvisoryContent) -> dict:
    """Return the revision's fields in stored form (body_html, scores and sectors included), or
    raise ValidationError({field: [messages]}) naming every field to fix."""
    errors: dict[str, list] = {}
    out: dict = {}

    def check(name: str, function, *args):
        try:
            return function(*args)
        except ValidationError as error:
            errors.setdefault(name, []).extend(error.messages)
            return None

    hidden = hidden_character_message(content.title, field=_("title"))
    title = single_line(content.title or "")
    if hidden:
        errors["title"] = [hidden]
    elif not title:
        errors["title"] = ["Give the advisory a title."]
    elif len(title) > 300:
        errors["title"] = [f"The title has {len(title)} characters; at most 300."]
    out["title"] = title
    summary = (content.summary or "").strip()
    if not summary:
        errors["summary"] = ["Write a summary: one or two sentences that say what and how bad."]
    elif len(summary) > 2000:
        errors["summary"] = [f"The summary has {len(summary)} characters; at most 2000."]
    out["summary"] = summary
    body = content.body_markdown or ""
    if len(body) > 100_000:
        errors["body_markdown"] = [f"The body has {len(body)} characters; at most 100000."]
    out["body_markdown"] = body
    out["body_html"] = render_markdown(body) if len(body) <= 100_000 else ""
    try:
        out["severity"] = AdvisorySeverity(int(content.severity))
    except (TypeError, ValueError):
        labels = ", ".join(str(label) for label in AdvisorySeverity.labels)
        errors["severity"] = [f"Choose a severity: {labels}."]
    out["cvss_v3_vector"], out["cvss_v3_score"] = "", None
    if (content.cvss_v3_vector or "").strip():
        scored = check("cvss_v3_vector", cvss_v3_score, content.cvss_v3_vector)
        if scored:
            out["cvss_v3_vector"], out["cvss_v3_score"] = scored
    out["cvss_v4_vector"], out["cvss_v4_score"] = "", None
    if (content.cvss_v4_vector or "").strip():
        scored = check("cvss_v4_vector", cvss_v4_score, content.cvss_v4_vector)
        if scored:
            out["cvss_v4_vector"], out["cvss_v4_score"] = scored
    out["cve_ids"] = check("cve_ids", _clean_cves, content.cve_ids) or []
    cwe_id = (content.cwe_id or "").strip().upper()
    cwe_name = single_line(content.cwe_name or "")[:200]
    if cwe_id and not CWE_PATTERN.fullmatch(cwe_id):
        errors["cwe_id"] = [f"{cwe_id!r} is not a CWE ID: write CWE- and its number, e.g. CWE-79."]
    elif cwe_id and not cwe_name:
        errors["cwe_name"] = ["Give the CWE's name too, e.g. \"Improper Neutralization of Input "
                              "During Web Page Generation ('Cross-site Scripting')\"."]
    elif cwe_name and not cwe_id:
        errors["cwe_id"] = ["Give the CWE ID the name belongs to, e.g. CWE-79."]
    out["cwe_id"], out["cwe_name"] = cwe_id, cwe_name
    out["products"] = check("products", _clean_products, content.products) or []
    remedies = (content.remedies or "").strip()
    if len(remedies) > 10_000:
        errors["remedies"] = [f"The remedies have {len(remedies)} characters; at most 10000."]
    out["remedies"] = remedies
    out["references"] = check("references", _clean_references, content.references) or []
    indicators = [{"type": str(item["type"]), "value": str(item["value"])}
                  for item in content.indicators or () if isinstance(item, dict)
                  and item.get("type") and item.get("value")]
    if len(indicators) > MAX_INDICATORS:
        errors["indicators"] = [f"At most {MAX_INDICATORS} indicators per advisory."]
    out["indicators"] = indicators
    tlp = check("tlp", as_tlp, content.tlp)
    out["tlp"] = tlp
    out["audience_ids"] = check("audience_ids", _clean_ids, content.audience_ids, "audience CERTs") or []
    out["reader_ids"] = check("reader_ids", _clean_ids, content.reader_ids, "readers") or []
    out["sector_ids"] = check("sector_ids", _clean_ids, content.sector_ids, "sectors") or []
    summary_of_change = single_line(content.change_summary or "")
    if len(summary_of_change) > 500:
        errors["change_summary"] = ["The summary of changes may have at most 500 characters."]
    out["change_summary"] = summary_of_change
    if tlp == "TLP:RED" and not out["reader_ids"]:
        errors.setdefault("reader_ids", []).append(
            "TLP:RED goes to named people only: name at least one reader.")
    if errors:
        raise ValidationError(errors)
    return out
