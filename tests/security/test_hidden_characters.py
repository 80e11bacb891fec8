"""Bidi controls and invisible characters in the names of things (issue 13, item 6).

Refused, with a message that names the field and the character, in every single-line name a
person types: incident titles and reporter names (public form, dashboard, API), task titles,
saved view names, advisory titles (dashboard and API), CERT names (admin) and API key names.
Kept: the joiners U+200C/U+200D that Urdu spelling needs. Titles shown inline go in <bdi>, so
a right-to-left title cannot reorder the text around it.
"""

from __future__ import annotations

import re
import secrets
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from advisories.models import Advisory
from incidents.models import Incident, IncidentTask, SavedView
from incidents.services import saved_view_create, task_add
from incidents.text import HIDDEN_IN_NAMES, hidden_character_message
from organizations.api_keys import api_key_issue
from organizations.models import ApiKey, Cert
from organizations.services import cert_update
from tests.factories import UserFactory, make_incident
from tests.organizations.test_admin import form_data as cert_form
from tests.twofactor import sign_in

RLO = "\u202e"
URDU_WITH_ZWNJ = "بینک کے صارفین کو\u200c جعلی پیغامات"  # a zero-width non-joiner inside
EVERY_HIDDEN = sorted(HIDDEN_IN_NAMES)


def public_report(**overrides) -> dict:
    data = {"submission_key": secrets.token_urlsafe(24), "category": "phishing",
            "title": "Fake bank SMS asking for a PIN",
            "description": "An SMS pretending to be my bank asked for my PIN.",
            "indicators": "", "started_at": "", "detected_at": "", "affected_organization": "",
            "region": "", "sector": "", "impact": "", "reporter_name": "", "reporter_email": "",
            "reporter_phone": "", "website": ""}
    data.update(overrides)
    return data


def page_text(response) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- The rule -------------------------------------------------------------------------------------

def test_the_refused_set_is_the_policy():
    assert HIDDEN_IN_NAMES == set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                                  "\u200b\u2060\ufeff\u180e")
    for kept in "\u200c\u200d\u200e\u200f":  # joiners (Urdu spelling) and the LRM/RLM marks
        assert hidden_character_message(f"a{kept}b", field="title") is None


@pytest.mark.parametrize("char", EVERY_HIDDEN, ids=lambda char: f"U+{ord(char):04X}")
def test_every_refused_character_is_named_in_the_message(certs, member, char):
    with pytest.raises(ValidationError) as error:
        make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                      title=f"invoice{char}gnp.exe")
    [message] = error.value.message_dict["title"]
    assert f"(U+{ord(char):04X})" in message and message.startswith("Remove the invisible ")
    assert message.endswith("from the title.")
    assert not Incident.objects.exists()


def test_the_message_reads_as_the_brief_says():
    assert hidden_character_message(f"x{RLO}y", field="title") == (
        "Remove the invisible right-to-left override character (U+202E) from the title.")


# --- Each field, at its service -------------------------------------------------------------------

def test_reporter_name_is_refused_at_the_service(certs, member):
    with pytest.raises(ValidationError) as error:
        make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                      reporter_name="Ali\u200bKhan")
    assert "(U+200B)" in error.value.message_dict["reporter_name"][0]
    assert not Incident.objects.exists()


def test_task_titles_and_saved_view_names_are_refused(certs, member):
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    with pytest.raises(ValidationError) as error:
        task_add(incident=incident, actor=handler, title="Block\u2066 the sender")
    assert "(U+2066)" in error.value.message_dict["title"][0]
    with pytest.raises(ValidationError) as error:
        saved_view_create(actor=handler, name="\ufeffOverdue", query="tab=overdue")
    assert "(U+FEFF)" in error.value.message_dict["name"][0]
    assert not IncidentTask.objects.exists() and not SavedView.objects.exists()

    task_add(incident=incident, actor=handler, title=URDU_WITH_ZWNJ)
    saved_view_create(actor=handler, name=URDU_WITH_ZWNJ, query="tab=overdue")
    assert IncidentTask.objects.get().title == SavedView.objects.get().name == URDU_WITH_ZWNJ


def test_api_key_names_are_refused(certs):
    with pytest.raises(ValidationError) as error:
        api_key_issue(actor=None, cert=certs["banking"], name="SOAR\u2060bot", scope="read")
    assert "word joiner character (U+2060) from the name" in error.value.message_dict["name"][0]
    assert not ApiKey.objects.exists()


def test_cert_names_are_refused_by_the_registry_service(certs):
    lahore = certs["lahore"]
    with pytest.raises(ValidationError) as error:
        cert_update(cert=lahore, actor=None, name=f"Lahore {RLO}TREC", short_name="LHR\u180e")
    assert "(U+202E)" in error.value.message_dict["name"][0]
    assert "(U+180E) from the short name" in error.value.message_dict["short_name"][0]
    lahore.refresh_from_db()
    assert lahore.name == "Lahore Metropolitan CERT"


# --- Each channel ---------------------------------------------------------------------------------

def test_the_public_form_refuses_and_stores_nothing(rules):
    response = Client().post("/report/", public_report(title=f"SMS {RLO}gnp.exe",
                                                       reporter_name="Ali\u200bKhan"))
    assert response.status_code == 400
    text = page_text(response)
    assert "Remove the invisible right-to-left override character (U+202E) from the title." in text
    assert "Remove the invisible zero width space character (U+200B) from the name." in text
    assert not Incident.objects.exists()


def test_the_public_form_accepts_urdu_with_its_joiners(rules):
    response = Client().post("/report/", public_report(title=URDU_WITH_ZWNJ,
                                                       reporter_name="علی\u200dخان"))
    assert response.status_code == 302, page_text(response)[:2000]
    incident = Incident.objects.get()
    assert (incident.title, incident.reporter_name) == (URDU_WITH_ZWNJ, "علی\u200dخان")


def test_the_dashboard_refuses_titles_tasks_views_and_keys(certs, member, staff_client):
    from tests.dashboard.test_create import form_data

    handler = member("lahore", "handler")
    client = staff_client(handler)
    response = client.post("/dashboard/incidents/new/",
                           {**form_data(certs, title=f"Smishing{RLO}", indicators=""), "step": "create"})
    assert "(U+202E) from the title" in page_text(response)
    assert not Incident.objects.exists()

    response = client.post("/dashboard/views/new/", {"name": "Mine\u2067", "query": "tab=mine"})
    assert not SavedView.objects.exists()
    assert "(U+2067) from the name" in page_text(client.get(response.get("Location", "/dashboard/"))
                                                 if response.status_code == 302 else response)

    head = staff_client(member("lahore", "head"))
    response = head.post("/dashboard/registry/api-keys/",
                         {"name": "SOAR\u202a", "scope": "read", "expires_days": "30"})
    assert "(U+202A) from the name" in page_text(response)
    assert not ApiKey.objects.exists()

    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    response = client.post(f"/dashboard/incidents/{incident.reference}/task-add/",
                           {"version": incident.version, "tab": "tasks", "title": "Call\u200b",
                            "assignee": ""})
    assert "(U+200B) from the title" in page_text(response)
    assert not IncidentTask.objects.exists()


def test_the_dashboard_accepts_urdu_with_its_joiners(certs, member, staff_client):
    from tests.dashboard.test_create import form_data

    client = staff_client(member("lahore", "handler"))
    response = client.post("/dashboard/incidents/new/",
                           {**form_data(certs, title=URDU_WITH_ZWNJ, indicators=""), "step": "create"})
    assert response.status_code == 302
    assert Incident.objects.get().title == URDU_WITH_ZWNJ


def test_the_advisory_editor_and_api_refuse_hidden_characters(member, key_client, staff_client):
    from tests.advisories.test_dashboard_editor import typed

    writer = staff_client(member("national", "handler"))
    response = writer.post("/dashboard/advisories/new/", typed(title=f"Patch {RLO}now"))
    assert "(U+202E) from the title" in page_text(response)
    response = key_client("national").post(
        "/api/v1/advisories/", {"title": "Patch\u2069 now", "severity": 3, "tlp": "TLP:CLEAR",
                                "summary": "Attackers exploit the example VPN gateway."},
        format="json")
    assert response.status_code == 400
    assert "(U+2069) from the title" in response.json()["errors"]["title"][0]
    assert not Advisory.objects.exists()

    created = key_client("national").post(
        "/api/v1/advisories/", {"title": URDU_WITH_ZWNJ, "severity": 3, "tlp": "TLP:CLEAR",
                                "summary": "Attackers exploit the example VPN gateway."},
        format="json")
    assert created.status_code == 201, created.json()


def test_the_api_refuses_an_incident_title_and_accepts_urdu(key_client):
    client = key_client("lahore")
    new = {"classification": "fraud", "incident_type": "phishing", "severity": 2,
           "tlp": "TLP:AMBER"}
    refused = client.post("/api/v1/incidents/", {**new, "title": f"gnp{RLO}.exe"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"title": [
        "Remove the invisible right-to-left override character (U+202E) from the title."]}
    assert not Incident.objects.exists()

    accepted = client.post("/api/v1/incidents/", {**new, "title": URDU_WITH_ZWNJ}, format="json")
    assert accepted.status_code == 201
    assert accepted.json()["title"] == URDU_WITH_ZWNJ


def test_the_admin_refuses_a_cert_name_with_an_override(client, certs):
    admin = sign_in(client, UserFactory(is_staff=True, is_superuser=True))
    lahore = certs["lahore"]
    response = admin.post(f"/admin/organizations/cert/{lahore.pk}/change/",
                          cert_form(lahore, name=f"Lahore {RLO}TREC"))
    assert response.status_code == 200
    assert "(U+202E) from the name" in page_text(response)
    assert Cert.objects.get(pk=lahore.pk).name == "Lahore Metropolitan CERT"


# --- Rendering: an RTL title cannot reorder its neighbours ----------------------------------------

def test_titles_and_names_are_isolated_in_bdi(certs, member, staff_client):
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler, title=URDU_WITH_ZWNJ)
    task_add(incident=incident, actor=handler, title="مرسل کو روکیں")
    saved_view_create(actor=handler, name="میرے واقعات", query="tab=mine")
    client = staff_client(handler)

    queue = client.get("/dashboard/?tab=all").content.decode()
    assert f"<bdi>{URDU_WITH_ZWNJ}</bdi>" in queue
    assert "<bdi>میرے واقعات</bdi>" in queue
    page = client.get(f"/dashboard/incidents/{incident.reference}/?tab=tasks").content.decode()
    assert f'<h1 id="incident-title"><bdi>{URDU_WITH_ZWNJ}</bdi></h1>' in page
    assert "<bdi>مرسل کو روکیں</bdi>" in page


def test_advisory_titles_are_isolated_in_bdi_on_public_pages(make_advisory):
    advisory = make_advisory(title=URDU_WITH_ZWNJ, tlp="TLP:CLEAR")
    listed = Client().get("/advisories/").content.decode()
    assert f"<bdi>{URDU_WITH_ZWNJ}</bdi>" in listed
    shown = Client().get(f"/advisories/{advisory.reference}/").content.decode()
    assert f"<h1><bdi>{URDU_WITH_ZWNJ}</bdi></h1>" in shown


def test_the_refusal_speaks_urdu_on_the_urdu_form(rules):
    response = Client().post("/report/", public_report(title=f"SMS {RLO}gnp.exe"),
                             HTTP_ACCEPT_LANGUAGE="ur")
    assert response.status_code == 400
    assert ("عنوان سے نظر نہ آنے والا حرف right-to-left override (U+202E) ہٹا دیں۔"
            in page_text(response))
    assert not Incident.objects.exists()
