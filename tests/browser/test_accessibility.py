"""axe-core on the staff dashboard's pages (issue 9, "What it must show"): the sign-in steps, the
queue, the workspace and the triage tab have no WCAG 2.0/2.1/2.2 A or AA violation that axe-core
finds, filled with the data a working day shows (TLP labels, severities, overdue clocks, comments,
observables, a public report waiting)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Incident, RoutingRule
from incidents.services import incident_add_observable, incident_comment, incident_escalate
from tests.browser.conftest import PHONE, fill_password_step, open_disclosures
from tests.factories import make_incident


def working_day(certs, lahore, punjab) -> Incident:
    """A few incidents in Lahore's and Punjab's queues, one of them with a history; returns it."""
    from incidents.public.reports import submit_report

    RoutingRule.objects.get_or_create(name="Lahore district", priority=1, region="PK-PB",
                                      target_cert=certs["lahore"])
    submit_report(submission_key=uuid.uuid4().hex, category="malware",
                  title="My shop's computer shows a ransom note", region="PK-PB",
                  description="All files end in .locked; the note names 198.51.100.23.",
                  reporter_name="A. Reporter", reporter_email="reporter@example.org")
    for tlp, severity in (("TLP:CLEAR", 0), ("TLP:GREEN", 1), ("TLP:AMBER+STRICT", 4),
                          ("TLP:RED", 5)):
        make_incident(owner_cert=certs["lahore"], actor=lahore, tlp=tlp, severity=severity,
                      title=f"Incident marked {tlp}")
    overdue = make_incident(owner_cert=certs["lahore"], actor=lahore, severity=5,
                            title="Overdue: DDoS on the city's payment portal")
    Incident.objects.filter(pk=overdue.pk).update(ack_due_at=timezone.now() - timedelta(hours=3))
    incident = make_incident(owner_cert=certs["lahore"], actor=lahore, severity=3,
                             title="Phishing against district staff",
                             description="Lure from hr-update[.]example sent to 40 staff.")
    incident_comment(incident=incident, actor=lahore, body="Blocked the sender at the gateway.")
    incident_add_observable(incident=incident, actor=lahore, type="ipv4", value="203.0.113.9")
    incident_escalate(incident=incident, actor=lahore, reason="Province-wide campaign.")
    incident.refresh_from_db()
    incident_comment(incident=incident, actor=punjab, body="Punjab CERT is on it.")
    return incident


def test_the_sign_in_steps_are_accessible(page, member, assert_accessible):
    user = member("lahore", "handler")
    page.goto("/login/")
    assert_accessible(page, "the sign-in page")
    # A wrong password: the page with its error summary.
    fill_password_step(page, user.get_username(), "not the password")
    expect(page.locator("main")).to_contain_text(re.compile("password", re.I))
    assert_accessible(page, "the sign-in page with an error")
    # No authenticator yet: the enrolment step with its QR code.
    fill_password_step(page, user.get_username())
    expect(page.locator("svg").first).to_be_visible()
    assert_accessible(page, "the enrolment step")


def test_the_queue_is_accessible(signed_in_page, member, certs, assert_accessible):
    lahore, punjab = member("lahore", "handler"), member("punjab", "handler")
    working_day(certs, lahore, punjab)
    for viewport in (None, PHONE):
        page = signed_in_page(lahore, viewport)
        page.goto("/dashboard/?tab=new")
        expect(page.locator("[data-queue-row]").first).to_be_visible()
        open_disclosures(page)
        assert_accessible(page, f"the queue ({'phone' if viewport else 'desktop'})")
    # The keyboard shortcuts' help, a dialog over the queue.
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    assert_accessible(page, "the queue with the shortcuts' help open")
    page = signed_in_page(punjab)
    page.goto("/dashboard/?tab=received")
    expect(page.locator("[data-queue-row]").first).to_be_visible()
    assert_accessible(page, "Punjab's queue, escalated or referred to us")


def test_the_workspace_is_accessible(signed_in_page, member, certs, assert_accessible):
    lahore, punjab = member("lahore", "handler"), member("punjab", "handler")
    incident = working_day(certs, lahore, punjab)
    page = signed_in_page(punjab)
    page.goto(f"/dashboard/incidents/{incident.reference}/")
    expect(page.locator("main")).to_contain_text(incident.reference)
    open_disclosures(page)
    assert_accessible(page, "the workspace, escalate, refer and share unfolded")
    sections = page.get_by_role("navigation", name="Incident sections")
    for tab in ("Comments", "Observables", "Tasks", "Related incidents"):
        sections.get_by_role("link", name=re.compile(rf"^{tab}")).click()
        expect(sections.get_by_role("link", name=re.compile(rf"^{tab}"))).to_have_attribute(
            "aria-current", "page")
        assert_accessible(page, f"the workspace's {tab} tab")


def test_the_triage_tab_is_accessible(signed_in_page, member, certs, assert_accessible):
    lahore, punjab = member("lahore", "handler"), member("punjab", "handler")
    working_day(certs, lahore, punjab)
    page = signed_in_page(lahore)
    page.goto("/dashboard/triage/")
    expect(page.locator("main")).to_contain_text("ransom note")
    open_disclosures(page)
    assert_accessible(page, "the triage tab")
    # One report's page: reject, merge or route it.
    page.get_by_role("link", name=re.compile("^Reject, merge or route")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ransom note")
    open_disclosures(page)
    assert_accessible(page, "a report's triage page")
