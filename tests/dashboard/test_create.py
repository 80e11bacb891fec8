"""A staff-entered incident (issue 9, item 6): the two steps (find indicators, review, create),
validation, the rows created, and who may not open incidents."""

from __future__ import annotations

import re

import pytest

from incidents.models import EventKind, Incident, Observable, OwnershipPeriod, Source, Status
from organizations.models import Sector
from organizations.services import membership_add
from tests.incidents.support import events

NEW = "/dashboard/incidents/new/"
PASTED = ("From: billing@evil-bank[.]example\n"
          "Link: hxxps://evil-bank[.]example/pay?id=7\n"
          "Seen from 198.51.100.7 and 203.0.113.9")


def form_data(certs, **overrides) -> dict:
    data = {"owner_cert": certs["lahore"].pk, "title": "Smishing wave against bank clients",
            "description": "SMS with a payment link.", "incident_type": "phishing",
            "severity": "3", "tlp": "TLP:AMBER", "sector": "", "region": "PK-PB",
            "affected_organization": "Example Bank", "occurred_at": "2026-03-09T22:15",
            "detected_at": "2026-03-10T08:30", "indicators": PASTED,
            "submission_key": "key-one-abcdefghijklmnop"}
    data.update(overrides)
    return data


def checkboxes(page: str) -> dict[str, bool]:
    """The review's observable checkboxes: value -> checked."""
    return {value: checked == " checked" for value, checked in re.findall(
        r'<input type="checkbox" name="observable" value="([^"]+)" id="[^"]+"( checked)?>', page)}


@pytest.fixture
def handler(member):
    return member("lahore", "handler")


def test_the_form_opens_for_the_active_cert(certs, handler, staff_client):
    page = staff_client(handler).get(NEW).content.decode()
    assert re.search(rf'<option value="{certs["lahore"].pk}" selected>Lahore Metropolitan CERT',
                     page)
    assert "Punjab Government CERT" not in page  # only CERTs the member may open incidents for
    assert '<optgroup label="Fraud">' in page and "(required)" in page
    assert 'name="step" value="extract"' in page


def test_find_indicators_lists_them_checked_for_review_and_saves_nothing(
        certs, handler, staff_client):
    response = staff_client(handler).post(NEW, {**form_data(certs, title=""), "step": "extract"})

    assert response.status_code == 200
    page = response.content.decode()
    assert checkboxes(page) == {
        "email|billing@evil-bank.example": True,
        "url|https://evil-bank.example/pay?id=7": True,
        "ipv4|198.51.100.7": True,
        "ipv4|203.0.113.9": True,
    }
    assert 'id="error-summary"' not in page  # nothing is validated at this step
    assert PASTED.splitlines()[0] in page  # what was typed stays in the form
    assert not Incident.objects.filter(title__startswith="Smishing").exists()


def test_create_saves_the_reviewed_observables_only_and_opens_the_workspace(
        certs, handler, staff_client, clock):
    client = staff_client(handler)
    sector = Sector.objects.get(slug="banking")
    data = {**form_data(certs, sector=sector.pk, is_cii="on",
                        description="SMS with a payment link from 192.0.2.44."),
            "reviewed": "1", "step": "create",
            "candidate": ["email|billing@evil-bank.example",
                          "url|https://evil-bank.example/pay?id=7", "ipv4|198.51.100.7",
                          "ipv4|203.0.113.9", "ipv4|192.0.2.44"],
            # The person unchecked 203.0.113.9 and the address from the description.
            "observable": ["email|billing@evil-bank.example",
                           "url|https://evil-bank.example/pay?id=7", "ipv4|198.51.100.7"]}

    response = client.post(NEW, data)

    incident = Incident.objects.get(title="Smishing wave against bank clients")
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/incidents/{incident.reference}/"
    assert (incident.owner_cert, incident.source, incident.status) == (
        certs["lahore"], Source.STAFF, Status.NEW)
    assert (incident.classification, incident.incident_type, incident.severity, incident.tlp) == (
        "fraud", "phishing", 3, "TLP:AMBER")
    assert (incident.sector, incident.region, incident.is_cii) == (sector, "PK-PB", True)
    assert incident.affected_organization == "Example Bank"
    assert incident.occurred_at.isoformat() == "2026-03-09T17:15:00+00:00"  # 22:15 in Karachi
    assert incident.created_by == handler
    assert set(Observable.objects.filter(incident=incident).values_list("type", "value")) == {
        ("email", "billing@evil-bank.example"), ("url", "https://evil-bank.example/pay?id=7"),
        ("ipv4", "198.51.100.7")}
    assert [event.kind for event in events(incident)] == [EventKind.CREATED]
    assert OwnershipPeriod.objects.filter(incident=incident, cert=certs["lahore"]).exists()
    # The same form sent again opens nothing new.
    again = client.post(NEW, data)
    assert again["Location"] == response["Location"]
    assert Incident.objects.filter(title="Smishing wave against bank clients").count() == 1


def test_create_without_a_review_asks_for_one_first(certs, handler, staff_client):
    client = staff_client(handler)
    response = client.post(NEW, {**form_data(certs), "step": "create"})

    assert response.status_code == 200
    assert "4 indicators found: review them, then create the incident." in (
        response.content.decode())
    assert all(checkboxes(response.content.decode()).values())
    assert not Incident.objects.filter(title__startswith="Smishing").exists()

    # Text with no indicators needs no review.
    plain = client.post(NEW, {**form_data(certs, indicators="", description="Nothing technical."),
                              "step": "create"})
    assert plain.status_code == 302
    assert Incident.objects.filter(title__startswith="Smishing").count() == 1


def test_new_indicators_pasted_after_the_review_are_reviewed_too(certs, handler, staff_client):
    data = {**form_data(certs, indicators=PASTED + "\nand CVE-2024-3400"), "reviewed": "1",
            "step": "create", "candidate": ["ipv4|198.51.100.7"], "observable": []}
    page = staff_client(handler).post(NEW, data).content.decode()
    assert "indicators found: review them" in page
    boxes = checkboxes(page)
    assert boxes["ipv4|198.51.100.7"] is False  # unchecked in the review: stays unchecked
    assert boxes["cve|CVE-2024-3400"] is True
    assert not Incident.objects.filter(title__startswith="Smishing").exists()


def test_validation_errors_are_summarised_and_tied_to_their_fields(certs, handler, staff_client):
    response = staff_client(handler).post(NEW, {
        **form_data(certs, title="", incident_type="not-a-type", severity="9",
                    occurred_at="2026-03-10T09:00", detected_at="2026-03-10T08:00",
                    indicators=""), "step": "create"})

    assert response.status_code == 400
    page = response.content.decode()
    opening = '<div class="error-summary" role="alert" tabindex="-1" id="error-summary" autofocus>'
    assert opening in page  # it takes focus when the page loads
    summary = page[page.index(opening):page.index("</div>", page.index(opening))]
    for field in ("title", "incident_type", "severity", "detected_at"):
        assert f'href="#id_{field}"' in summary
        assert f'id="id_{field}_error"' in page
    assert "It cannot have been detected before it occurred." in page
    assert not Incident.objects.filter(title="").exists()


def test_an_owner_cert_the_member_may_not_open_for_is_refused(certs, handler, staff_client):
    response = staff_client(handler).post(NEW, {**form_data(certs, owner_cert=certs["sindh"].pk,
                                                            indicators=""), "step": "create"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Incident.objects.filter(owner_cert=certs["sindh"]).exists()


def test_an_analyst_may_open_an_incident(certs, member, staff_client):
    client = staff_client(member("lahore", "analyst"))
    assert client.post(NEW, {**form_data(certs, indicators=""), "step": "create"}).status_code == 302


def test_a_hand_made_observable_is_checked_by_the_service(certs, handler, staff_client):
    response = staff_client(handler).post(NEW, {
        **form_data(certs, indicators=""), "step": "create", "reviewed": "1",
        "candidate": ["ipv4|999.1.1.1"], "observable": ["ipv4|999.1.1.1"]})
    assert response.status_code == 400
    assert "999.1.1.1&#x27; is not a valid IPv4 address" in response.content.decode()
    assert not Incident.objects.filter(title__startswith="Smishing").exists()


def test_a_liaison_and_an_outsider_are_refused(certs, member, outsider, staff_client):
    liaison = staff_client(member("lahore", "liaison"))
    for response in (liaison.get(NEW), liaison.post(NEW, {**form_data(certs, indicators=""),
                                                          "step": "create"})):
        assert response.status_code == 403
        assert "Only heads, handlers and analysts open incidents" in response.content.decode()
    assert staff_client(outsider).get(NEW).status_code == 403
    assert not Incident.objects.filter(title__startswith="Smishing").exists()


def test_a_liaison_who_handles_elsewhere_opens_for_that_cert(certs, member, staff_client):
    user = member("lahore", "liaison")
    membership_add(cert=certs["rawalpindi"], user=user, role="handler", actor=None)
    page = staff_client(user).get(NEW).content.decode()
    assert "Rawalpindi District CERT" in page and "Lahore Metropolitan CERT</option>" not in page
