"""Signed-in staff are signed out after STAFF_IDLE_MINUTES without a request
(cert_portal/accounts/idle.py); the public is not affected."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cert_portal.accounts.idle import LAST_ACTIVITY_SESSION_KEY
from tests.accounts.support import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def member_client(member, staff_client, clock) -> Client:
    member_client = staff_client(member("lahore", "handler"))
    assert member_client.get("/account/two-factor/").status_code == 200  # starts the clock
    return member_client


def last_activity(client: Client) -> float:
    return client.session[LAST_ACTIVITY_SESSION_KEY]


def test_activity_within_the_limit_keeps_the_session(member_client, clock):
    for _ in range(3):
        clock.advance(minutes=29)
        assert member_client.get("/account/two-factor/").status_code == 200
    assert SESSION_KEY in member_client.session


def test_thirty_minutes_without_a_request_sign_out(member_client, clock, settings):
    assert settings.STAFF_IDLE_MINUTES == 30
    clock.advance(minutes=30, seconds=1)

    response = member_client.get("/account/two-factor/?tab=x")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/two-factor/%3Ftab%3Dx"
    assert SESSION_KEY not in member_client.session
    login = member_client.get(response["Location"])
    assert "You were signed out after 30 minutes without activity" in text(login)


def test_the_limit_is_a_setting(member_client, clock, settings):
    settings.STAFF_IDLE_MINUTES = 5
    clock.advance(minutes=6)

    response = member_client.get("/account/two-factor/", follow=True)

    assert "You were signed out after 5 minutes without activity" in text(response)
    assert SESSION_KEY not in member_client.session


def test_the_time_is_written_at_most_once_a_minute(member_client, clock):
    first = last_activity(member_client)

    clock.advance(seconds=59)
    member_client.get("/account/two-factor/")
    assert last_activity(member_client) == first

    clock.advance(seconds=2)
    member_client.get("/account/two-factor/")
    assert last_activity(member_client) == first + 61


def session_writes(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/account/two-factor/").status_code == 200
    return [query["sql"] for query in queries.captured_queries
            if "django_session" in query["sql"] and not query["sql"].startswith("SELECT")]


def test_a_request_writes_the_session_only_when_the_stored_time_is_a_minute_old(member_client,
                                                                               clock):
    clock.advance(seconds=30)
    assert session_writes(member_client) == []

    clock.advance(seconds=31)
    assert len(session_writes(member_client)) == 1


def test_a_form_posted_after_the_limit_returns_to_the_page_it_was_on(member_client, clock):
    clock.advance(minutes=31)

    response = member_client.post("/account/two-factor/recovery-codes/",
                                  HTTP_REFERER="http://testserver/account/two-factor/")

    assert response["Location"] == "/login/?next=/account/two-factor/"
    assert SESSION_KEY not in member_client.session


def test_an_offsite_referer_is_not_where_a_post_returns(member_client, clock):
    clock.advance(minutes=31)

    response = member_client.post("/account/two-factor/recovery-codes/",
                                  HTTP_REFERER="https://evil.example/")

    assert response["Location"] == "/login/?next=/dashboard/"


def test_htmx_requests_are_asked_to_load_the_sign_in_page(member_client, clock):
    clock.advance(minutes=31)

    response = member_client.get("/account/two-factor/", HTTP_HX_REQUEST="true")

    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/?next=/account/two-factor/"


def test_public_visitors_are_not_affected(db, clock):
    visitor = Client()
    assert visitor.get("/").status_code == 200
    clock.advance(hours=5)

    response = visitor.get("/")

    assert response.status_code == 200
    assert LAST_ACTIVITY_SESSION_KEY not in visitor.session
