"""Limits and clear answers of the public reporting pages (issue 7, findings 3, 5, 6 and 9):
every public write is limited per client and per report, a post that comes back with form errors
uses up nothing, dates outside a sensible range are refused on their field, and a damaged form,
an oversized field or too many files get an answer that says what to do."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from incidents import access
from incidents.models import Attachment, Comment, Incident
from incidents.public.forms import SUBMISSION_KEY
from tests.incidents.support import T0, FrozenClock
from tests.incidents.test_public_reports import (
    REPORT_URL,
    STATUS_URL,
    assert_error_tied,
    open_status,
    png,
    report_data,
    stored_files,
    submit,
    submit_and_receive,
)

SECOND_CLIENT = "203.0.113.50"


def exe() -> SimpleUploadedFile:
    return SimpleUploadedFile("report.pdf", b"MZ\x90\x00" + b"\x00" * 200,
                              content_type="application/pdf")


def follow_up(client: Client, incident: Incident, message="More information.", files=()):
    payload = {"message": message}
    if files:
        payload["attachments"] = list(files)
    return client.post(f"{STATUS_URL}{incident.reference}/", payload)


def effects(media_root) -> tuple[int, int, int, int]:
    """What the public writes leave behind: incidents, comments, attachments, files on disk."""
    return (Incident.objects.count(), Comment.objects.count(), Attachment.objects.count(),
            len(stored_files(media_root)))


def assert_refused_429(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many attempts" in response.content.decode()


# --- finding 6: follow-ups -------------------------------------------------------------------

def test_the_follow_up_after_the_limit_of_one_client_answers_429_and_stores_nothing(
        rules, media, settings):
    settings.FOLLOW_UP_RATE_LIMIT = "3/hour"
    client = Client()
    incident, _token = submit_and_receive(client, report_data())

    sent = [follow_up(client, incident, f"Message {n}") for n in range(3)]
    before = effects(media)
    refused = follow_up(client, incident, "One too many", [png("late.png")])

    assert [response.status_code for response in sent] == [302, 302, 302]
    assert_refused_429(refused)
    assert effects(media) == before
    assert not Comment.objects.filter(body="One too many").exists()


def test_with_the_default_limits_a_flood_of_follow_ups_is_stopped(rules, media):
    """Finding 6 as it was found: one client sending follow-up after follow-up."""
    client = Client()
    incident, _token = submit_and_receive(client, report_data())

    responses = [follow_up(client, incident, f"Message {n}") for n in range(21)]

    assert [response.status_code for response in responses] == [302] * 20 + [429]
    assert Comment.objects.filter(incident=incident).count() == 20


def test_with_the_default_limits_batches_of_five_files_stop_at_the_report_cap(rules, media):
    """Finding 6 as it was found: 4 follow-ups of 5 files each, one after the other."""
    client = Client()
    incident, _token = submit_and_receive(client, report_data())

    responses = [follow_up(client, incident, "", [png(f"{batch}-{n}.png") for n in range(5)])
                 for batch in range(4)]

    assert [response.status_code for response in responses] == [302, 302, 400, 400]
    assert Attachment.objects.filter(incident=incident).count() == 10
    assert len(stored_files(media)) == 10


def test_follow_ups_to_one_report_are_limited_whatever_client_sends_them(rules, media,
                                                                         settings):
    settings.FOLLOW_UP_RATE_LIMIT = "0"
    settings.FOLLOW_UP_REPORT_RATE_LIMIT = "2/day"
    first = Client()
    incident, token = submit_and_receive(first, report_data())
    third = Client(REMOTE_ADDR="198.51.100.99")
    other, _token = submit_and_receive(third, report_data())
    second = Client(REMOTE_ADDR=SECOND_CLIENT)
    assert open_status(incident.reference, token, second)[1].status_code == 302

    assert follow_up(first, incident).status_code == 302
    assert follow_up(second, incident).status_code == 302
    before = effects(media)
    assert_refused_429(follow_up(second, incident, files=[png()]))
    assert_refused_429(follow_up(first, incident))

    assert effects(media) == before
    assert Comment.objects.filter(incident=incident).count() == 2
    # Another report is not affected.
    assert follow_up(third, other).status_code == 302


def test_a_report_accumulates_at_most_the_public_file_cap(rules, media, settings):
    settings.PUBLIC_REPORT_MAX_STORED_FILES = 3
    client = Client()
    incident, _token = submit_and_receive(client, report_data(), [png("a.png"), png("b.png")])
    before = effects(media)

    refused = follow_up(client, incident, "Two more", [png("c.png"), png("d.png")])

    assert refused.status_code == 400
    text = refused.content.decode()
    assert "This report already has 2 files from you and takes at most 3." in text
    assert_error_tied(text, "attachments", "This report already has 2 files from you")
    assert effects(media) == before
    assert follow_up(client, incident, "One more", [png("c.png")]).status_code == 302
    assert Attachment.objects.filter(incident=incident).count() == 3


def test_a_report_accumulates_at_most_the_public_byte_cap(rules, media, settings):
    settings.PUBLIC_REPORT_MAX_STORED_BYTES = 2**20
    client = Client()
    incident, _token = submit_and_receive(client, report_data(), [png("a.png", size=600_000)])
    before = effects(media)

    refused = follow_up(client, incident, "", [png("b.png", size=600_000)])

    assert refused.status_code == 400
    assert "This report can take at most 1 MB of files from you" in refused.content.decode()
    assert effects(media) == before


def test_an_invalid_follow_up_does_not_use_up_the_allowance(rules, media, settings):
    settings.FOLLOW_UP_RATE_LIMIT = "1/hour"
    client = Client()
    incident, _token = submit_and_receive(client, report_data())

    invalid = [follow_up(client, incident, "  ") for _ in range(3)]
    executable = follow_up(client, incident, "x", [exe()])
    valid = follow_up(client, incident, "Real information")

    assert [response.status_code for response in invalid] == [400, 400, 400]
    assert executable.status_code == 400
    assert valid.status_code == 302
    assert_refused_429(follow_up(client, incident, "And more"))
    assert list(Comment.objects.values_list("body", flat=True)) == ["Real information"]


# --- reports and status look-ups -----------------------------------------------------------------

def test_an_invalid_report_does_not_use_up_the_allowance(rules, media, settings):
    settings.REPORT_RATE_LIMIT = "1/hour"
    client = Client()

    invalid = [submit(client, report_data(title="")) for _ in range(3)]
    refused_file = submit(client, report_data(), [exe()])
    valid = submit(client, report_data())
    before = effects(media)
    over = submit(client, report_data(), [png()])

    assert [response.status_code for response in invalid] == [400, 400, 400]
    assert refused_file.status_code == 400
    assert valid.status_code == 302
    assert_refused_429(over)
    assert effects(media) == before == (1, 0, 0, 0)


def test_an_incomplete_status_look_up_is_not_counted_but_a_wrong_one_is(rules, settings):
    settings.STATUS_RATE_LIMIT = "2/hour"
    incident, token = submit_and_receive(Client(), report_data())
    client = Client()

    incomplete = [client.post(STATUS_URL, {"reference": incident.reference, "token": ""})
                  for _ in range(3)]
    wrong = open_status(incident.reference, "0" * 32, client)[1]
    right = open_status(incident.reference, token, client)[1]
    refused = open_status(incident.reference, token, client)[1]

    assert [response.status_code for response in incomplete] == [400, 400, 400]
    assert wrong.status_code == 400
    assert right.status_code == 302
    assert_refused_429(refused)


# --- finding 5: dates ---------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["started_at", "detected_at"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00", "1989-12-31T23:59", "2026-03-12T10:00",
                                   "9999-12-31T23:59"])
def test_a_date_outside_the_sensible_range_is_refused_on_its_field(field, value, rules, media,
                                                                    monkeypatch):
    FrozenClock(monkeypatch, T0)  # 10:00 in Karachi on 10 March 2026
    response = submit(Client(), report_data(**{field: value}), [png()])

    assert response.status_code == 400
    text = response.content.decode()
    message = "Enter a date and time between 1 January 1990 and today, or leave it empty."
    assert_error_tied(text, field, message)
    assert effects(media) == (0, 0, 0, 0)


@pytest.mark.parametrize("value", ["1990-01-01T00:00", "2026-03-10T23:30"])
def test_a_date_inside_the_range_is_accepted(value, rules, monkeypatch):
    FrozenClock(monkeypatch, T0)

    incident, _token = submit_and_receive(Client(), report_data(started_at=value))

    assert incident.occurred_at is not None


# --- finding 9: clear answers -------------------------------------------------------------------

DAMAGED = "This form was damaged or has expired, so nothing was saved."


@pytest.mark.parametrize("key", [None, "", "not a key", "x" * 100])
def test_a_bad_or_missing_submission_key_says_so_and_sends_a_fresh_key(key, rules, media):
    client = Client()
    data = report_data(submission_key=key, description="My unique description 4711")
    if key is None:
        data.pop("submission_key", None)

    response = submit(client, data, [png()])

    assert response.status_code == 400
    text = response.content.decode()
    summary = re.search(r'<div class="error-summary".*?</div>', text, re.S).group(0)
    assert DAMAGED in summary
    assert "My unique description 4711" in text
    fresh = re.search(r'name="submission_key" value="([^"]*)"', text).group(1)
    assert SUBMISSION_KEY.match(fresh)
    assert fresh != key
    assert effects(media) == (0, 0, 0, 0)
    again = submit(client, report_data(submission_key=fresh))
    assert again.status_code == 302


FILES_AGAIN = "Files are not kept when the form comes back: choose your files again."


def test_files_chosen_before_an_error_are_asked_for_again_next_to_the_file_field(rules, media):
    response = submit(Client(), report_data(title=""), [png()])

    assert response.status_code == 400
    assert_error_tied(response.content.decode(), "attachments", FILES_AGAIN)
    assert effects(media) == (0, 0, 0, 0)


def test_no_word_about_files_when_none_were_chosen(rules):
    response = submit(Client(), report_data(title=""))

    assert response.status_code == 400
    assert FILES_AGAIN not in response.content.decode()


TOO_MANY = {
    "files": ("DATA_UPLOAD_MAX_NUMBER_FILES", 6,
              "You sent more files than the form takes: send at most 5 files."),
    "fields": ("DATA_UPLOAD_MAX_NUMBER_FIELDS", 5, "The form had more fields than it can take."),
    "size": ("DATA_UPLOAD_MAX_MEMORY_SIZE", 4000,
             "A text you entered is too long."),
}


@pytest.mark.parametrize("case", list(TOO_MANY))
def test_a_body_django_cannot_take_gets_a_page_that_says_what_to_fix(case, rules, media, settings):
    setting, value, message = TOO_MANY[case]
    setattr(settings, setting, value)
    files = [png(f"shot{n}.png") for n in range(7)] if case == "files" else []
    data = report_data(description="y" * 5000 if case == "size" else "short")

    english = submit(Client(), data, files)
    urdu = Client().post(REPORT_URL, {**data, **({"attachments": files} if files else {})},
                         HTTP_ACCEPT_LANGUAGE="ur")

    assert english.status_code == 400
    text = english.content.decode()
    assert "Bad Request (400)" not in text
    assert message in text
    assert "Nothing was saved" in text
    assert urdu.status_code == 400
    assert '<html lang="ur" dir="rtl">' in urdu.content.decode()
    assert message not in urdu.content.decode()
    assert effects(media) == (0, 0, 0, 0)


def test_a_very_long_file_name_is_kept_short_not_refused(rules, media, settings):
    # A file over FILE_UPLOAD_MAX_MEMORY_SIZE goes to a temporary file named after the upload's
    # extension: a 250-character one made that name too long for the file system (500).
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100
    upload = png("a." + "b" * 250, size=500)

    incident, _token = submit_and_receive(Client(), report_data(), [upload])

    [attachment] = Attachment.objects.filter(incident=incident)
    assert 0 < len(attachment.original_name) <= 120
    assert attachment.content_type == "image/png"
    assert len(stored_files(media)) == 1


# --- finding 3: the reporter's unlock is decided in the access module ---------------------------

def test_the_reporters_unlock_lives_in_access_and_opens_only_that_public_report(rules):
    incident, _token = submit_and_receive(Client(), report_data())
    other, _token = submit_and_receive(Client(), report_data())
    session: dict = {}

    assert access.reporter_unlocked_report(session, incident.reference) is None
    access.reporter_unlock(session, incident)

    assert access.reporter_unlocked_report(session, incident.reference) == incident
    assert access.reporter_unlocked_report(session, other.reference) is None
    Incident.objects.filter(pk=incident.pk).update(source="staff")
    assert access.reporter_unlocked_report(session, incident.reference) is None


def test_the_status_page_asks_access_which_report_is_unlocked(rules, monkeypatch):
    client = Client()
    incident, _token = submit_and_receive(client, report_data())
    assert client.get(f"{STATUS_URL}{incident.reference}/").status_code == 200

    monkeypatch.setattr(access, "reporter_unlocked_report", lambda session, reference: None)

    response = client.get(f"{STATUS_URL}{incident.reference}/")
    assert response.status_code == 302
    assert response["Location"] == STATUS_URL
    assert follow_up(client, incident).status_code == 302
    assert not Comment.objects.exists()


def test_the_latest_date_follows_the_clock_of_the_post(rules, monkeypatch):
    # "Today" is read through the one clock of the project at the time of the post, not fixed.
    clock = FrozenClock(monkeypatch, T0)
    clock.advance(days=400)
    later = (T0 + timedelta(days=399)).strftime("%Y-%m-%dT%H:%M")

    incident, _token = submit_and_receive(Client(), report_data(started_at=later))

    assert incident.occurred_at is not None
