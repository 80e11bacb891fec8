"""The staff dashboard's journeys in a real browser (issue 9, "What it must show"): two-factor
enrolment and sign-in, a report handed up the tree from a local CERT to its provincial CERT, and the
queue and workspace worked with the keyboard alone.

Pages are found as a person finds them: by role, label and visible text. The database is checked
after each step that should have changed it.
"""

from __future__ import annotations

import re
import uuid

from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from incidents.models import Comment, EventKind, Incident, RoutingRule, Status, TimelineEvent
from tests.browser.conftest import (
    PASSWORD,
    base32_key,
    button_or_link,
    fill_code_step,
    fill_password_step,
    sign_in,
    totp_code,
    totp_device,
)
from tests.factories import make_incident
from tests.twofactor import next_totp_code, wrong_code

# A base32 secret as the enrolment page shows it for manual entry: groups of four characters.
SECRET = re.compile(r"(?:[A-Z2-7]{4} ){3,}[A-Z2-7]{1,4}")


def public_report(certs, *, title: str) -> Incident:
    """A report from the public form, routed to the Lahore CERT by a routing rule an administrator
    wrote, as submit_report routes every report."""
    from incidents.public.reports import submit_report

    RoutingRule.objects.get_or_create(name="Lahore district", priority=1, region="PK-PB",
                                      target_cert=certs["lahore"])
    submission = submit_report(
        submission_key=uuid.uuid4().hex, category="phishing", title=title,
        description="An SMS asked for my bank PIN at hxxp://pin-check[.]example/verify.",
        region="PK-PB")
    assert submission.incident.owner_cert == certs["lahore"]
    return submission.incident


def test_enrol_an_authenticator_then_sign_in_again_with_a_code(page, member):
    user = member("lahore", "handler")
    assert not TOTPDevice.objects.filter(user=user).exists()

    fill_password_step(page, user.get_username())
    # Enrolment is mandatory: a QR code drawn on the server, and the secret as text to type in.
    expect(page.get_by_role("img", name=re.compile("QR code")).locator("svg")).to_be_visible()
    secret = SECRET.fullmatch(page.locator("#setup-key").inner_text().strip())
    assert secret, "the enrolment page shows no base32 setup key"
    fill_code_step(page, totp_code(base32_key(secret.group(0))))

    # The ten recovery codes are shown once, then the member goes on to the dashboard.
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed
    shown = {re.sub(r"[\s-]", "", code) for code in page.locator(".code-list code").all_inner_texts()}
    assert shown == set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(shown) == 10
    button_or_link(page, re.compile("saved|continue", re.I)).first.click()
    page.wait_for_url(re.compile(r"/dashboard/"))

    # Sign out, and in again: password, then the authenticator's code (a step not used yet).
    page.get_by_role("button", name=re.compile("sign out", re.I)).click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("sign[ -]in", re.I)).first).to_be_visible()
    page.goto("/dashboard/")
    assert "/login/" in page.url, "the dashboard is open after signing out"
    # The public header's sign-in leads to the dashboard.
    page.goto("/")
    page.get_by_role("link", name=re.compile("sign[ -]in", re.I)).first.click()
    fill_password_step(page, user.get_username(), PASSWORD, open_page=False)
    fill_code_step(page, next_totp_code(device))
    page.wait_for_url(re.compile(r"/dashboard/$"))
    # The header says as whom: the member's CERT and role.
    membership = user.memberships.select_related("cert").get()
    header = page.locator("header")
    expect(header).to_contain_text(membership.cert.short_name)
    expect(header).to_contain_text(str(membership.get_role_display()))


def test_a_wrong_code_does_not_sign_in(page, member):
    user = member("lahore", "handler")
    device = totp_device(user)
    fill_password_step(page, user.get_username())
    fill_code_step(page, wrong_code(device))
    expect(page.get_by_text(re.compile("not right", re.I)).first).to_be_visible()
    page.goto("/dashboard/")
    assert "/login/" in page.url


def test_a_report_travels_from_lahore_to_punjab(new_page, member, certs):
    lahore, punjab, sindh = (member("lahore", "handler"), member("punjab", "handler"),
                             member("sindh", "handler"))
    report = public_report(certs, title="Fake bank PIN check by SMS")
    incident = make_incident(owner_cert=certs["lahore"], actor=lahore, severity=3,
                             title="Defacement of a district council website")
    Incident.objects.filter(pk=incident.pk).update(assignee=lahore)

    # Lahore triages the public report: accepting it acknowledges it, and it leaves triage.
    page = new_page()
    sign_in(page, lahore)
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Triage").click()
    expect(page.locator("main")).to_contain_text(report.title)
    page.get_by_role("button", name=f"Accept {report.reference}", exact=True).click()
    expect(page.locator(".messages")).to_contain_text(report.reference)
    expect(page.get_by_role("button", name=f"Accept {report.reference}")).to_have_count(0)
    report.refresh_from_db()
    assert report.status == Status.ACKNOWLEDGED

    # Lahore acknowledges its own incident in the workspace, then escalates it with a reason.
    page.goto(f"/dashboard/incidents/{incident.reference}/")
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(page.locator(".messages")).to_contain_text(f"{incident.reference} is acknowledged")
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED

    escalate = page.locator("details").filter(has=page.locator("summary", has_text="Escalate"))
    escalate.locator("summary").click()
    expect(escalate.get_by_label(re.compile("^Escalate to"))).to_have_value(str(certs["punjab"].pk))
    escalate.get_by_label(re.compile("^Reason")).fill("Needs the provincial CERT: other councils hit too.")
    escalate.get_by_role("button", name="Escalate", exact=True).click()
    # The message says exactly what changed.
    message = page.locator(".messages")
    expect(message).to_contain_text(f"{incident.reference} was escalated from {certs['lahore'].name} "
                                    f"to {certs['punjab'].name}")
    expect(message).to_contain_text("new again")
    expect(message).to_contain_text(f"its assignee {lahore.get_username()} was unassigned")
    expect(message).to_contain_text("your CERT keeps view and comment access")
    incident.refresh_from_db()
    assert (incident.owner_cert, incident.status, incident.assignee) == (certs["punjab"], Status.NEW, None)
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.ESCALATED,
                                        reason__contains="other councils").exists()

    # Punjab finds it under "escalated or referred to us", acknowledges it and comments.
    provincial = new_page()
    sign_in(provincial, punjab)
    provincial.get_by_role("link", name=re.compile("^Escalated or referred to us")).click()
    provincial.get_by_role("link", name=incident.reference, exact=True).click()
    provincial.wait_for_url(re.compile(incident.reference))
    provincial.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(provincial.locator(".messages")).to_contain_text(f"{incident.reference} is acknowledged")
    provincial.get_by_label(re.compile("^Comment")).fill("Punjab CERT has it: calling the other councils.")
    provincial.get_by_role("button", name="Add comment").click()
    expect(provincial.locator(".messages")).to_contain_text("comment was added")
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert Comment.objects.filter(incident=incident, author=punjab,
                                  body__contains="other councils").exists()

    # Lahore still sees it, under "we handed over", read-only: it may comment (DOMAIN.md §2), and
    # take no action.
    page.goto("/dashboard/?tab=handed_over")
    page.get_by_role("link", name=incident.reference, exact=True).click()
    main = page.locator("main")
    expect(main.get_by_role("heading", level=1)).to_have_text(incident.title)
    expect(main).to_contain_text(certs["punjab"].name)
    for action in ("Assign to me", "Acknowledge", "Change status", "Escalate", "Refer"):
        expect(main.get_by_role("button", name=action, exact=True)).to_have_count(0)
        expect(main.locator("summary", has_text=action)).to_have_count(0)
    page.get_by_role("navigation", name="Incident sections").get_by_role(
        "link", name=re.compile("^Comments")).click()
    expect(main).to_contain_text("Punjab CERT has it: calling the other councils.")

    # An unrelated CERT's member: the page does not exist for them, exactly like one that does
    # not exist at all.
    outsider_page = new_page()
    sign_in(outsider_page, sindh)
    response = outsider_page.goto(f"/dashboard/incidents/{incident.reference}/")
    assert response.status == 404
    answer = outsider_page.locator("main").inner_text()
    assert incident.title not in outsider_page.content()
    missing = outsider_page.goto("/dashboard/incidents/PK-INC-2026-999999/")
    assert missing.status == 404
    assert outsider_page.locator("main").inner_text() == answer


def test_keyboard_only_open_the_queue_open_an_incident_assign_to_me(page, member, certs):
    user = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=user, severity=4,
                             title="Ransomware at a district clinic")
    device = totp_device(user)
    keyboard = page.keyboard

    # Sign in: each step's first field has the focus, Enter sends it.
    page.goto("/login/")
    expect(page.get_by_label(re.compile("^User name"))).to_be_focused()
    keyboard.type(user.get_username())
    keyboard.press("Tab")
    keyboard.type(PASSWORD)
    keyboard.press("Enter")
    page.wait_for_url(re.compile("/login/code/"))
    expect(page.get_by_label(re.compile("6-digit code"))).to_be_focused()
    keyboard.type(next_totp_code(device))
    keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dashboard/$"))

    # "/" goes to the search box; the search lands in the queue, "j" selects the first row,
    # "o" opens it, "a" assigns it to me.
    keyboard.press("/")
    keyboard.type("clinic")
    keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dashboard/\?.*q=clinic"))
    expect(page.locator("[data-queue-row]")).to_have_count(1)
    keyboard.press("j")
    expect(page.locator("[data-queue-row].is-selected")).to_contain_text(incident.reference)
    keyboard.press("o")
    page.wait_for_url(re.compile(f"/dashboard/incidents/{incident.reference}/"))
    keyboard.press("a")
    expect(page.locator(".messages")).to_contain_text(f"{incident.reference} is assigned to you")
    incident.refresh_from_db()
    assert incident.assignee == user

    # "g" then "q" goes back to the queue, where "mine" now lists it.
    keyboard.press("g")
    keyboard.press("q")
    page.wait_for_url(re.compile(r"/dashboard/$"))
    expect(page.locator("[data-queue-row]").filter(has_text=incident.reference)).to_have_count(1)
