"""The advisory pages in a real browser (issue 10): the editor's live preview shows the sanitised
body while the author types and runs nothing they typed; the public and staff advisory pages have
no WCAG 2.0/2.1/2.2 A or AA violation that axe-core finds; and the public list in Urdu reads right
to left.

The database is flushed after each test here (the live server's transactional tests), so every
test makes its advisories itself, through advisories.services as the dashboard does.
"""

from __future__ import annotations

import re

from django.utils import translation
from playwright.sync_api import expect

from advisories.models import Advisory, AdvisoryStatus, RevisionState
from advisories.services import advisory_create, advisory_submit
from tests.advisories.support import VALID_CVSS_V3, AdvisoryMaker, content
from tests.browser.conftest import open_disclosures

# What the author types into the body: a heading, bold text and a link to see rendered, and two
# attempts at running script that must come out inert.
BODY = ("## Exploited in the wild\n\n"
        "Attackers run code on **unpatched gateways**.\n\n"
        "<script>window.pwned=1</script>\n\n"
        "[x](javascript:alert(1)) and [the vendor's note](https://example.org/gw)\n")
PREVIEW_URL = "/dashboard/advisories/preview/"


def rich_content(**fields):
    """A TLP:CLEAR content with every part a page can show: CVSS, CVE, CWE, products, remedies,
    references."""
    values = dict(cvss_v3_vector=VALID_CVSS_V3, cve_ids=["CVE-2026-12345"], cwe_id="CWE-78",
                  cwe_name="OS Command Injection",
                  products=[{"vendor": "Example Networks", "product": "Gateway OS",
                             "versions": "before 7.2.4"}],
                  remedies="Install Gateway OS 7.2.4, then rotate the admin passwords.",
                  references=["https://example.org/advisories/gw-2026-01"])
    values.update(fields)
    return values


def test_the_editor_previews_as_you_type_runs_nothing_and_saves_a_draft(signed_in_page, member):
    handler = member("national", "handler")
    page = signed_in_page(handler)
    page.goto("/dashboard/advisories/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New advisory")
    preview = page.locator("[data-preview-body]")
    expect(preview).to_be_empty()
    # A page load would forget this; the preview must come without one.
    page.evaluate("window.sameDocument = 'kept'")
    answers = []
    page.on("response", lambda response: answers.append(response)
            if response.url.endswith(PREVIEW_URL) else None)

    page.get_by_label("Body (Markdown)").press_sequentially(BODY)
    page.get_by_label("CVSS v3.1 vector").press_sequentially(VALID_CVSS_V3)

    expect(preview.get_by_role("heading", level=2, name="Exploited in the wild")).to_be_visible()
    expect(preview.locator("strong")).to_have_text("unpatched gateways")
    # The typed HTML and the javascript: link are shown as text, not run; the https link is a link.
    expect(preview).to_contain_text("<script>window.pwned=1</script>")
    expect(preview).to_contain_text("[x](javascript:alert(1))")
    expect(preview.get_by_role("link", name="the vendor's note")).to_have_attribute(
        "href", "https://example.org/gw")
    expect(page.locator("[data-preview-scores]")).to_contain_text("9.8")
    expect(page.locator("[data-preview-status]")).to_contain_text("Updated as you type")
    assert preview.locator("script").count() == 0
    hrefs = preview.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["https://example.org/gw"], hrefs
    assert page.locator("script:not([src])").count() == 0, "an inline script is on the editor"
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.evaluate("window.sameDocument") == "kept", "the preview reloaded the page"
    # It was the live preview: the endpoint answered, and what it answered was already sanitised.
    assert answers, "no request reached the preview endpoint"
    for answer in answers:
        assert answer.request.method == "POST" and answer.status == 200
        html = answer.json()["html"]
        assert "<script" not in html and 'href="javascript:' not in html.lower(), html
    assert not Advisory.objects.exists(), "the preview saved something"

    # The required fields, then save: the draft's own page.
    page.get_by_label(re.compile(r"^Title")).fill("Gateway OS exploited: patch now")
    page.get_by_label(re.compile(r"^Summary")).fill("A command injection in Gateway OS is exploited.")
    page.get_by_label(re.compile(r"^TLP\b")).select_option("TLP:GREEN")
    page.get_by_role("button", name="Save the draft").click()
    page.wait_for_url(re.compile(r"/dashboard/advisories/(?!new/)[^/]+/$"))

    advisory = Advisory.objects.select_related("author_cert").get()
    revision = advisory.revisions.get()
    assert page.url.endswith(advisory.get_absolute_url())
    assert (advisory.status, advisory.author_cert.slug) == (AdvisoryStatus.DRAFT, "national")
    assert (revision.state, revision.author, revision.tlp) == (RevisionState.DRAFT, handler, "TLP:GREEN")
    assert revision.title == "Gateway OS exploited: patch now"
    assert "<script>window.pwned=1</script>" in revision.body_markdown
    assert "<script" not in revision.body_html
    assert 'href="javascript:' not in revision.body_html.lower()
    assert str(revision.cvss_v3_score) == "9.8"
    main = page.locator("main")
    expect(page.locator(".messages")).to_contain_text(f"{advisory.reference} is saved as a draft")
    expect(main.get_by_role("heading", level=1)).to_have_text("Gateway OS exploited: patch now")
    expect(main.locator(".advisory-body strong")).to_have_text("unpatched gateways")
    assert main.locator(".advisory-body script").count() == 0
    assert page.evaluate("typeof window.pwned") == "undefined"


def test_the_public_advisory_pages_are_accessible(new_page, member, certs, assert_accessible):
    page = new_page()
    page.goto("/advisories/")
    expect(page.locator("main .empty")).to_contain_text("No public advisories have been published yet")
    assert_accessible(page, "the public list, empty")

    make = AdvisoryMaker(certs, member)
    advisory = make(**rich_content(title="Gateway OS exploited: patch now"))
    make(title="Phishing with fake tax refunds", severity=1, body_markdown="Do not **click**.")
    make(title="A draft nobody outside may read", published=False)
    page.goto("/advisories/")
    rows = page.locator(".advisory-list li")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Phishing with fake tax refunds")
    assert_accessible(page, "the public list")

    page.get_by_role("link", name="Gateway OS exploited: patch now").click()
    page.wait_for_url(re.compile(rf"/advisories/{advisory.reference}/$"))
    main = page.locator("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("Gateway OS exploited: patch now")
    expect(main).to_contain_text("CVE-2026-12345")
    expect(main).to_contain_text("Gateway OS")
    assert_accessible(page, "a public advisory")


def test_the_staff_advisory_pages_are_accessible(signed_in_page, member, certs, assert_accessible):
    handler, head = member("national", "handler"), member("national", "head")
    make = AdvisoryMaker(certs, member)
    make(**rich_content(title="Gateway OS exploited: patch now"))
    make(title="Ransomware against hospitals", tlp="TLP:AMBER",
         audience_ids=[certs["punjab"].pk, certs["sindh"].pk])
    draft = make(title="Draft: a router backdoor", published=False)
    waiting = advisory_create(actor=handler, cert=certs["national"],
                              content=content(**rich_content(title="In review: a VPN flaw",
                                                             tlp="TLP:GREEN")))
    advisory_submit(actor=handler, advisory=waiting)

    page = signed_in_page(head)
    page.goto("/dashboard/advisories/")
    table = page.locator("table.advisory-table")
    for title in ("Gateway OS exploited", "Ransomware against hospitals", "Draft: a router backdoor",
                  "In review: a VPN flaw"):
        expect(table).to_contain_text(title)
    assert_accessible(page, "the staff list of advisories")

    page.goto("/dashboard/advisories/review/")
    row = page.locator("table.review-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(waiting.reference)
    expect(row).to_contain_text("You may approve it")
    assert_accessible(page, "the review queue")

    page.goto(f"/dashboard/advisories/{waiting.reference}/")
    expect(page.get_by_role("button", name="Approve and publish")).to_be_visible()
    open_disclosures(page)
    assert_accessible(page, "an advisory in review, its actions unfolded")

    page.goto(f"/dashboard/advisories/{draft.reference}/edit/")
    expect(page.get_by_label(re.compile(r"^Title"))).to_have_value("Draft: a router backdoor")
    assert_accessible(page, "the editor of a draft")

    page.goto("/dashboard/advisories/new/")
    assert_accessible(page, "the editor, empty")
    page.get_by_label("Body (Markdown)").fill(BODY)
    expect(page.locator("[data-preview-body] strong")).to_have_text("unpatched gateways")
    assert_accessible(page, "the editor with its live preview")
    # The Preview button (the page's way without script) posts the form and shows it again.
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    expect(page.get_by_label("Body (Markdown)")).to_have_value(BODY)
    expect(page.locator("[data-preview-body] strong")).to_have_text("unpatched gateways")
    assert_accessible(page, "the editor with its server-side preview")
    # Saved without the required fields: the error summary names them.
    page.get_by_role("button", name="Save the draft").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Give the advisory a title.")
    assert Advisory.objects.count() == 4
    assert_accessible(page, "the editor with its errors")


def test_the_public_list_in_urdu_reads_right_to_left(new_page, member, certs, assert_accessible):
    make = AdvisoryMaker(certs, member)
    advisory = make(**rich_content(title="Gateway OS exploited: patch now"))
    page = new_page()
    page.goto("/advisories/")
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "ltr")
    # The language switch in the header, as a reader uses it.
    page.locator(".language-switch").get_by_role("button", name="اردو").click()
    expect(html).to_have_attribute("lang", "ur")
    expect(html).to_have_attribute("dir", "rtl")
    assert page.url.endswith("/advisories/")
    with translation.override("ur"):
        heading = translation.gettext("Security advisories")
    assert heading != "Security advisories", "no Urdu for the list's heading"
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator(".advisory-list")).to_contain_text(advisory.reference)
    assert_accessible(page, "the public list in Urdu")

    page.get_by_role("link", name="Gateway OS exploited: patch now").click()
    page.wait_for_url(re.compile(rf"/advisories/{advisory.reference}/$"))
    expect(html).to_have_attribute("dir", "rtl")
    assert_accessible(page, "a public advisory in Urdu")
