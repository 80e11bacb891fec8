"""Public incident reporting (DOMAIN.md §4), through the HTTP interface: the report form, routing,
the one-time receipt, the confirmation e-mail, the status page and follow-ups, refused input,
rate limits, accessibility, and what staff see afterwards."""

from __future__ import annotations

import hashlib
import re
import secrets
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_q.models import OrmQ

from incidents import tasks
from incidents.access import visible_incidents
from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    Incident,
    Notification,
    Observable,
    RoutingRule,
    Source,
    Status,
    TimelineEvent,
)
from incidents.reporter_token import derive_token, hash_token
from incidents.services import incident_comment, incident_create
from organizations.models import Sector
from tests.factories import UserFactory
from tests.incidents.support import DELIVERY_TASK, queued_funcs
from tests.twofactor import sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n% a small document\n"
REPORT_URL = "/report/"
RECEIVED_URL = "/report/received/"
STATUS_URL = "/report/status/"


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def png(name="screenshot.png", size=None) -> SimpleUploadedFile:
    content = PNG if size is None else PNG + b"\x00" * (size - len(PNG))
    return SimpleUploadedFile(name, content, content_type="image/png")


def report_data(**overrides) -> dict:
    data = {
        "submission_key": secrets.token_urlsafe(24),
        "category": "phishing",
        "title": "Fake bank SMS asking for a PIN",
        "description": "An SMS pretending to be my bank asked for my PIN.",
        "indicators": "http://evil-bank[.]example/login",
        "started_at": "",
        "detected_at": "",
        "affected_organization": "",
        "region": "",
        "sector": "",
        "impact": "",
        "reporter_name": "",
        "reporter_email": "",
        "reporter_phone": "",
        "website": "",
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def sector_pk(slug: str) -> str:
    return str(Sector.objects.get(slug=slug).pk)


def submit(client: Client, data: dict, files=()):
    payload = dict(data)
    if files:
        payload["attachments"] = list(files)
    return client.post(REPORT_URL, payload)


def submit_and_receive(client: Client, data: dict, files=()) -> tuple[Incident, str]:
    """Post a valid report; return the incident and the token shown on the receipt page."""
    response = submit(client, data, files)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == RECEIVED_URL
    receipt = client.get(RECEIVED_URL)
    assert receipt.status_code == 200
    text = receipt.content.decode()
    incident = Incident.objects.get(submission_key=data["submission_key"])
    assert incident.reference in text
    token = re.search(r"Secret token</dt><dd><code>([^<]+)</code>", text).group(1)
    return incident, token


def open_status(reference: str, token: str, client: Client | None = None):
    client = client or Client()
    response = client.post(STATUS_URL, {"reference": reference, "token": token})
    return client, response


def without_csrf(text: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", text)


# --- routing -----------------------------------------------------------------------------------

ROUTING_CASES = {
    "sector": ({"sector": "banking"}, "banking"),
    "public body with region": ({"is_public_body": "on", "region": "PK-PB"}, "punjab"),
    "public body without region": ({"is_public_body": "on"}, "federal"),
    "nothing matching": ({"region": "PK-PB"}, "national"),
}


@pytest.mark.parametrize("case", list(ROUTING_CASES))
def test_an_anonymous_report_becomes_a_public_incident_routed_by_the_rules(case, rules, media):
    fields, owner = ROUTING_CASES[case]
    if "sector" in fields:
        fields = {**fields, "sector": sector_pk(fields["sector"])}
    client = Client()
    data = report_data(**fields)

    incident, token = submit_and_receive(client, data, [png()])

    incident.refresh_from_db()
    assert Incident.objects.count() == 1
    assert incident.owner_cert == rules[owner]
    assert incident.source == Source.PUBLIC_FORM
    assert incident.created_by is None
    assert incident.status == Status.NEW
    assert (incident.classification, incident.incident_type) == ("fraud", "phishing")
    assert incident.title == data["title"]
    assert "http://evil-bank[.]example/login" in incident.description
    assert ("url", "http://evil-bank.example/login") in set(
        Observable.objects.filter(incident=incident).values_list("type", "value"))
    [attachment] = Attachment.objects.filter(incident=incident)
    assert attachment.original_name == "screenshot.png"
    assert attachment.content_type == "image/png"
    assert attachment.uploaded_by is None
    assert attachment.encrypted and attachment.read_plaintext() == PNG  # encrypted at rest
    kinds = list(TimelineEvent.objects.filter(incident=incident).values_list("kind", flat=True))
    assert kinds[0] == EventKind.CREATED and EventKind.ATTACHMENT in kinds
    assert incident.reporter_token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_an_inactive_rule_is_skipped(rules):
    RoutingRule.objects.filter(target_cert=rules["banking"]).update(is_active=False)

    incident, _token = submit_and_receive(Client(), report_data(sector=sector_pk("banking")))

    assert incident.owner_cert == rules["national"]


def test_a_rule_edited_in_the_admin_changes_the_routing(rules):
    rule = RoutingRule.objects.get(target_cert=rules["banking"])
    # The admin asks for both factors (issue 9).
    admin = sign_in(Client(), UserFactory(username="root", is_staff=True, is_superuser=True))
    response = admin.post(f"/admin/incidents/routingrule/{rule.pk}/change/", {
        "name": "Banking reports to the CII CERT", "priority": "10",
        "sector": sector_pk("banking"), "region": "", "public_body": "unknown",
        "target_cert": str(rules["cii"].pk), "is_active": "on",
    })
    assert response.status_code == 302, response.content.decode()[:3000]

    incident, _token = submit_and_receive(Client(), report_data(sector=sector_pk("banking")))

    assert incident.owner_cert == rules["cii"]


# --- confirmation e-mail and the token ----------------------------------------------------------

def test_the_confirmation_email_is_queued_sent_once_and_its_token_opens_the_status_page(
        rules, django_capture_on_commit_callbacks):
    data = report_data(reporter_email="reporter@example.org", reporter_name="A. Reporter")

    with django_capture_on_commit_callbacks(execute=True):
        incident, token = submit_and_receive(Client(), data)

    # Other kinds (the news to the CERT) may be queued too: this test is about the reporter's.
    [notification] = Notification.objects.filter(incident=incident,
                                                 kind=Notification.Kind.REPORT_CONFIRMATION)
    assert notification.sent_at is None
    assert set(queued_funcs()) == {DELIVERY_TASK}

    # The token is stored nowhere in clear: only its SHA-256 is on the incident, and neither the
    # incident row, the notification row nor the queued task carries it.
    incident.refresh_from_db()
    assert incident.reporter_token_hash == hashlib.sha256(token.encode()).hexdigest()
    row = Incident.objects.filter(pk=incident.pk).values().get()
    assert not [field for field, value in row.items() if token in str(value)]
    for row in Notification.objects.filter(incident=incident).values():
        assert not [field for field, value in row.items() if token in str(value)]
    for task in OrmQ.objects.all():
        assert token not in task.payload
        assert token not in repr(task.task)

    tasks.deliver_notifications()
    tasks.deliver_notifications()

    [email] = [message for message in mail.outbox if "reporter@example.org" in message.to]
    assert email.to == ["reporter@example.org"]
    assert not [message for message in mail.outbox if message is not email
                and token in message.body]
    assert incident.reference in email.subject
    assert incident.reference in email.body
    assert token in email.body
    emailed_token = re.search(r"Secret token: (\S+)", email.body).group(1)
    client, response = open_status(incident.reference, emailed_token)
    assert response.status_code == 302
    assert response["Location"] == f"{STATUS_URL}{incident.reference}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert incident.reference in page.content.decode()


def test_no_email_without_an_address(rules, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident, token = submit_and_receive(Client(), report_data())

    assert not Notification.objects.filter(
        incident=incident, kind=Notification.Kind.REPORT_CONFIRMATION).exists()
    tasks.deliver_notifications()
    assert not [message for message in mail.outbox if token in message.body]


def test_the_receipt_shows_reference_and_token_once(rules):
    client = Client()
    data = report_data()
    submit(client, data)

    first = client.get(RECEIVED_URL)
    second = client.get(RECEIVED_URL)

    incident = Incident.objects.get()
    assert first.status_code == 200
    assert incident.reference in first.content.decode()
    assert "Secret token" in first.content.decode()
    assert second.status_code == 302
    assert second["Location"] == STATUS_URL


# --- status page ---------------------------------------------------------------------------------

def test_the_status_page_shows_status_owner_and_only_reporter_visible_messages(rules, member):
    incident, token = submit_and_receive(Client(), report_data(sector=sector_pk("banking")))
    handler = member("banking", "handler")
    incident_comment(incident=incident, actor=handler, body="INTERNAL: looks like the SMS gang")
    incident_comment(incident=incident, actor=handler, reporter_visible=True,
                     body="Thank you, we are looking into it.")

    client, response = open_status(incident.reference, token)
    page = client.get(response["Location"])

    text = page.content.decode()
    assert page.status_code == 200
    assert incident.reference in text
    assert "New" in text
    assert rules["banking"].name in text
    assert "INTERNAL" not in text
    assert "looks like the SMS gang" not in text
    assert text.count("Thank you, we are looking into it.") == 1


def test_a_wrong_token_and_an_unknown_reference_get_the_same_answer(rules):
    incident, token = submit_and_receive(Client(), report_data())
    unknown = re.sub(r"\d+$", lambda m: "9" * len(m.group()), incident.reference)
    assert unknown != incident.reference
    wrong = "0" * 32

    _c1, wrong_token = open_status(incident.reference, wrong)
    _c2, unknown_reference = open_status(unknown, wrong)

    assert wrong_token.status_code == unknown_reference.status_code == 400
    first = without_csrf(wrong_token.content.decode()).replace(incident.reference, "REF")
    second = without_csrf(unknown_reference.content.decode()).replace(unknown, "REF")
    assert first == second
    assert "We found no report with this reference and token" in first
    # Without unlocking, the detail page sends the visitor to the lookup form.
    assert Client().get(f"{STATUS_URL}{incident.reference}/")["Location"] == STATUS_URL


def test_a_staff_incident_cannot_be_opened_from_the_public_pages(rules):
    staff_incident = incident_create(actor=None, owner_cert=rules["banking"], title="Staff case",
                                     classification="fraud", incident_type="phishing")
    some_token = "a" * 32
    Incident.objects.filter(pk=staff_incident.pk).update(reporter_token_hash=hash_token(some_token))

    client, response = open_status(staff_incident.reference, some_token)

    assert response.status_code == 400
    assert "We found no report with this reference and token" in response.content.decode()
    detail = client.get(f"{STATUS_URL}{staff_incident.reference}/")
    assert detail.status_code == 302
    assert detail["Location"] == STATUS_URL


def test_a_follow_up_adds_a_reporter_comment_a_timeline_event_and_files(rules, media):
    client = Client()
    incident, _token = submit_and_receive(client, report_data())
    url = f"{STATUS_URL}{incident.reference}/"

    response = client.post(url, {"message": "They sent a second SMS today.",
                                 "attachments": [SimpleUploadedFile("second.pdf", PDF)]})

    assert response.status_code == 302
    assert response["Location"] == url
    [comment] = Comment.objects.filter(incident=incident)
    assert comment.author is None
    assert comment.reporter_visible is True
    assert comment.body == "They sent a second SMS today."
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.COMMENT,
                                        new_value="reporter-visible").count() == 1
    [attachment] = Attachment.objects.filter(incident=incident)
    assert attachment.original_name == "second.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.encrypted and attachment.read_plaintext() == PDF  # encrypted at rest
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.ATTACHMENT).count() == 1
    page = client.get(url).content.decode()
    assert page.count("They sent a second SMS today.") == 1


def test_an_empty_follow_up_is_refused(rules):
    client = Client()
    incident, _token = submit_and_receive(client, report_data())

    response = client.post(f"{STATUS_URL}{incident.reference}/", {"message": "  "})

    assert response.status_code == 400
    assert "Write a message or add a file." in response.content.decode()
    assert not Comment.objects.exists()


def assert_error_tied(text: str, field: str, message: str) -> None:
    """The message is in the field's error list, the field is marked invalid, and the error list
    is named by aria-describedby (on the input, or on the fieldset of a radio group)."""
    error_id = f"id_{field}_error"
    errors = re.search(rf'<ul class="errorlist" id="{error_id}">(.*?)</ul>', text, re.S)
    assert errors and message in errors.group(1), (field, message)
    controls = [c for c in parse(text).controls if c.get("name") == field]
    assert controls and all(c.get("aria-invalid") == "true" for c in controls)
    described = [c.get("aria-describedby", "") for c in controls]
    assert all(error_id in d.split() for d in described) or \
        f'<fieldset aria-describedby="{error_id}">' in text


# --- refused input ------------------------------------------------------------------------------

INVALID_FIELDS = {
    "missing category": ({"category": None}, "category", "This field is required."),
    "empty title": ({"title": "  "}, "title", "This field is required."),
    "bad email": ({"reporter_email": "not-an-address"}, "reporter_email",
                  "Enter a valid email address."),
    "bad phone": ({"reporter_phone": "call me maybe"}, "reporter_phone",
                  "Use digits, spaces and + ( ) - only."),
    "detected before started": ({"started_at": "2026-03-10T10:00", "detected_at":
                                 "2026-03-09T10:00"}, "detected_at",
                                "You cannot notice it before it started."),
    "consent without contact": ({"reporter_consents_to_contact": "on"}, "reporter_email",
                                "To be contacted, give an e-mail or a phone number."),
}


@pytest.mark.parametrize("case", list(INVALID_FIELDS))
def test_an_invalid_field_is_refused_with_its_message_and_the_typed_values_kept(case, rules,
                                                                                media):
    overrides, field, message = INVALID_FIELDS[case]
    data = report_data(description="My unique description 4711", **overrides)

    response = submit(Client(), data, [png()])

    text = response.content.decode()
    assert response.status_code == 400
    assert message in text
    assert_error_tied(text, field, message)
    assert "My unique description 4711" in text
    if case != "empty title":
        assert "Fake bank SMS asking for a PIN" in text
    assert not Incident.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_a_file_too_large_is_refused(rules, media, settings):
    settings.PUBLIC_REPORT_MAX_FILE_BYTES = 2**20

    response = submit(Client(), report_data(), [png("big.png", size=2**20 + 1)])

    assert response.status_code == 400
    assert "big.png is larger than 1 MB." in response.content.decode()
    assert "Fake bank SMS asking for a PIN" in response.content.decode()
    assert not Incident.objects.exists()
    assert stored_files(media) == []


def test_files_too_large_together_are_refused(rules, media, settings):
    settings.PUBLIC_REPORT_MAX_TOTAL_BYTES = 2**20

    response = submit(Client(), report_data(),
                      [png("one.png", size=600_000), png("two.png", size=600_000)])

    assert response.status_code == 400
    assert "The files together are larger than 1 MB." in response.content.decode()
    assert not Incident.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_an_executable_named_pdf_is_refused(rules, media):
    executable = SimpleUploadedFile("report.pdf", b"MZ\x90\x00" + b"\x00" * 200,
                                    content_type="application/pdf")

    response = submit(Client(), report_data(), [executable])

    assert response.status_code == 400
    assert "report.pdf is not a PDF, image or plain text file" in response.content.decode()
    assert not Incident.objects.exists()
    assert stored_files(media) == []


def test_six_files_are_refused(rules, media):
    response = submit(Client(), report_data(), [png(f"shot{n}.png") for n in range(6)])

    assert response.status_code == 400
    assert "Send at most 5 files." in response.content.decode()
    assert not Incident.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_a_form_without_the_csrf_token_gets_the_readable_403(rules, media):
    response = submit(Client(enforce_csrf_checks=True), report_data(), [png()])

    assert response.status_code == 403
    assert [t.name for t in response.templates][0] == "403_csrf.html"
    assert "The form could not be sent" in response.content.decode()
    assert "Nothing was saved" in response.content.decode()
    assert not Incident.objects.exists()
    assert stored_files(media) == []


def test_a_form_with_the_csrf_token_from_the_page_is_accepted(rules):
    client = Client(enforce_csrf_checks=True)
    page = client.get(REPORT_URL).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)

    response = submit(client, report_data(submission_key=key, csrfmiddlewaretoken=csrf))

    assert response.status_code == 302
    assert Incident.objects.get().submission_key == key


def test_a_filled_honeypot_is_refused_and_nothing_saved(rules, media):
    response = submit(Client(), report_data(website="http://spam.example"), [png()])

    assert response.status_code == 400
    assert "Your report was not accepted" in response.content.decode()
    assert not Incident.objects.exists()
    assert stored_files(media) == []


def test_the_same_form_sent_twice_makes_one_incident(rules, media,
                                                     django_capture_on_commit_callbacks):
    client = Client()
    data = report_data(reporter_email="reporter@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        incident, token = submit_and_receive(client, data, [png()])
    notifications = Notification.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        again = submit(client, data, [png()])
    assert again.status_code == 302
    receipt = client.get(again["Location"]).content.decode()

    assert Incident.objects.count() == 1
    assert Attachment.objects.count() == 1
    assert len(stored_files(media)) == 1
    assert Notification.objects.count() == notifications
    assert Notification.objects.filter(kind=Notification.Kind.REPORT_CONFIRMATION).count() == 1
    assert "already received" in receipt
    assert incident.reference in receipt
    assert token not in receipt
    assert "Secret token" not in receipt


def test_a_failure_in_the_middle_leaves_nothing_behind(rules, media, monkeypatch):
    original = FileSystemStorage._save
    calls = []

    def failing_save(self, name, content):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", failing_save)
    client = Client(raise_request_exception=False)

    response = submit(client, report_data(), [png("one.png"), png("two.png")])

    assert len(calls) == 2
    assert response.status_code == 500
    assert not Incident.objects.exists()
    assert not Attachment.objects.exists()
    assert not TimelineEvent.objects.exists()
    assert stored_files(media) == []


# --- rate limits -------------------------------------------------------------------------------

def test_reports_are_rate_limited_but_showing_the_form_is_not(rules, settings):
    settings.REPORT_RATE_LIMIT = "2/hour"
    client = Client()
    for _ in range(5):
        assert client.get(REPORT_URL).status_code == 200

    first = submit(client, report_data())
    invalid = submit(client, report_data(title=""))  # comes back with errors: not counted
    second = submit(client, report_data())
    third = submit(client, report_data())

    assert first.status_code == 302
    assert invalid.status_code == 400
    assert second.status_code == 302
    assert third.status_code == 429
    assert int(third["Retry-After"]) > 0
    assert "Too many attempts" in third.content.decode()
    assert Incident.objects.count() == 2
    assert client.get(REPORT_URL).status_code == 200


def test_status_lookups_are_rate_limited(rules, settings):
    settings.STATUS_RATE_LIMIT = "2/hour"
    incident, token = submit_and_receive(Client(), report_data())
    client = Client()
    for _ in range(5):
        assert client.get(STATUS_URL).status_code == 200

    assert open_status(incident.reference, "0" * 32, client)[1].status_code == 400
    assert open_status(incident.reference, "1" * 32, client)[1].status_code == 400
    refused = open_status(incident.reference, token, client)[1]

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many attempts" in refused.content.decode()


# --- accessibility -----------------------------------------------------------------------------

class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.labels: set[str] = set()
        self.controls: list[dict] = []
        self.scripts = 0
        self.forms: list[dict] = []
        self.buttons: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label" and attrs.get("for"):
            self.labels.add(attrs["for"])
        elif tag in {"input", "select", "textarea"} and attrs.get("type") != "hidden":
            self.controls.append(attrs)
        elif tag == "script":
            self.scripts += 1
        elif tag == "form":
            self.forms.append(attrs)
        elif tag == "button":
            self.buttons.append(attrs)


def parse(text: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(text)
    return parser


def test_the_form_works_without_javascript_and_every_input_has_a_label(rules):
    response = Client().get(REPORT_URL)

    assert response.status_code == 200
    page = parse(response.content.decode())
    [form] = [f for f in page.forms if "public-form" in f.get("class", "")]
    assert form["method"] == "post"
    assert form["enctype"] == "multipart/form-data"
    assert form.get("action", "") in ("", REPORT_URL)
    assert [b for b in page.buttons if b.get("type") == "submit"]
    assert page.controls
    unlabelled = [control.get("name") for control in page.controls
                  if control.get("id") not in page.labels]
    assert unlabelled == []
    names = {control.get("name") for control in page.controls}
    assert {"category", "title", "description", "attachments", "reporter_email"} <= names


def test_errors_are_tied_to_their_fields(rules):
    response = submit(Client(), report_data(title="", reporter_email="nope"))

    assert response.status_code == 400
    page = parse(response.content.decode())
    text = response.content.decode()
    for field in ("title", "reporter_email"):
        [control] = [c for c in page.controls if c.get("name") == field]
        assert control.get("aria-invalid") == "true"
        described = control.get("aria-describedby", "").split()
        error_ids = [i for i in described if f'id="{i}"' in text and "error" in i]
        assert error_ids, (field, described)
    assert 'role="alert"' in text
    assert 'href="#id_title"' in text


# --- staff ---------------------------------------------------------------------------------------

def test_the_owner_cert_sees_the_public_report(rules, member):
    incident, _token = submit_and_receive(Client(), report_data(sector=sector_pk("banking")))

    handler = member("banking", "handler")
    assert incident in visible_incidents(handler)
    punjab_handler = member("punjab", "handler")
    assert incident not in visible_incidents(punjab_handler)


# --- secrets ------------------------------------------------------------------------------------

def test_the_token_is_not_kept_in_clear_in_the_session_store(rules):
    """DOMAIN.md §4: the token is stored hashed. Between the POST and the receipt page (or for
    the session's whole life, if the reporter never opens the receipt) it must not sit in clear
    in the server's session store."""
    client = Client()
    data = report_data()

    response = submit(client, data)

    assert response.status_code == 302
    incident = Incident.objects.get(submission_key=data["submission_key"])
    token = derive_token(incident)
    assert incident.reporter_token_hash == hash_token(token)
    for session in Session.objects.all():
        assert token not in repr(session.get_decoded())
        assert token not in session.session_data


def test_the_submission_key_alone_does_not_open_someone_elses_report(rules):
    """The same form sent again makes no new incident; but the key in it is stored in clear and
    must not work as a second token: a browser that did not send the report, posting its key,
    must not be let into the status page."""
    data = report_data()
    incident, _token = submit_and_receive(Client(), data)
    stranger = Client()

    again = submit(stranger, data)

    assert again.status_code == 302
    assert Incident.objects.count() == 1
    detail = stranger.get(f"{STATUS_URL}{incident.reference}/")
    assert detail.status_code == 302
    assert detail["Location"] == STATUS_URL


def test_an_attachment_name_is_cleaned_and_never_used_on_disk(rules, media):
    incident, _token = submit_and_receive(
        Client(), report_data(), [png("..\\..\\etc/.\x00evil<1>.png")])

    [attachment] = Attachment.objects.filter(incident=incident)
    assert attachment.original_name == "evil1.png"
    assert "evil" not in attachment.file.name
    assert (media / attachment.file.name).is_file()


def test_the_service_refuses_an_unknown_category_with_a_message(certs):
    # The form offers only known categories; the service still answers a caller that does not
    # use the form (the API, later) with a message instead of an error.
    from django.core.exceptions import ValidationError

    from incidents.public.reports import submit_report

    with pytest.raises(ValidationError) as refused:
        submit_report(submission_key="k" * 32, category="alien-invasion", title="x",
                      description="y")
    assert "Choose what happened from the list." in refused.value.message_dict["category"]
    assert not Incident.objects.exists()
