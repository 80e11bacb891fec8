"""The look in a browser (issue 9, items 8 and 9): every dashboard page on a 360-pixel phone in
English and Urdu, without horizontal page scrolling and without an axe-core violation; and the
keyboard help dialog and the shortcuts, pressed for real (tests/dashboard/test_look.py checks the
HTML, the script's key map and the translations)."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from incidents.models import Incident, Source
from tests.browser.test_accessibility import working_day
from tests.factories import make_incident

NARROW_PHONE = {"width": 360, "height": 740}


@pytest.mark.parametrize("language", ["en", "ur"])
def test_every_dashboard_page_fits_a_phone_and_passes_axe(signed_in_page, member, certs, live_server,
                                                          assert_accessible, language):
    lahore, head = member("lahore", "handler"), member("lahore", "head")
    incident = working_day(certs, lahore, member("punjab", "handler"))
    report = Incident.objects.filter(owner_cert=certs["lahore"], source=Source.PUBLIC_FORM).first()
    page = signed_in_page(head, NARROW_PHONE)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language,
                               "url": live_server.url}])
    pages = ["/dashboard/?tab=all", "/dashboard/triage/", f"/dashboard/triage/{report.reference}/",
             "/dashboard/incidents/new/", "/dashboard/registry/", "/dashboard/registry/lahore/",
             "/dashboard/registry/lahore/members/", "/dashboard/registry/health/",
             "/dashboard/notifications/", "/dashboard/settings/", "/account/two-factor/",
             *(f"/dashboard/incidents/{incident.reference}/?tab={tab}" for tab in
               ("timeline", "comments", "observables", "tasks", "related", "owners"))]
    for url in pages:
        response = page.goto(url)
        assert response.status == 200, url
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "ur" else "ltr")
        overflow = page.evaluate("document.documentElement.scrollWidth"
                                 " - document.documentElement.clientWidth")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow} px"
        assert_accessible(page, f"{url} in {language} on a phone")


def test_the_help_dialog_and_the_shortcuts_in_a_browser(signed_in_page, member, certs):
    """The dialog takes the focus, keeps Tab inside, and Escape gives the focus back; no shortcut
    fires while typing in a field or once they are turned off; "a" assigns the queue's selected
    row; an Urdu keyboard layout works by the keys' places."""
    user = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=user, title="Keyboard help")
    page = signed_in_page(user)
    page.goto("/dashboard/?tab=all")
    dialog, selected = page.locator("#shortcut-help"), page.locator("[data-queue-row].is-selected")
    inside = "document.getElementById('shortcut-help').contains(document.activeElement)"

    expect(dialog).to_be_hidden()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.activeElement.getAttribute('role')") == "dialog"
    for key in ["Tab"] * 4 + ["Shift+Tab"] * 4:
        page.keyboard.press(key)
        assert page.evaluate(inside), key
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    toggle = page.get_by_role("button", name="Keyboard shortcuts")
    toggle.click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.hasAttribute('data-help-toggle')")

    page.locator("#staff-search-q").focus()
    page.keyboard.type("j?")
    expect(dialog).to_be_hidden()
    assert page.locator("#staff-search-q").input_value() == "j?"

    page.locator("#staff-search-q").blur()
    toggle.click()
    page.get_by_label("Use these shortcuts").uncheck()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("?")
    expect(dialog).to_be_hidden()
    expect(selected).to_have_count(0)
    toggle.click()
    page.get_by_label("Use these shortcuts").check()
    page.keyboard.press("Escape")

    # An Urdu layout gives "ج" on the "j" key and "؟" on the "?" key.
    page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', "
                  "{key: 'ج', code: 'KeyJ', bubbles: true}))")
    expect(selected).to_contain_text(incident.reference)
    page.evaluate("document.body.dispatchEvent(new KeyboardEvent('keydown', "
                  "{key: '؟', code: 'Slash', shiftKey: true, bubbles: true}))")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")

    page.keyboard.press("a")
    expect(page.locator(".messages")).to_be_visible()
    incident.refresh_from_db()
    assert incident.assignee == user
