"""Attachments and monthly report PDFs encrypted at rest, served only as downloads, every download
of an attachment audited (issue 13, item 5); hostile file names (item 6)."""

from __future__ import annotations

import datetime
import hashlib
import io
import logging
import re
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from cert_portal import encryption
from cert_portal.audit.models import AuditEvent, AuditKind, Channel
from incidents.downloads import content_disposition
from incidents.files import NAME_MAX_CHARS, display_name
from incidents.models import Attachment, EventKind
from incidents.services import incident_attach, incident_share
from incidents.statistics import reports
from tests import startup
from tests.factories import make_incident
from tests.twofactor import sign_in

TEST_KEY = "BrZR1lfjpG-1yQflLY1XJvcMV0wDp9xuXWpjyQNdvlA="  # tests/settings.py
NEW_KEY = Fernet.generate_key().decode()
STRANGER_KEY = Fernet.generate_key().decode()
# Text a download must not change and disk must never show: HTML a browser would run if it
# rendered the file, with a marker that would show through an encoding that is not encryption.
PAYLOAD = (b"<html><script>alert('attachment')</script>"
           b"INDICATOR-6f1c2b leaked-password=hunter2</html>\n")
MARKER = b"INDICATOR-6f1c2b"


@pytest.fixture
def lahore_incident(certs, member):
    return make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                         title="Lahore phishing wave")


def attach(incident, actor, name="evidence.html", data=PAYLOAD):
    return incident_attach(incident=incident, actor=actor,
                           uploaded_file=SimpleUploadedFile(name, data))


def on_disk(media: Path, attachment) -> bytes:
    return (media / attachment.file.name).read_bytes()


def download_url(attachment) -> str:
    return reverse("incidents:attachment_download", args=[attachment.pk])


def downloads() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind=AuditKind.ATTACHMENT_DOWNLOADED))


# --- At rest ------------------------------------------------------------------------------------


def test_the_stored_file_is_a_token_only_the_key_opens(certs, member, media, lahore_incident):
    analyst = member("lahore", "analyst")

    attachment = attach(lahore_incident, analyst)

    attachment.refresh_from_db()
    stored = on_disk(media, attachment)
    assert attachment.encrypted
    assert PAYLOAD not in stored and MARKER not in stored and b"<script>" not in stored
    assert Fernet(TEST_KEY.encode()).decrypt(stored) == PAYLOAD
    with pytest.raises(InvalidToken):
        Fernet(STRANGER_KEY.encode()).decrypt(stored)
    # Size and SHA-256 are those of what was uploaded, as the timeline shows them.
    assert attachment.size == len(PAYLOAD)
    assert attachment.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert attachment.content_type == "text/plain"
    event = lahore_incident.events.filter(kind=EventKind.ATTACHMENT).get()
    assert event.new_value == (f"evidence.html ({len(PAYLOAD):,} bytes, "
                               f"sha256 {attachment.sha256[:12]}…)")


def test_a_failed_attach_leaves_no_file(certs, member, media, lahore_incident, monkeypatch):
    from incidents.services import contributions

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(contributions, "add_event", broken)
    with pytest.raises(RuntimeError):
        attach(lahore_incident, member("lahore", "analyst"))

    assert not Attachment.objects.exists()
    assert [path for path in media.rglob("*") if path.is_file()] == []


# --- Downloads ----------------------------------------------------------------------------------


def assert_safe_download(response, body: bytes, disposition: str) -> None:
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == disposition
    assert response["Content-Length"] == str(len(body))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in [part.strip() for part in response["Cache-Control"].split(",")]


def test_download_is_the_plaintext_as_an_attachment_with_every_header(certs, member, media,
                                                                      lahore_incident):
    attachment = attach(lahore_incident, member("lahore", "analyst"))
    client = sign_in(Client(), member("lahore", "liaison"))

    response = client.get(download_url(attachment))

    assert_safe_download(response, PAYLOAD, 'attachment; filename="evidence.html"')


# The access table of DOMAIN.md §2 for a TLP:AMBER incident of Lahore shared with Karachi.
ALLOWED = [("lahore", "liaison"),   # owner, the least role
           ("punjab", "analyst"),   # parent (oversight)
           ("national", "head"),    # root (oversight)
           ("karachi", "analyst")]  # shared with
REFUSED = [("sindh", "head"),       # unrelated provincial CERT
           ("rawalpindi", "head"),  # sibling of the owner
           ("banking", "handler")]  # another branch of the tree


@pytest.mark.parametrize(("slug", "role"), ALLOWED)
def test_an_allowed_download_records_one_audit_event(certs, member, media, lahore_incident,
                                                     slug, role):
    handler = member("lahore", "handler")
    incident_share(incident=lahore_incident, actor=handler, cert=certs["karachi"])
    attachment = attach(lahore_incident, handler)
    user = member(slug, role)
    client = sign_in(Client(), user)
    before = AuditEvent.objects.count()

    response = client.get(download_url(attachment), REMOTE_ADDR="198.51.100.7")

    assert_safe_download(response, PAYLOAD, 'attachment; filename="evidence.html"')
    assert AuditEvent.objects.count() == before + 1
    [event] = downloads()
    assert (event.actor, event.cert, event.object_cert) == (user, certs[slug], certs["lahore"])
    assert (event.object_type, event.object_id) == ("attachment", str(attachment.pk))
    assert event.object_label == f"{lahore_incident.reference}: evidence.html"
    assert event.channel == Channel.DASHBOARD
    assert event.client_address == "198.51.100.7"
    assert event.detail == {"sha256": attachment.sha256, "size": len(PAYLOAD)}


@pytest.mark.parametrize(("slug", "role"), REFUSED)
def test_a_refused_download_is_404_and_records_nothing(certs, member, media, lahore_incident,
                                                       slug, role):
    handler = member("lahore", "handler")
    incident_share(incident=lahore_incident, actor=handler, cert=certs["karachi"])
    attachment = attach(lahore_incident, handler)
    client = sign_in(Client(), member(slug, role))

    response = client.get(download_url(attachment))

    assert response.status_code == 404
    assert MARKER not in response.content
    assert downloads() == []


def test_outsider_anonymous_and_missing_get_404_and_nothing_recorded(certs, member, media, outsider,
                                                                      lahore_incident):
    attachment = attach(lahore_incident, member("lahore", "handler"))

    assert Client().get(download_url(attachment)).status_code == 404
    client = sign_in(Client(), outsider)
    assert client.get(download_url(attachment)).status_code == 404
    owner = sign_in(Client(), member("lahore", "handler"))
    missing = reverse("incidents:attachment_download", args=[attachment.pk + 1000])
    assert owner.get(missing).status_code == 404
    assert downloads() == []


def test_oversight_stops_at_tlp_red(certs, member, media):
    red = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                        tlp="TLP:RED")
    attachment = attach(red, member("lahore", "handler"))

    assert sign_in(Client(), member("punjab", "head")).get(download_url(attachment)).status_code == 404
    assert downloads() == []
    owner = sign_in(Client(), member("lahore", "analyst"))
    assert owner.get(download_url(attachment)).status_code == 200
    assert len(downloads()) == 1


def test_a_file_stored_in_clear_before_encryption_still_downloads(certs, member, media,
                                                                  lahore_incident):
    legacy = Attachment.objects.create(
        incident=lahore_incident, original_name="old.txt", size=len(PAYLOAD),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(), content_type="text/plain",
        created_at=lahore_incident.created_at, file=ContentFile(PAYLOAD, name="old"))
    assert not legacy.encrypted

    response = sign_in(Client(), member("lahore", "analyst")).get(download_url(legacy))

    assert_safe_download(response, PAYLOAD, 'attachment; filename="old.txt"')


def test_a_file_no_key_decrypts_gives_a_clear_page_and_a_logged_error(certs, member, media,
                                                                      lahore_incident, settings,
                                                                      caplog):
    attachment = attach(lahore_incident, member("lahore", "handler"))
    client = sign_in(Client(), member("lahore", "analyst"))
    settings.ATTACHMENT_ENCRYPTION_KEYS = [STRANGER_KEY]

    with caplog.at_level(logging.ERROR, logger="incidents.downloads"):
        response = client.get(download_url(attachment))

    assert response.status_code == 503
    page = response.content.decode()
    assert "This file cannot be opened" in page and "not something you did" in page
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    assert "no-store" in response["Cache-Control"]
    [logged] = [r for r in caplog.records if r.name == "incidents.downloads"]
    assert logged.levelno == logging.ERROR
    assert attachment.file.name in logged.getMessage()
    assert "ATTACHMENT_ENCRYPTION_KEYS" in logged.getMessage()
    assert downloads() == []


def test_the_unreadable_file_page_speaks_urdu(certs, member, media, lahore_incident, settings):
    attachment = attach(lahore_incident, member("lahore", "handler"))
    client = sign_in(Client(), member("lahore", "analyst"))
    settings.ATTACHMENT_ENCRYPTION_KEYS = [STRANGER_KEY]

    response = client.get(download_url(attachment), HTTP_ACCEPT_LANGUAGE="ur")

    assert response.status_code == 503
    assert "یہ فائل کھولی نہیں جا سکتی" in response.content.decode()


def test_a_file_missing_from_storage_gives_the_same_page(certs, member, media, lahore_incident,
                                                         caplog):
    attachment = attach(lahore_incident, member("lahore", "handler"))
    (media / attachment.file.name).unlink()

    with caplog.at_level(logging.ERROR, logger="incidents.downloads"):
        response = sign_in(Client(), member("lahore", "analyst")).get(download_url(attachment))

    assert response.status_code == 503
    assert "This file cannot be opened" in response.content.decode()
    assert any(attachment.file.name in r.getMessage() for r in caplog.records)
    assert downloads() == []


# --- Hostile names ------------------------------------------------------------------------------

LONG = "x" * 1000 + ".pdf"


@pytest.mark.parametrize(("given", "shown"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("a\r\nSet-Cookie: x=y.txt", "aSet-Cookie: x=y.txt"),
    ("\u202egnp.exe", "gnp.exe"),                  # right-to-left override: "exe.png" shown
    ("in\u200bvoice\u2028.pdf", "invoice.pdf"),   # zero-width space, line separator
    ("evil\x00.txt\x00.png", "evil.txt.png"),
    (LONG, "x" * (NAME_MAX_CHARS - 4) + ".pdf"),
    ("x" * 1000, "x" * NAME_MAX_CHARS),
    (".", "attachment"),
    ("..", "attachment"),
    ("...", "attachment"),
    (".htaccess", "htaccess"),
    ("report. . .", "report"),
    ("", "attachment"),
    ("رپورٹ.pdf", "رپورٹ.pdf"),
    ("cafe\u0301.txt", "café.txt"),               # NFC
])
def test_display_name(given, shown):
    assert display_name(given) == shown


@pytest.mark.parametrize("given", ["../../etc/passwd", "..\\..\\boot.ini", "a\r\nSet-Cookie: x=y.txt",
                                   "\u202egnp.exe", LONG, ".", "..", "/etc/cron.d/job",
                                   "C:\\Windows\\system32\\evil.dll"])
def test_a_hostile_name_is_stored_inside_media_root_and_served_with_a_safe_header(
        certs, member, media, lahore_incident, given):
    # ContentFile keeps the name as given: Django's upload parser and UploadedFile would already
    # drop the directories, and the service must not count on that.
    attachment = incident_attach(incident=lahore_incident, actor=member("lahore", "handler"),
                                 uploaded_file=ContentFile(PAYLOAD, name=given))

    attachment.refresh_from_db()
    assert attachment.original_name == display_name(given)
    assert re.fullmatch(rf"incidents/{lahore_incident.public_id}/[0-9a-f]{{32}}", attachment.file.name)
    stored = (media / attachment.file.name).resolve()
    assert stored.is_relative_to(media.resolve()) and stored.is_file()
    assert [path for path in media.rglob("*") if path.is_file()] == [stored]
    response = sign_in(Client(), member("lahore", "analyst")).get(download_url(attachment))
    disposition = response["Content-Disposition"]
    assert b"".join(response.streaming_content) == PAYLOAD
    assert disposition.startswith("attachment; filename=")
    assert not re.search(r"[\x00-\x1f\x7f/\\]", disposition.split("filename*=")[0])
    assert "\u202e" not in disposition and "Set-Cookie" not in response.headers.get("Set-Cookie", "")
    assert "x" not in response.cookies


def test_a_hostile_name_is_rendered_escaped(certs, member, media, lahore_incident):
    name = "<img src=x onerror=alert(1)>&\"'.txt"
    attachment = incident_attach(incident=lahore_incident, actor=member("lahore", "handler"),
                                 uploaded_file=ContentFile(PAYLOAD, name=name))
    client = sign_in(Client(), member("lahore", "analyst"))

    page = client.get(reverse("dashboard:incident", args=[lahore_incident.reference]) + "?tab=files")

    content = page.content.decode()
    assert page.status_code == 200
    assert "<img src=x onerror" not in content
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#x27;.txt" in content
    disposition = client.get(download_url(attachment))["Content-Disposition"]
    # `"` would end the quoted name: a stand-in for old clients, the real name in filename*.
    assert disposition == ("attachment; filename=\"<img src=x onerror=alert(1)>&_'.txt\"; "
                           "filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%26%22%27.txt")


@pytest.mark.parametrize(("name", "header"), [
    ("report.pdf", 'attachment; filename="report.pdf"'),
    ("رپورٹ.pdf", "attachment; filename=\"download.pdf\"; "
                  "filename*=UTF-8''%D8%B1%D9%BE%D9%88%D8%B1%D9%B9.pdf"),
    ("café menu.txt", "attachment; filename=\"cafe menu.txt\"; "
                      "filename*=UTF-8''caf%C3%A9%20menu.txt"),
    ("100%.txt", "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
    ('say "hi".txt', "attachment; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt"),
    ("a\r\nb.txt", 'attachment; filename="ab.txt"'),
])
def test_content_disposition_follows_rfc_6266(name, header):
    assert content_disposition(name) == header


def multipart(disposition: bytes, data: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart body with `fields` and one file part whose Content-Disposition parameters
    after the field name are `disposition`, byte for byte."""
    boundary = "----h6boundary" + uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
             for key, value in fields.items()]
    parts.append(f"--{boundary}\r\n".encode()
                 + b'Content-Disposition: form-data; name="file"; ' + disposition + b"\r\n"
                 + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post_file(client, incident, disposition: bytes):
    body, content_type = multipart(disposition, PAYLOAD, {"version": str(incident.version)})
    return client.generic("POST", reverse("dashboard:incident_action",
                                          args=[incident.reference, "attach"]),
                          body, content_type=content_type)


def test_a_filename_of_bytes_that_are_not_utf8_is_refused_with_a_message(certs, member, media,
                                                                         lahore_incident):
    client = sign_in(Client(), member("lahore", "handler"))

    response = post_file(client, lahore_incident, b'filename="\xff\xfe\xc3(evil.txt"')

    # Django's upload parser drops a part whose headers are not UTF-8: the form asks for a file.
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Attachment.objects.exists()
    assert [path for path in media.rglob("*") if path.is_file()] == []


def test_an_encoded_filename_that_is_not_utf8_is_kept_readable(certs, member, media,
                                                               lahore_incident):
    client = sign_in(Client(), member("lahore", "handler"))

    response = post_file(client, lahore_incident, b"filename*=UTF-8''%FF%FE%C3(evil.txt")

    assert response.status_code == 302
    attachment = Attachment.objects.get(incident=lahore_incident)
    # The broken bytes became U+FFFD: a valid name, shown as such.
    assert attachment.original_name == "\ufffd\ufffd\ufffd(evil.txt"
    assert attachment.read_plaintext() == PAYLOAD
    disposition = client.get(download_url(attachment))["Content-Disposition"]
    assert disposition == ("attachment; filename=\"(evil.txt\"; "
                           "filename*=UTF-8''%EF%BF%BD%EF%BF%BD%EF%BF%BD%28evil.txt")


@pytest.mark.parametrize("filename", [b'filename="."', b'filename=".."', b'filename="../.."'])
def test_a_multipart_file_named_only_dots_is_refused_with_a_message(certs, member, media,
                                                                  lahore_incident, filename):
    client = sign_in(Client(), member("lahore", "handler"))

    response = post_file(client, lahore_incident, filename)

    # Django's upload parser drops a file called "." or "..": the form asks for a file.
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Attachment.objects.exists()
    assert [path for path in media.rglob("*") if path.is_file()] == []


# --- Key rotation -------------------------------------------------------------------------------


def rotate_keys(**options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_attachment_keys", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def stored_files(media: Path) -> set[str]:
    return {str(path.relative_to(media)) for path in media.rglob("*") if path.is_file()}


@pytest.fixture
def report(certs, media, monkeypatch):
    """Punjab's report for March 2026, with a small stand-in PDF (WeasyPrint is tested in
    tests/statistics)."""
    monkeypatch.setattr(reports, "render_pdf", lambda html: b"%PDF-1.7 Punjab " + MARKER)
    return reports.build_monthly_report(cert=certs["punjab"], month=datetime.date(2026, 3, 1))


def test_rotation_end_to_end(certs, member, media, lahore_incident, settings, report):
    handler = member("lahore", "handler")
    current = attach(lahore_incident, handler, name="current.html")
    legacy = Attachment.objects.create(
        incident=lahore_incident, original_name="legacy.txt", size=len(PAYLOAD),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(), content_type="text/plain",
        created_at=lahore_incident.created_at, file=ContentFile(PAYLOAD, name="legacy"))
    old_names = {current.file.name, legacy.file.name, report.pdf.name}

    # 1. A new key first, the old one after it.
    settings.ATTACHMENT_ENCRYPTION_KEYS = [NEW_KEY, TEST_KEY]
    out, err = rotate_keys()

    assert err == ""
    assert "Attachments: 1 re-encrypted under the first key, 1 encrypted (were stored in clear), " \
           "0 already under the first key, 0 changed while this ran (run again), 0 failed." in out
    assert "Monthly report PDFs: 1 re-encrypted under the first key" in out
    for row in (current, legacy, report):
        row.refresh_from_db()
    assert current.encrypted and legacy.encrypted and report.pdf_encrypted
    new_names = {current.file.name, legacy.file.name, report.pdf.name}
    # New files written, rows switched, old files deleted: nothing else is left in storage.
    assert not new_names & old_names
    assert stored_files(media) == new_names
    for row, plaintext in ((current, PAYLOAD), (legacy, PAYLOAD)):
        token = on_disk(media, row)
        assert MARKER not in token
        assert Fernet(NEW_KEY.encode()).decrypt(token) == plaintext
    assert Fernet(NEW_KEY.encode()).decrypt((media / report.pdf.name).read_bytes()).startswith(b"%PDF")
    assert legacy.original_name == "legacy.txt" and legacy.sha256 == hashlib.sha256(PAYLOAD).hexdigest()

    # 2. Again: nothing to do, nothing rewritten.
    out, _err = rotate_keys()
    assert "Attachments: 0 re-encrypted under the first key, 0 encrypted (were stored in clear), " \
           "2 already under the first key" in out
    assert stored_files(media) == new_names

    # 3. The old key removed: every file still downloads, and new files use the new key.
    settings.ATTACHMENT_ENCRYPTION_KEYS = [NEW_KEY]
    client = sign_in(Client(), member("lahore", "analyst"))
    for row in (current, legacy):
        response = client.get(download_url(row))
        assert b"".join(response.streaming_content) == PAYLOAD
    punjab = sign_in(Client(), member("punjab", "analyst"))
    pdf = punjab.get(f"/dashboard/reports/{report.public_id}/pdf/")
    assert b"".join(pdf.streaming_content) == b"%PDF-1.7 Punjab " + MARKER
    fresh = attach(lahore_incident, handler, name="fresh.txt")
    assert Fernet(NEW_KEY.encode()).decrypt(on_disk(media, fresh)) == PAYLOAD


def test_rotation_names_a_file_no_key_decrypts_goes_on_and_fails_at_the_end(
        certs, member, media, lahore_incident, settings):
    handler = member("lahore", "handler")
    settings.ATTACHMENT_ENCRYPTION_KEYS = [STRANGER_KEY]
    lost = attach(lahore_incident, handler, name="lost.txt")
    settings.ATTACHMENT_ENCRYPTION_KEYS = [TEST_KEY]
    fine = attach(lahore_incident, handler, name="fine.txt")
    settings.ATTACHMENT_ENCRYPTION_KEYS = [NEW_KEY, TEST_KEY]

    with pytest.raises(CommandError, match="1 file\\(s\\) could not be re-encrypted"):
        rotate_keys()

    lost_name = lost.file.name
    lost.refresh_from_db()
    fine.refresh_from_db()
    assert lost.file.name == lost_name and (media / lost_name).is_file()  # left as it was
    assert Fernet(NEW_KEY.encode()).decrypt(on_disk(media, fine)) == PAYLOAD  # still done

    # With the missing key added, a run carries on where the first stopped.
    settings.ATTACHMENT_ENCRYPTION_KEYS = [NEW_KEY, TEST_KEY, STRANGER_KEY]
    out, err = rotate_keys()
    assert "Attachments: 1 re-encrypted under the first key, 0 encrypted (were stored in clear), " \
           "1 already under the first key" in out and err == ""
    lost.refresh_from_db()
    assert Fernet(NEW_KEY.encode()).decrypt(on_disk(media, lost)) == PAYLOAD


def test_rotation_output_names_the_file(certs, member, media, lahore_incident, settings):
    settings.ATTACHMENT_ENCRYPTION_KEYS = [STRANGER_KEY]
    lost = attach(lahore_incident, member("lahore", "handler"), name="lost.txt")
    settings.ATTACHMENT_ENCRYPTION_KEYS = [NEW_KEY]
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("rotate_attachment_keys", stdout=io.StringIO(), stderr=err)

    assert (f"FAILED attachment {lost.pk} ({lost.file.name}): no key in ATTACHMENT_ENCRYPTION_KEYS "
            f"decrypts it; left as it is.") in err.getvalue()


def test_rotation_refuses_a_clear_file_that_does_not_match_its_hash(certs, member, media,
                                                                    lahore_incident):
    altered = Attachment.objects.create(
        incident=lahore_incident, original_name="altered.txt", size=len(PAYLOAD),
        sha256=hashlib.sha256(b"something else").hexdigest(), content_type="text/plain",
        created_at=lahore_incident.created_at, file=ContentFile(PAYLOAD, name="altered"))
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("rotate_attachment_keys", stdout=io.StringIO(), stderr=err)

    assert "does not match its recorded SHA-256" in err.getvalue()
    altered.refresh_from_db()
    assert not altered.encrypted and on_disk(media, altered) == PAYLOAD


def test_rotation_leaves_a_row_changed_meanwhile_and_its_new_file_removed(
        certs, member, media, lahore_incident, settings, monkeypatch):
    attachment = attach(lahore_incident, member("lahore", "handler"))
    settings.ATTACHMENT_ENCRYPTION_KEYS = [NEW_KEY, TEST_KEY]
    real_rotate = encryption.rotate

    def rotate_while_the_row_moves(token, *, name=""):
        # Another process moves the row to another file between our read and our switch.
        Attachment.objects.filter(pk=attachment.pk).update(file="incidents/elsewhere")
        return real_rotate(token, name=name)

    from incidents.management.commands import rotate_attachment_keys as command
    monkeypatch.setattr(command, "rotate", rotate_while_the_row_moves)
    before = stored_files(media)

    out, _err = rotate_keys()

    assert "1 changed while this ran (run again)" in out
    assert stored_files(media) == before  # the file written for the switch was removed


# --- Monthly report PDFs ------------------------------------------------------------------------


def test_a_report_pdf_is_encrypted_and_downloads_as_a_safe_attachment(certs, member, media, report,
                                                                      settings):
    stored = (media / report.pdf.name).read_bytes()
    assert report.pdf_encrypted and MARKER not in stored and not stored.startswith(b"%PDF")
    assert Fernet(TEST_KEY.encode()).decrypt(stored) == b"%PDF-1.7 Punjab " + MARKER
    url = f"/dashboard/reports/{report.public_id}/pdf/"

    response = sign_in(Client(), member("punjab", "analyst")).get(url)

    assert_safe_download(response, b"%PDF-1.7 Punjab " + MARKER,
                         'attachment; filename="punjab-report-2026-03.pdf"')
    assert sign_in(Client(), member("lahore", "head")).get(url).status_code == 404
    settings.ATTACHMENT_ENCRYPTION_KEYS = [STRANGER_KEY]
    unreadable = sign_in(Client(), member("punjab", "head")).get(url)
    assert unreadable.status_code == 503
    assert "This file cannot be opened" in unreadable.content.decode()


# --- Settings -----------------------------------------------------------------------------------


def test_parse_keys_reads_a_comma_separated_list_in_order():
    assert encryption.parse_keys(f" {NEW_KEY} ,{TEST_KEY},") == [NEW_KEY, TEST_KEY]
    assert encryption.parse_keys("") == []


def test_the_development_key_is_a_fernet_key_derived_from_the_secret_key():
    key = encryption.development_key("some secret")
    assert Fernet(key.encode())  # a valid key
    assert key == encryption.development_key("some secret")
    assert key != encryption.development_key("another secret")


def assert_refused(result, *words: str) -> None:
    assert result.returncode != 0, result.stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line, result.stderr
    for word in words:
        assert word in last_line, result.stderr


def test_start_up_refuses_a_malformed_key_naming_its_position_but_not_the_key():
    result = startup.start_django("1", DEBUG="1",
                                  ATTACHMENT_ENCRYPTION_KEYS=f"{TEST_KEY},not-a-key-at-all")
    assert_refused(result, "ATTACHMENT_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key",
                   "urlsafe_b64encode(os.urandom(32))")
    assert "not-a-key-at-all" not in result.stderr


def test_start_up_without_a_key_and_debug_off_fails_naming_the_setting():
    result = startup.start_django("1", DEBUG="0", SECRET_KEY="x" * 40,
                                  PORTAL_BASE_URL="https://cert.example.gov.pk",
                                  ATTACHMENT_ENCRYPTION_KEYS="")
    assert_refused(result, "ATTACHMENT_ENCRYPTION_KEYS is not set")


def test_start_up_with_debug_on_and_no_key_derives_one_and_warns():
    result = startup.start_django("settings.ATTACHMENT_ENCRYPTION_KEYS", DEBUG="1",
                                  SECRET_KEY="a local secret key", ATTACHMENT_ENCRYPTION_KEYS="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([encryption.development_key("a local secret key")])
    assert "ATTACHMENT_ENCRYPTION_KEYS is not set" in result.stderr
    assert "development key derived from SECRET_KEY" in result.stderr


def test_start_up_reads_the_keys_in_order():
    result = startup.start_django("settings.ATTACHMENT_ENCRYPTION_KEYS", DEBUG="0",
                                  SECRET_KEY="x" * 40, PORTAL_BASE_URL="https://cert.example.gov.pk",
                                  ATTACHMENT_ENCRYPTION_KEYS=f"{NEW_KEY}, {TEST_KEY}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([NEW_KEY, TEST_KEY])
    assert result.stderr.strip() == ""
