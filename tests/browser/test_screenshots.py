"""Screenshots of the queue and the workspace from the demo data (issue 9, "What it must show"),
at a desktop and a phone width, written to var/screenshots/ (ignored by git) on every run.

docs/dashboard-queue.png and docs/dashboard-incident.png, shown in the README, are copies of
var/screenshots/queue-all-desktop.png and incident-desktop.png: copy them again when the pages
change.
"""

from __future__ import annotations

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count
from playwright.sync_api import expect

from incidents.models import Incident
from tests.browser.conftest import DESKTOP, PHONE, screenshot

# The demo member whose day the screenshots show: the provincial CERT's handler has incidents of
# its own, one escalated from Lahore and its districts' incidents under oversight.
DEMO_HANDLER = "punjab.handler"


def load_demo_data() -> None:
    """What `make run` loads: the national structure with demo users, routing rules, incidents."""
    call_command("load_national_structure", "--demo", stdout=StringIO())
    call_command("load_routing_rules", stdout=StringIO())
    call_command("load_demo_incidents", stdout=StringIO())


def test_screenshots_of_the_queue_and_the_workspace(signed_in_page):
    load_demo_data()
    user = get_user_model().objects.get(username=DEMO_HANDLER)
    cert = user.memberships.get().cert
    # The incident with the longest story among those the CERT owns.
    incident = (Incident.objects.filter(owner_cert=cert).annotate(event_count=Count("events"))
                .order_by("-event_count", "pk").first())

    written = []
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = signed_in_page(user, viewport)
        page.goto("/dashboard/")
        expect(page.locator("main")).to_contain_text(cert.short_name)
        written.append(screenshot(page, f"queue-{name}"))
        if name == "desktop":
            # Every tab's rows at once: what the README shows.
            page.goto("/dashboard/?tab=all")
            expect(page.locator("[data-queue-row]").first).to_be_visible()
            written.append(screenshot(page, "queue-all-desktop"))
        page.goto(f"/dashboard/incidents/{incident.reference}/")
        expect(page.locator("main")).to_contain_text(incident.reference)
        written.append(screenshot(page, f"incident-{name}"))
    assert all(path.stat().st_size > 10_000 for path in written)
