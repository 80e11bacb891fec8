"""A request body over the documented maximum is refused before it is read (issue 7, finding 6):
413 with a page that says what the maximum is and what to do, in the reporter's language."""

from __future__ import annotations

import subprocess

import pytest
from django.test import Client

from incidents.models import Incident
from tests import startup

MiB = 2**20


class CountingInput:
    """A wsgi.input that never ends and counts what was read from it, so a test can send an
    endless or a 200 MB body without having it in memory."""

    def __init__(self):
        self.read_bytes = 0

    def read(self, size=-1):
        size = 64 * 1024 if size is None or size < 0 else size
        self.read_bytes += size
        return b"x" * size

    def readline(self, size=-1):
        return self.read(size if size and size > 0 else 1024)


def post_body(client: Client, path: str, stream: CountingInput, length: int | None, **extra):
    environ = {"wsgi.input": stream, "CONTENT_TYPE": "multipart/form-data; boundary=BoUnDaRy"}
    if length is None:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["CONTENT_LENGTH"] = ""
    else:
        environ["CONTENT_LENGTH"] = str(length)
    return client.generic("POST", path, b"", **environ, **extra)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/report/", "/report/status/", "/admin/login/"])
def test_a_200_mb_body_answers_413_without_being_read(path):
    stream = CountingInput()

    response = post_body(Client(), path, stream, 200 * MiB)

    assert response.status_code == 413
    assert stream.read_bytes == 0
    assert [t.name for t in response.templates][0] == "413.html"
    text = response.content.decode()
    assert "too large" in text
    assert "at most 26 MB" in text
    assert "Nothing was saved" in text
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_the_413_page_speaks_urdu():
    response = post_body(Client(), "/report/", CountingInput(), 200 * MiB,
                         HTTP_ACCEPT_LANGUAGE="ur")

    assert response.status_code == 413
    text = response.content.decode()
    assert '<html lang="ur" dir="rtl">' in text
    assert "26 MB" in text
    assert "too large" not in text


@pytest.mark.django_db
def test_a_body_without_length_is_cut_off_at_the_maximum(settings):
    settings.REQUEST_MAX_BYTES = 2 * MiB
    stream = CountingInput()

    response = post_body(Client(), "/report/", stream, None)

    assert response.status_code == 413
    assert 2 * MiB < stream.read_bytes <= 2 * MiB + 64 * 1024


@pytest.mark.django_db
def test_a_body_at_the_maximum_is_let_through(settings):
    settings.REQUEST_MAX_BYTES = 2 * MiB
    stream = CountingInput()

    response = post_body(Client(), "/report/status/", stream, 2 * MiB)

    assert response.status_code != 413


def start_django(**variables: str) -> subprocess.CompletedProcess:
    return startup.start_django("settings.REQUEST_MAX_BYTES", **{"DEBUG": "1", **variables})


def test_the_maximum_follows_the_attachment_limits_plus_a_margin():
    default = start_django()
    larger = start_django(PUBLIC_REPORT_MAX_TOTAL_BYTES=str(50 * MiB))

    assert default.returncode == 0, default.stderr
    assert default.stdout.strip() == str(26 * MiB)
    assert larger.stdout.strip() == str(51 * MiB)


def test_a_maximum_below_the_attachment_limits_stops_start_up():
    result = start_django(REQUEST_MAX_BYTES=str(5 * MiB))

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert "REQUEST_MAX_BYTES=5242880" in last_line
