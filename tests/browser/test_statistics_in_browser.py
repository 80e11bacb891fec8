"""The statistics pages in a browser (issue 12): the demo data's figures as the national head sees
them, axe-core on the overview, a drill-down and the reports list, and the overview in Urdu.

docs/statistics-national.png and docs/statistics-chart.png, shown in the README, are copies of
var/screenshots/statistics-national-desktop.png and statistics-chart.png: copy them again when the
pages change.
"""

from __future__ import annotations

import re
from io import StringIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from incidents.statistics.refresh import refresh
from tests.browser.conftest import DESKTOP, SCREENSHOTS, screenshot
from tests.browser.test_screenshots import load_demo_data

DEMO_HEAD = "national.head"


def demo_figures():
    """The demo data with its advisories, the statistics computed, and the national head."""
    load_demo_data()
    call_command("load_demo_advisories", stdout=StringIO())
    refresh()
    return get_user_model().objects.get(username=DEMO_HEAD)


def test_the_national_statistics_with_screenshots_and_axe(signed_in_page, assert_accessible):
    head = demo_figures()
    page = signed_in_page(head, DESKTOP)
    response = page.goto("/dashboard/statistics/")
    assert response.status == 200
    main = page.locator("main")
    expect(page.get_by_role("heading", level=2, name="Totals")).to_be_visible()
    expect(main).to_contain_text("Computed")
    opened = page.locator(".statistics-totals dd").first
    assert int(opened.inner_text()) > 0, "the demo data shows no incident opened in the range"
    chart = page.locator("section[aria-labelledby='owners-heading'] figure.chart-figure svg")
    expect(chart).to_be_visible()
    expect(page.locator("section[aria-labelledby='trend-heading'] figure svg")).to_be_visible()
    written = [screenshot(page, "statistics-national-desktop")]
    chart_path = SCREENSHOTS / "statistics-chart.png"
    page.locator("section[aria-labelledby='owners-heading'] figure.chart-figure").screenshot(path=chart_path)
    written.append(chart_path)
    assert all(path.stat().st_size > 5_000 for path in written)
    assert_accessible(page, "the national statistics")

    # One level down: a child CERT's link in the by-owner table, clicked.
    child = main.locator("section[aria-labelledby='owners-heading'] tbody th a").first
    name = child.inner_text()
    child.click()
    page.wait_for_url(re.compile(r"/dashboard/statistics/[\w-]+/"))
    expect(page.get_by_role("heading", level=2, name="Totals")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    assert_accessible(page, f"the statistics of {name}")

    response = page.goto("/dashboard/reports/")
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("Monthly reports")
    assert_accessible(page, "the monthly reports list")


def test_the_national_statistics_in_urdu(signed_in_page, live_server, assert_accessible):
    head = demo_figures()
    page = signed_in_page(head, DESKTOP)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "ur",
                               "url": live_server.url}])
    response = page.goto("/dashboard/statistics/")
    assert response.status == 200
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ur")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.locator("#totals-heading")).to_be_visible()
    expect(page.locator("#totals-heading")).not_to_have_text("Totals")
    expect(page.locator("section[aria-labelledby='owners-heading'] figure svg")).to_be_visible()
    screenshot(page, "statistics-national-ur")
    assert_accessible(page, "the national statistics in Urdu")
