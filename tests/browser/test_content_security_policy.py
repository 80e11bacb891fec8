"""Pages that used to need inline script or style, opened in Chromium under the portal's
Content-Security-Policy (issue 13, item 2): Swagger UI at /api/docs/, the Django admin (its list of
the audit trail), a printable monthly report and the sign-in lock-out page.
conftest's `new_page` fails a test whose pages log a CSP violation; each test also checks that
what the policy would have broken works."""

from __future__ import annotations

import datetime
import re

from playwright.sync_api import expect

from incidents.statistics import reports
from tests.browser.conftest import fill_password_step
from tests.factories import UserFactory


def test_swagger_ui_runs_under_the_policy(signed_in_page, member):
    page = signed_in_page(member("banking", "handler"))

    # Swagger UI's bundle is large and the schema is made on request: more than the usual wait.
    response = page.goto("/api/docs/", timeout=60_000)

    assert response.status == 200
    assert "unsafe" not in response.headers["content-security-policy"]
    # Drawn by the start-up script from ?script=: the schema was fetched and rendered.
    expect(page.locator("#swagger-ui").get_by_role("heading", level=1)).to_contain_text(
        "National CERT portal API", timeout=30_000)
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible(timeout=30_000)


def test_the_admin_list_of_the_audit_trail_runs_under_the_policy(signed_in_page, db):
    admin = UserFactory(username="platform.admin", is_staff=True, is_superuser=True)
    page = signed_in_page(admin)

    response = page.goto("/admin/audit/auditevent/")

    assert response.status == 200
    expect(page.locator("#changelist")).to_be_visible()
    # Django writes an inline <style> into a change list only when a ModelAdmin turns
    # actions_on_top and actions_on_bottom off, which none of ours does.
    assert page.locator("style, [style]").count() == 0


def test_a_printable_monthly_report_loads_its_stylesheet(signed_in_page, certs, member):
    report = reports.build_monthly_report(cert=certs["punjab"], month=datetime.date(2026, 3, 1))
    page = signed_in_page(member("punjab", "analyst"))

    response = page.goto(f"/dashboard/reports/{report.public_id}/")

    assert response.status == 200
    sheets = page.evaluate("[...document.styleSheets].map(sheet => sheet.href || 'inline')")
    assert sheets and all(re.search(r"/static/css/\w+\.css$", sheet) for sheet in sheets), sheets


def test_the_lock_out_page_shows_under_the_policy(page, member, settings):
    handler = member("lahore", "handler")
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        fill_password_step(page, handler.get_username(), "not the password at all")

    expect(page.locator("main")).to_contain_text(re.compile("try again", re.I))
    assert page.locator("style, [style]").count() == 0
