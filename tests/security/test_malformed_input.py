"""Over-long text, bytes that are not UTF-8 and NUL characters, on every channel (issue 13,
item 6): never a 500, always a message that says what to fix, and nothing stored. Run on SQLite
and on PostgreSQL, which refuses NUL in any text value where SQLite stores it."""

from __future__ import annotations

import json
import secrets
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from advisories.models import Advisory
from incidents.models import Comment, Incident, SavedView
from incidents.services import saved_view_create
from organizations.models import ApiKey
from tests.api.test_taxii import INBOX, INDICATOR, TAXII, envelope
from tests.factories import make_incident

PROBLEM = "application/problem+json"
MEGABYTE = 2**20


def report_fields(**overrides) -> dict:
    data = {"submission_key": secrets.token_urlsafe(24), "category": "phishing",
            "title": "Fake bank SMS asking for a PIN",
            "description": "An SMS pretending to be my bank asked for my PIN.",
            "indicators": "", "started_at": "", "detected_at": "", "affected_organization": "",
            "region": "", "sector": "", "impact": "", "reporter_name": "", "reporter_email": "",
            "reporter_phone": "", "website": ""}
    data.update(overrides)
    return data


def urlencoded(fields: dict, **raw: bytes) -> bytes:
    """An application/x-www-form-urlencoded body of `fields`, with `raw` values sent as the
    bytes given (not UTF-8 encoded, not escaped)."""
    from urllib.parse import urlencode

    body = urlencode({k: v for k, v in fields.items() if k not in raw}).encode()
    for name, value in raw.items():
        body += b"&" + name.encode() + b"=" + value
    return body


def multipart(fields: dict, **raw: bytes) -> bytes:
    boundary = b"BoUnDaRy"
    parts = [(name.encode(), str(value).encode()) for name, value in fields.items()
             if name not in raw]
    parts += [(name.encode(), value) for name, value in raw.items()]
    body = b"".join(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name
                    + b'"\r\n\r\n' + value + b"\r\n" for name, value in parts)
    return body + b"--" + boundary + b"--\r\n"


def said(response, *words: str) -> None:
    """The answer is a 400 whose page (or problem) says each of `words`."""
    assert response.status_code == 400, (response.status_code, response.content[:500])
    from html import unescape

    text = unescape(response.content.decode())
    for word in words:
        assert word in text, (word, text[-3000:])


@pytest.fixture
def public_client(rules):
    return Client()


# --- The public report form and the follow-up -----------------------------------------------------

def test_a_one_megabyte_description_is_refused_with_the_limit(public_client):
    response = public_client.post("/report/", report_fields(description="x" * MEGABYTE))
    said(response, "at most 20000 characters")
    assert not Incident.objects.exists()


@pytest.mark.parametrize("encode", [urlencoded, multipart], ids=["urlencoded", "multipart"])
def test_invalid_utf8_in_the_report_form_is_refused(public_client, encode):
    content_type = ("application/x-www-form-urlencoded" if encode is urlencoded
                    else "multipart/form-data; boundary=BoUnDaRy")
    response = public_client.generic("POST", "/report/",
                                     encode(report_fields(), title=b"Fake \xff\xfe bank SMS"),
                                     content_type=content_type)
    said(response, "The field “title” is not valid UTF-8 text")
    assert not Incident.objects.exists()


@pytest.mark.parametrize("field", ["title", "description", "reporter_name"])
def test_a_nul_in_a_report_field_is_refused(public_client, field):
    response = public_client.post("/report/", report_fields(**{field: "Fake bank\x00SMS"}))
    said(response, f"The field “{field}” contains a NUL character")
    assert not Incident.objects.exists()


def test_the_follow_up_refuses_nul_invalid_utf8_and_one_megabyte(public_client):
    from incidents.public.reports import submit_report

    submission = submit_report(submission_key=secrets.token_urlsafe(24), category="phishing",
                               title="Fake bank SMS", description="It asked for my PIN.")
    client = Client()
    lookup = client.post("/report/status/", {"reference": submission.incident.reference,
                                             "token": submission.token})
    assert lookup.status_code in (200, 302)
    follow_up = lookup.get("Location") or "/report/status/"
    before = Comment.objects.count()
    said(client.post(follow_up, {"message": "more\x00info"}), "“message” contains a NUL")
    said(client.generic("POST", follow_up, urlencoded({}, message=b"caf\xe9"),
                        content_type="application/x-www-form-urlencoded"),
         "“message” is not valid UTF-8")
    said(client.post(follow_up, {"message": "y" * MEGABYTE}), "at most 20000 characters")
    assert Comment.objects.count() == before


@pytest.mark.parametrize("path", ["/advisories/?q=%FF", "/report/?lang=%C3%28",
                                  "/advisories/?q=%00", "/advisories/PK-ADV-2026-0001%00/",
                                  "/report/status/?reference=%00"])
def test_bad_addresses_answer_400_with_a_message(db, path):
    response = Client().get(path)
    said(response, "remove it" if "%00" in path else "not valid UTF-8 text")


def test_an_invalid_percent_escape_is_only_text(db):
    # "%ZZ" is not an escape: RFC 3986 parsers keep it as it is, and the search finds nothing.
    response = Client().get("/advisories/?q=%ZZ")
    assert response.status_code == 200


# --- Staff forms ----------------------------------------------------------------------------------

def test_staff_forms_refuse_nul_and_invalid_utf8(certs, member, staff_client):
    handler = member("lahore", "handler")
    client = staff_client(handler)
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    comment_url = f"/dashboard/incidents/{incident.reference}/comment/"
    said(client.post(comment_url, {"version": incident.version, "body": "x\x00y",
                                   "visibility": "internal"}), "contains a NUL character")
    said(client.generic("POST", comment_url,
                        urlencoded({"version": incident.version, "visibility": "internal"},
                                   body=b"\xc0\xaf"),
                        content_type="application/x-www-form-urlencoded"), "not valid UTF-8")
    assert not Comment.objects.filter(incident=incident).exists()

    # The queue's filters are saved as they were typed, without a form: the bug this fixed.
    said(client.post("/dashboard/views/new/", {"name": "Mine", "query": "q=%00&tab=mine"}),
         "Null characters are not allowed.")
    with pytest.raises(ValidationError) as error:
        saved_view_create(actor=handler, name="Mine", query="q=%00&tab=mine")
    assert error.value.message_dict["query"] == [
        "These filters contain a NUL character (U+0000): remove it."]
    said(client.post("/dashboard/views/new/", {"name": "Mine", "query": "q=\x00"}),
         "“query” contains a NUL character")
    assert not SavedView.objects.exists()
    said(client.get("/dashboard/?q=%00"), "“q” contains a NUL character")
    said(client.get(f"/dashboard/incidents/{incident.reference}%00/"), "NUL character")


def test_a_staff_form_over_its_limit_is_refused(certs, member, staff_client):
    from tests.dashboard.test_create import form_data

    client = staff_client(member("lahore", "handler"))
    response = client.post("/dashboard/incidents/new/",
                           {**form_data(certs, title="t" * 5000, indicators=""), "step": "create"})
    assert response.status_code in (200, 400)
    assert "at most" in response.content.decode()
    assert not Incident.objects.exists()


# --- API JSON bodies ------------------------------------------------------------------------------

NEW = {"title": "Ransomware at a district office", "classification": "malicious-code",
       "incident_type": "infected-system", "severity": 3, "tlp": "TLP:AMBER"}


def test_api_invalid_utf8_is_a_problem(key_client):
    body = json.dumps(NEW).replace("Ransomware", "Ransom\\u00e9").encode().replace(b"\\u00e9", b"\xe9")
    response = key_client("lahore").generic("POST", "/api/v1/incidents/", body,
                                            content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert "utf-8" in response.json()["detail"].lower() or "JSON" in response.json()["detail"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("field", "value"), [
    ("title", "Ransom\x00ware"), ("description", "C2 at\x00 evil.example"),
    ("affected_organization", "Bank\x00"), ("title", "t" * 100_000),
    ("affected_organization", "o" * 201), ("classification", "c" * 10_000),
])
def test_api_nul_and_huge_strings_name_the_field(key_client, field, value):
    response = key_client("lahore").post("/api/v1/incidents/", {**NEW, field: value},
                                         format="json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert list(response.json()["errors"]) == [field]
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("field", "value"), [
    ("summary", "A flaw\x00."), ("body_markdown", "# Hi\x00"), ("remedies", "Patch\x00"),
    ("products", [{"vendor": "Ex\x00", "product": "VPN", "versions": "< 7"}]),
    ("references", ["https://example.org/\x00"]), ("cve_ids", ["CVE-2024-1234\x00"]),
    ("title", "T" * 301), ("summary", "s" * 2001),
])
def test_api_advisory_fields_refuse_nul_and_huge_strings(key_client, field, value):
    advisory = {"title": "Patch the example VPN", "severity": 3, "tlp": "TLP:CLEAR",
                "summary": "Attackers exploit the example VPN gateway."}
    response = key_client("national").post("/api/v1/advisories/", {**advisory, field: value},
                                           format="json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM, response.content
    assert field in response.json()["errors"]
    assert not Advisory.objects.exists()


def test_api_comment_with_nul_and_a_nul_reference(certs, member, key_client):
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    client = key_client("lahore")
    response = client.post(f"/api/v1/incidents/{incident.reference}/comments/",
                           {"body": "see\x00this"}, format="json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert not Comment.objects.filter(incident=incident).exists()
    response = client.get(f"/api/v1/incidents/{incident.reference}%00/")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    response = client.get("/api/v1/incidents/?classification=%00")
    assert response.status_code == 400 and response.json()["errors"] == {"classification": [
        response.json()["detail"]]}


# --- TAXII add_objects ----------------------------------------------------------------------------

def test_taxii_refuses_invalid_utf8_nul_and_huge_envelopes(key_client, settings):
    client = key_client("banking")

    def post(body: bytes):
        return client.generic("POST", INBOX + "objects/", body, content_type=TAXII,
                              HTTP_ACCEPT=TAXII)

    bad_bytes = envelope(INDICATOR).encode().replace(b"198.51.100.9", b"198.51.\xff.9")
    answer = post(bad_bytes)
    assert answer.status_code == 400 and answer["Content-Type"] == TAXII
    assert "not JSON" in answer.json()["description"]

    nul = envelope({**INDICATOR, "pattern": "[domain-name:value = 'c2.exa\\u0000mple.net']"})
    answer = post(nul.encode())
    assert answer.status_code == 400 and answer["Content-Type"] == TAXII

    many = envelope(*[{**INDICATOR, "id": f"indicator--0b7bbd5f-3f0f-4b5c-9a46-{n:012x}"}
                      for n in range(2000)])
    answer = post(many.encode())
    assert answer.status_code in (400, 413) and answer["Content-Type"] in (TAXII, PROBLEM)

    settings.REQUEST_MAX_BYTES = 64 * 1024
    answer = post(envelope({**INDICATOR, "description": "d" * 100_000}).encode())
    assert answer.status_code == 413
    assert not Incident.objects.exists()


# --- Management commands --------------------------------------------------------------------------

@pytest.mark.parametrize("arguments", [
    ["--cert", "banking", "--scope", "read", "--name", "SOAR\u202ebot"],
    ["--cert", "banking", "--scope", "read", "--name", "x" * 500],
    ["--cert", "banking", "--scope", "read", "--expires", "many"],
    ["--cert", "no\x00where", "--scope", "read"],
    ["--cert", "banking", "--scope", "admin"],
])
def test_create_api_key_refuses_bad_arguments_with_a_message(certs, arguments):
    with pytest.raises(CommandError) as error:
        call_command("create_api_key", *arguments, stdout=StringIO(), stderr=StringIO())
    assert str(error.value)
    assert not ApiKey.objects.exists()


def test_generate_national_dataset_refuses_a_bad_date(certs):
    with pytest.raises(CommandError):
        call_command("generate_national_dataset", "--until", "2026-13-45", stdout=StringIO())
    assert not Incident.objects.exists()


def test_the_refusal_speaks_urdu(db):
    response = Client().get("/advisories/?q=%00", HTTP_ACCEPT_LANGUAGE="ur")
    said(response, "پتے کے پیرامیٹر “q” میں NUL حرف (U+0000) ہے: اسے ہٹا دیں۔")
