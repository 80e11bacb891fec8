"""The database going away, or the attachment store failing, in the middle of a write (issue 13,
item 4): the public report form, the staff upload and the API upload answer 503 with
Retry-After and a message that says nothing was stored and to send it again, and nothing of the
write is left: no incident, no attachment row, no file on disk (cert_portal/unavailable.py,
cert_portal/storage.py).

The database "goes away" at a chosen INSERT: an execute wrapper raises OperationalError there,
after the earlier INSERTs of the same transaction ran, as a connection lost mid-transaction does.
The store fails in FileSystemStorage._save (ENOSPC, EIO), or half-way through writing a file.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from django.urls import reverse

from cert_portal.unavailable import RETRY_AFTER_SECONDS, failed_part
from incidents.models import Attachment, Incident, Notification, TimelineEvent
from tests.factories import make_incident
from tests.incidents.test_public_reports import PNG, report_data, stored_files, submit

PROBLEM = "application/problem+json"


class DatabaseGoesAway:
    """An execute wrapper: the first INSERT into `table` raises OperationalError, as a server
    that closed the connection does; it remembers the tables written to before that."""

    def __init__(self, table: str):
        self.table = table
        self.inserted: list[str] = []
        self.failed = False

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith("INSERT"):
            table = sql.split("(")[0].split("INTO")[-1].strip().strip('"')
            if table == self.table and not self.failed:
                self.failed = True
                raise OperationalError("server closed the connection unexpectedly")
            self.inserted.append(table)
        return execute(sql, params, many, context)


@contextmanager
def database_goes_away_at(table: str):
    failure = DatabaseGoesAway(table)
    with connection.execute_wrapper(failure):
        yield failure
    assert failure.failed, f"nothing was inserted into {table}: the test proved nothing"


def store_fails(monkeypatch, code: int) -> None:
    def _save(self, name, content):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("django.core.files.storage.FileSystemStorage._save", _save)


def assert_try_again_page(response, *, language: str = "en") -> str:
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    assert f'<html lang="{language}"' in text
    return text


def assert_try_again_problem(response) -> dict:
    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    body = response.json()
    assert body["status"] == 503 and body["type"].endswith("/api/problems/unavailable")
    return body


# --- The public report form ---------------------------------------------------------------------


@pytest.mark.parametrize("language, stored_message, again_message", [
    ("en", "Nothing you sent was stored.", "send it again in a few minutes"),
    ("ur", "آپ کا بھیجا ہوا کچھ بھی محفوظ نہیں ہوا۔", "چند منٹ بعد دوبارہ بھیجیں"),
])
def test_the_database_going_away_during_a_report_stores_nothing_and_says_try_again(
        rules, media, language, stored_message, again_message):
    data = report_data()
    client = Client(HTTP_ACCEPT_LANGUAGE=language)

    with database_goes_away_at("incidents_notification") as failure:
        response = submit(client, data, [SimpleUploadedFile("shot.png", PNG)])

    # The incident, its event and its attachment were written before the connection was lost.
    assert {"incidents_incident", "incidents_timelineevent", "incidents_attachment"} <= set(
        failure.inserted)
    text = assert_try_again_page(response, language=language)
    assert stored_message in text and again_message in text
    assert not Incident.objects.filter(submission_key=data["submission_key"]).exists()
    assert not Attachment.objects.exists()
    assert not Notification.objects.exists()
    assert stored_files(media) == []

    # The database is back: the same form, sent again, is stored once.
    again = submit(client, data, [SimpleUploadedFile("shot.png", PNG)])
    assert again.status_code == 302
    assert Incident.objects.filter(submission_key=data["submission_key"]).count() == 1
    assert len(stored_files(media)) == 1


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_failing_store_rolls_the_report_back(rules, media, monkeypatch, code):
    store_fails(monkeypatch, code)
    data = report_data()

    response = submit(Client(), data, [SimpleUploadedFile("shot.png", PNG)])

    text = assert_try_again_page(response)
    assert "The portal cannot save files right now." in text
    assert "Nothing you sent was stored." in text
    assert not Incident.objects.filter(submission_key=data["submission_key"]).exists()
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_a_disk_that_fills_up_half_way_through_a_file_leaves_no_partial_file(
        rules, media, monkeypatch, settings):
    """The disk fills up after the file was created and partly written: the portal's storage
    removes it (Django's own FileSystemStorage would leave it, under a name no row holds)."""
    settings.STORAGES = {**settings.STORAGES,
                         "default": {"BACKEND": "cert_portal.storage.FileSystemStorage"}}
    real_fdopen = os.fdopen

    class FillsUp:
        def __init__(self, file):
            self.file = file

        def write(self, chunk):
            self.file.write(chunk[:10])
            self.file.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            self.file.close()

    written = []

    def fdopen(fd, mode="r", *args, **kwargs):
        file = real_fdopen(fd, mode, *args, **kwargs)
        if "w" in mode:
            written.append(os.readlink(f"/proc/self/fd/{fd}"))
            return FillsUp(file)
        return file

    monkeypatch.setattr(os, "fdopen", fdopen)
    data = report_data()

    response = submit(Client(), data, [SimpleUploadedFile("shot.png", PNG)])

    assert_try_again_page(response)
    assert written and written[0].startswith(str(media)), written  # a file was really begun
    assert not Incident.objects.filter(submission_key=data["submission_key"]).exists()
    assert stored_files(media) == []


# --- Staff upload in the dashboard ---------------------------------------------------------------


@pytest.fixture
def lahore_incident(certs):
    return make_incident(owner_cert=certs["lahore"], title="Defacement of lahore.gov.pk")


def staff_attach(client, incident):
    return client.post(reverse("dashboard:incident_action", args=[incident.reference, "attach"]),
                       {"version": incident.version,
                        "file": SimpleUploadedFile("evidence.pdf", b"%PDF-1.4 evidence")})


def test_staff_upload_when_the_database_goes_away(member, staff_client, lahore_incident, media):
    client = staff_client(member("lahore", "handler"))
    events = TimelineEvent.objects.filter(incident=lahore_incident).count()

    with database_goes_away_at("incidents_timelineevent") as failure:
        response = staff_attach(client, lahore_incident)

    assert "incidents_attachment" in failure.inserted
    text = assert_try_again_page(response)
    assert "The portal cannot reach its database right now." in text
    assert not Attachment.objects.exists()
    assert TimelineEvent.objects.filter(incident=lahore_incident).count() == events
    assert stored_files(media) == []


def test_staff_upload_when_the_store_fails(member, staff_client, lahore_incident, media,
                                           monkeypatch):
    client = staff_client(member("lahore", "handler"))
    store_fails(monkeypatch, errno.ENOSPC)

    response = staff_attach(client, lahore_incident)

    assert "The portal cannot save files right now." in assert_try_again_page(response)
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_a_member_who_may_not_see_the_incident_still_gets_404(member, staff_client,
                                                              lahore_incident, media, monkeypatch):
    """The failure answers only after access was decided: it tells an outsider nothing."""
    store_fails(monkeypatch, errno.ENOSPC)

    response = staff_attach(staff_client(member("banking", "handler")), lahore_incident)

    assert response.status_code == 404
    assert not Attachment.objects.exists()


# --- API upload -----------------------------------------------------------------------------------


def api_upload(client, incident):
    return client.post(f"/api/v1/incidents/{incident.reference}/attachments/",
                       {"file": SimpleUploadedFile("report.pdf", b"%PDF-1.4 small")},
                       format="multipart")


def test_api_upload_when_the_database_goes_away(key_client, lahore_incident, media):
    client = key_client("lahore")

    with database_goes_away_at("incidents_timelineevent"):
        response = api_upload(client, lahore_incident)

    body = assert_try_again_problem(response)
    assert body["detail"] == ("The portal's database is not reachable right now. Nothing of "
                              "this request was stored: send it again in a few minutes.")
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_api_upload_when_the_store_fails(key_client, lahore_incident, media, monkeypatch):
    store_fails(monkeypatch, errno.EIO)

    response = api_upload(key_client("lahore"), lahore_incident)

    assert "file store cannot save files" in assert_try_again_problem(response)["detail"]
    assert not Attachment.objects.exists()
    assert stored_files(media) == []
    # Another CERT's key learns nothing from the failure: 404 as always.
    assert api_upload(key_client("banking"), lahore_incident).status_code == 404


# --- Which errors are answered so -------------------------------------------------------------------


@pytest.mark.parametrize("method, exception, part", [
    ("get", OperationalError("gone"), "database"),
    ("post", OperationalError("gone"), "database"),
    ("post", OSError(errno.ENOSPC, "full"), "store"),
    ("put", OSError(errno.EROFS, "read-only"), "store"),
    # A read that fails on the store is not a failed write; a missing file or a permission denied
    # is a deployment's fault, not "try again": both stay server errors.
    ("get", OSError(errno.EIO, "I/O"), None),
    ("post", OSError(errno.ENOENT, "missing"), None),
    ("post", OSError(errno.EACCES, "denied"), None),
    ("post", ValueError("a bug"), None),
])
def test_which_failures_answer_try_again(method, exception, part):
    assert failed_part(getattr(RequestFactory(), method)("/"), exception) == part


def test_a_read_when_the_database_is_down_says_reload(db):
    def down(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(down):
        response = Client().get("/advisories/")

    text = assert_try_again_page(response)
    assert "Reload this page in a few minutes." in text
    assert "Nothing you sent was stored." not in text
