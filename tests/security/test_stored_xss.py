"""Stored XSS (issue 13, item 6): hostile text in every free-text field a member, a reporter or
an API key can write comes out as text wherever it goes: escaped in staff and public pages and
in the printable monthly report, literal (and inert) in plain-text e-mails with one-line
subjects, text and not elements in RSS/Atom, equal string values in CSAF, STIX, the API and
webhook payloads (JSON, nosniff, never text/html), and literal text in the report PDF.

Earlier tests cover single spots (tests/dashboard/test_workspace.py and test_queue.py: titles
and comments; tests/advisories/test_public_pages.py, test_feeds.py, test_content.py and
test_dashboard_editor.py: advisory Markdown; tests/statistics/test_charts.py: SVG charts);
this is the matrix over fields and outputs.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import xml.etree.ElementTree as ET
from html import escape

import pypdf
import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from advisories.csaf.directory import document_path
from advisories.distribution import distribute
from advisories.models import PublicSubscriber
from incidents.models import RoutingRule, WebhookDelivery
from incidents.public.reports import add_follow_up, submit_report
from incidents.services import (
    incident_add_observable,
    incident_assign,
    incident_comment,
    saved_view_create,
    task_add,
)
from incidents.statistics import reports
from incidents.statistics.refresh import refresh
from incidents.webhooks import payload, webhook_endpoint_create
from organizations.api_keys import api_key_issue
from organizations.services import cert_update
from tests.api.test_taxii import ADVISORIES, TAXII
from tests.incidents.support import new_mail
from tests.statistics.test_reports import APRIL_FIRST, IN_MARCH, MARCH

# Every payload of the brief in one string: a script, an attribute break-out with an event
# handler, a javascript: URL, a </title> break-out, a template expression and a CDATA/XML
# break-out. Each single-line field takes it whole (at most 200 characters).
XSS = ('<script>alert(1)</script>"><img src=x onerror=alert(1)> javascript:alert(1) '
       '</title><svg onload=alert(1)> {{7*7}} ]]></description><script>')
SHORT = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'  # names of at most 80
REFERENCE = 'https://example.org/?q="><script>alert(1)</script>'
# What must never reach a page as markup.
LIVE = ("<script>alert(1)", "<img src=x", "<svg onload", "</title><svg", "]]></description>")


def assert_inert_html(html: str, *texts: str, where: str = "") -> None:
    for live in LIVE:
        assert live not in html, f"{live!r} reached {where or 'the page'} as markup"
    for text in texts:
        assert escape(text) in html, f"{text!r} is not shown escaped in {where or 'the page'}"


@pytest.fixture
def hostile(certs, member, clock, media, settings):
    """Every free-text field of the Lahore CERT's world holding XSS: the CERT's name and profile,
    a public report (title, description, reporter name and organisation), comments both ways,
    a follow-up, an observable, a task, a saved view, an API key, a webhook endpoint and a
    published TLP:CLEAR advisory of the national CERT (title, summary, body, remedies,
    products, references), all in March 2026."""
    clock.set(IN_MARCH)
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    lahore = cert_update(cert=certs["lahore"], actor=None, name=XSS, description=XSS,
                         constituency=XSS)
    handler, head = member("lahore", "handler"), member("lahore", "head")
    webhook_endpoint_create(actor=head, cert=lahore, url="http://127.0.0.1:9/hook",
                            events=["incident.created"])
    RoutingRule.objects.create(name="Lahore district", priority=1, region="PK-PB",
                               target_cert=lahore)
    submission = submit_report(
        submission_key=secrets.token_urlsafe(24), category="phishing", title=XSS,
        description=f"{XSS}\nSeen at hxxp://evil[.]example/login", region="PK-PB",
        reporter_name=XSS, affected_organization=XSS, reporter_email="reporter@public.example")
    incident = submission.incident
    incident_comment(incident=incident, actor=handler, body=f"internal {XSS}")
    incident_comment(incident=incident, actor=handler, body=f"to reporter {XSS}",
                     reporter_visible=True)
    add_follow_up(incident=incident, message=f"follow-up {XSS}")
    incident_add_observable(incident=incident, actor=handler, type="url",
                            value="http://evil.example/?q=<script>alert(1)</script>")
    task_add(incident=incident, actor=handler, title=XSS)
    incident = incident_assign(incident=incident, actor=head, assignee=handler)  # a notice
    saved_view_create(actor=handler, name=SHORT, query="tab=all")
    api_key_issue(actor=head, cert=lahore, name=SHORT, scope="read")
    PublicSubscriber.objects.create(email="reader@public.example", language="en",
                                    created_at=timezone.now(), confirmed_at=timezone.now())
    from tests.advisories.support import AdvisoryMaker

    advisory = AdvisoryMaker(certs, member)(
        cert="national", tlp="TLP:CLEAR", title=XSS, summary=XSS, body_markdown=XSS,
        remedies=XSS, references=[REFERENCE],
        products=[{"vendor": SHORT, "product": SHORT, "versions": SHORT}])
    return {"incident": incident, "token": submission.token, "advisory": advisory,
            "lahore": lahore, "handler": handler, "head": head}


# --- Staff pages ----------------------------------------------------------------------------------

def test_staff_pages_show_every_field_escaped(hostile, staff_client):
    new_mail()  # delivering the notifications makes the in-app notices too
    incident, client = hostile["incident"], staff_client(hostile["handler"])
    reference = incident.reference
    pages = {
        "/dashboard/?tab=all": [XSS, SHORT],
        f"/dashboard/?tab=all&owner={hostile['lahore'].pk}": [XSS],  # statistics drill-down
        f"/dashboard/incidents/{reference}/": [XSS],
        f"/dashboard/incidents/{reference}/?tab=comments": [f"internal {XSS}",
                                                           f"to reporter {XSS}",
                                                           f"follow-up {XSS}"],
        f"/dashboard/incidents/{reference}/?tab=tasks": [XSS],
        f"/dashboard/incidents/{reference}/?tab=observables": [],
        f"/dashboard/incidents/{reference}/?tab=timeline": [],
        "/dashboard/notifications/": [XSS],
        "/dashboard/triage/": [XSS],
        f"/dashboard/triage/{reference}/": [XSS],
        "/dashboard/registry/": [XSS],
        "/dashboard/registry/lahore/": [XSS],
        "/dashboard/statistics/lahore/": [],
        f"/dashboard/advisories/{hostile['advisory'].reference}/": [XSS],
    }
    for path, texts in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")
        assert_inert_html(response.content.decode(), *texts, where=path)

    keys = staff_client(hostile["head"]).get("/dashboard/registry/api-keys/")
    assert_inert_html(keys.content.decode(), SHORT)


# --- Public pages ---------------------------------------------------------------------------------

def test_public_pages_show_every_field_escaped(hostile):
    advisory = hostile["advisory"]
    for path, texts in {"/advisories/": [XSS], f"/advisories/{advisory.reference}/": [XSS],
                        "/": [XSS], "/certs/lahore/": [XSS]}.items():
        response = Client().get(path)
        assert response.status_code == 200, path
        assert_inert_html(response.content.decode(), *texts, where=path)
    detail = Client().get(f"/advisories/{advisory.reference}/").content.decode()
    assert f'href="{escape(REFERENCE)}"' in detail

    client = Client()
    found = client.post("/report/status/", {"reference": hostile["incident"].reference,
                                            "token": hostile["token"]})
    status = client.get(found["Location"])
    assert status.status_code == 200
    assert_inert_html(status.content.decode(), XSS, f"to reporter {XSS}", f"follow-up {XSS}")
    assert "internal &lt;script&gt;" not in status.content.decode()


# --- E-mails --------------------------------------------------------------------------------------

def test_emails_carry_the_text_literally_with_one_line_subjects(hostile):
    sent = new_mail()
    distribute(hostile["advisory"].current_revision_id)
    sent += [message for message in mail.outbox if message.to == ["reader@public.example"]]
    assert sent
    for message in sent:
        assert "\r" not in message.subject and "\n" not in message.subject
        message.message()  # serialises: no header injection, no "newlines in header" error
        assert not getattr(message, "alternatives", None), "plain text only: nothing to render"
        # Plain text is not HTML: the text is shown as typed, not entity-escaped.
        assert "&lt;script&gt;" not in message.body and "&quot;" not in message.body
    staff = [m for m in sent if m.to != ["reporter@public.example"]
             and m.to != ["reader@public.example"]]
    subscriber = [m for m in sent if m.to == ["reader@public.example"]]
    assert staff and subscriber
    assert any(XSS in m.body for m in staff)
    assert all(XSS in m.subject for m in subscriber) and all(XSS in m.body for m in subscriber)


# --- Feeds, CSAF, STIX, API and webhooks ----------------------------------------------------------

def test_rss_and_atom_carry_the_text_as_text(hostile):
    reference = hostile["advisory"].reference
    rss, atom = (Client().get(f"/advisories/feed/{kind}/") for kind in ("rss", "atom"))
    for response in (rss, atom):
        assert response.status_code == 200
        root = ET.fromstring(response.content)  # well-formed: "]]>" broke out of nothing
        tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
        assert {"script", "img", "svg", "title"} & tags == {"title"}  # no element injected
    # RSS readers render title and description as HTML: each holds the payload escaped once
    # for HTML, inside XML text (advisories/feeds.py).
    item = ET.fromstring(rss.content).find("channel/item")
    assert item.findtext("title") == f"[TLP:CLEAR] {reference}: {escape(XSS)}"
    assert escape(XSS) in item.findtext("description")
    # Atom says what it holds: the title is text (whole, as typed), the summary HTML.
    atom_ns = "{http://www.w3.org/2005/Atom}"
    entry = ET.fromstring(atom.content).find(f"{atom_ns}entry")
    title = entry.find(f"{atom_ns}title")
    assert title.get("type") in (None, "text") and title.text.endswith(f": {XSS}")
    assert escape(XSS) in entry.findtext(f"{atom_ns}summary")


def test_csaf_stix_and_api_json_hold_the_exact_strings(hostile, key_client):
    advisory, incident = hostile["advisory"], hostile["incident"]
    csaf = Client().get(document_path(advisory))
    assert csaf.status_code == 200
    assert csaf["Content-Type"].startswith("application/json")
    assert csaf["X-Content-Type-Options"] == "nosniff"
    document = json.loads(csaf.content)
    assert document["document"]["title"] == XSS
    notes = {note["category"]: note["text"] for note in document["document"]["notes"]}
    assert any(XSS in text for text in notes.values())  # the summary

    stix = key_client("lahore").get(ADVISORIES + "objects/", HTTP_ACCEPT=TAXII)
    assert stix.status_code == 200 and stix["Content-Type"] == TAXII
    assert stix["X-Content-Type-Options"] == "nosniff"
    [report] = [o for o in stix.json()["objects"] if o["type"] == "report"]
    assert report["name"] == XSS and report["description"] == XSS

    api = key_client("lahore").get(f"/api/v1/incidents/{incident.reference}/")
    assert api.status_code == 200 and api["Content-Type"] == "application/json"
    assert api["X-Content-Type-Options"] == "nosniff"
    assert api.json()["title"] == XSS
    comments = key_client("lahore").get(f"/api/v1/incidents/{incident.reference}/comments/")
    assert f"internal {XSS}" in [row["body"] for row in comments.json()["results"]]


def test_webhook_payloads_are_json_with_the_exact_title(hostile):
    [row] = WebhookDelivery.objects.filter(incident=hostile["incident"])
    body = json.dumps(payload(row))
    assert json.loads(body)["incident"]["title"] == XSS


# --- The monthly report ---------------------------------------------------------------------------

def test_the_monthly_report_html_is_escaped_and_the_pdf_shows_the_text(hostile, clock,
                                                                       staff_client):
    clock.set(APRIL_FIRST)
    refresh()
    report = reports.build_monthly_report(cert=hostile["lahore"], month=MARCH)
    assert_inert_html(report.html, XSS)

    client = staff_client(hostile["head"])
    printable = client.get(f"/dashboard/reports/{report.public_id}/")
    assert printable.status_code == 200
    assert_inert_html(printable.content.decode(), XSS)
    pdf = client.get(f"/dashboard/reports/{report.public_id}/pdf/")
    assert pdf.status_code == 200
    data = b"".join(pdf.streaming_content) if pdf.streaming else pdf.content
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in reader.pages))
    assert "<script>alert(1)</script>" in text  # the markup is printed as text, not interpreted
    assert "<svgonload=alert(1)>" in text
