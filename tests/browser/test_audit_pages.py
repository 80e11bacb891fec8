"""The audit trail's pages in a browser (issue 13, item 1): a head of Punjab's CERT reads its
trail and the outside views of its incident, with filters and a second page, in English and in
Urdu, and axe-core finds no WCAG A/AA violation on either (the help folded open)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from cert_portal.audit.models import AuditKind, Channel
from cert_portal.audit.record import build, record, record_many
from tests.browser.conftest import AXE, AXE_TAGS, describe_violations, open_disclosures


def assert_accessible_under_csp(page, what: str) -> None:
    """axe-core's WCAG A/AA check, as conftest's assert_accessible runs it, but with axe given to
    the page by evaluation: the portal's Content-Security-Policy (issue 13) refuses the inline
    <script> that Playwright's add_script_tag would insert."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, "
        "resultTypes: ['violations']}).then(result => result.violations)", AXE_TAGS)
    assert not violations, (f"axe-core: {len(violations)} WCAG A/AA violation(s) on {what} "
                            f"({page.url}):\n{describe_violations(violations)}")


def trail_of_punjab(certs, member):
    """A head of Punjab, 30 events of Punjab's trail (a second page at 25 a page) and a view of a
    Punjab incident by the national CERT."""
    head = member("punjab", "head")
    punjab = certs["punjab"]
    now = timezone.now()
    record_many(build(AuditKind.INCIDENT_VIEWED, request=None, cert=punjab,
                      actor_label=f"punjab.analyst{n}", channel=Channel.DASHBOARD,
                      object_type="incident", object_id=str(n),
                      object_label=f"PK-INC-2026-{n:06d}", object_cert=punjab,
                      at=now - timedelta(minutes=n)) for n in range(30))
    record(AuditKind.SIGN_IN_FAILED, request=None, cert=punjab, actor_label="<b>mallory</b>",
           channel=Channel.DASHBOARD, detail={"stage": "password", "reason": "wrong_password"})
    record(AuditKind.INCIDENT_VIEWED, request=None, actor=member("national", "head"),
           cert=certs["national"], channel=Channel.DASHBOARD, object_type="incident",
           object_id="1", object_label="PK-INC-2026-000001", object_cert=punjab)
    return head


def test_the_trail_and_outside_views_load_for_a_head_and_pass_axe(
        signed_in_page, certs, member, assert_accessible):
    del assert_accessible  # skips the test, as the other browser tests, when axe-core is missing
    page = signed_in_page(trail_of_punjab(certs, member))
    response = page.goto("/dashboard/audit/")
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("Audit trail")
    expect(page.get_by_role("link", name="Audit trail").first).to_have_attribute(
        "aria-current", "page")
    rows = page.locator("table.audit-table tbody tr")
    expect(rows).to_have_count(25)
    # Rendered as text, not markup.
    expect(page.locator("table.audit-table")).to_contain_text("<b>mallory</b>")
    open_disclosures(page)
    assert_accessible_under_csp(page, "the audit trail")

    page.get_by_role("link", name="Older events").click()
    expect(rows).to_have_count(6)
    page.get_by_label("Who (name contains)").fill("analyst29")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("PK-INC-2026-000029")

    page.get_by_role("link", name="Outside views").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Outside views")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("national.head.test")
    expect(rows.first).to_contain_text("PK-CERT")
    open_disclosures(page)
    assert_accessible_under_csp(page, "the outside views")


def test_the_audit_pages_in_urdu_pass_axe(signed_in_page, live_server, certs, member,
                                          assert_accessible):
    del assert_accessible  # skips the test, as the other browser tests, when axe-core is missing
    page = signed_in_page(trail_of_punjab(certs, member))
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ur",
                               "url": live_server.url}])
    for url, english in (("/dashboard/audit/", "Audit trail"),
                         ("/dashboard/audit/outside/", "Outside views")):
        response = page.goto(url)
        assert response.status == 200
        html = page.locator("html")
        expect(html).to_have_attribute("lang", "ur")
        expect(html).to_have_attribute("dir", "rtl")
        expect(page.get_by_role("heading", level=1)).not_to_contain_text(english)
        expect(page.locator("table.audit-table tbody tr").first).to_be_visible()
        open_disclosures(page)
        assert_accessible_under_csp(page, f"{url} in Urdu")
