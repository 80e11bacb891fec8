"""The staff incident page (the dashboard's workspace since issue 9, the admin's change page
before) costs the same few queries however much an incident has gathered (issue 8, item 4): each
tab loads its people and CERTs with its rows, the incident is read once and the member's allowed
actions are decided once per request.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.grants import sync_grants
from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    IncidentShare,
    Observable,
    TimelineEvent,
)
from tests.factories import UserFactory, make_incident
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

MAX_PAGE_QUERIES = 20
SHARED_WITH = ("sindh", "karachi", "banking", "telecom", "federal")
TABS = ("timeline", "comments", "observables", "files", "owners")


def furnish(incident, certs, *, comments=200, events=200, observables=20, attachments=5,
            shares=5, people=10):
    """Give `incident` that many rows of each list, written by `people` different users (rows
    only: the attachments' files are not on disk, which the page does not need)."""
    authors = [UserFactory(username=f"page.person.{n}") for n in range(people)]
    start = timezone.now()

    def by(n):
        return authors[n % people]

    def at(n):
        return start + timedelta(minutes=n)

    Comment.objects.bulk_create([
        Comment(incident=incident, author=by(n), body=f"Comment number {n + 1}",
                reporter_visible=n % 2 == 0, created_at=at(n)) for n in range(comments)])
    TimelineEvent.objects.bulk_create([
        TimelineEvent(incident=incident, kind=EventKind.COMMENT, at=at(n), actor=by(n),
                      new_value=f"event {n + 1}") for n in range(events)])
    Observable.objects.bulk_create([
        Observable(incident=incident, type="domain", value=f"host{n}.evil.example",
                   created_at=at(n), added_by=by(n)) for n in range(observables)])
    Attachment.objects.bulk_create([
        Attachment(incident=incident, file=f"incidents/{incident.public_id}/missing{n}",
                   original_name=f"evidence-{n}.txt", size=100 + n, sha256="0" * 64,
                   content_type="text/plain", uploaded_by=by(n), created_at=at(n))
        for n in range(attachments)])
    IncidentShare.objects.bulk_create([
        IncidentShare(incident=incident, cert=certs[slug], shared_by=by(n))
        for n, slug in enumerate(SHARED_WITH[:shares])])
    sync_grants([incident.pk])
    return authors


def page_url(incident, tab="timeline") -> str:
    return reverse("dashboard:incident", args=[incident.reference]) + f"?tab={tab}"


def page_queries(client, incident, tab="timeline") -> tuple[list[str], str]:
    """The SQL the incident page ran, and the page."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url(incident, tab))
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries], response.content.decode()


def reading(table: str, queries: list[str]) -> list[str]:
    """The queries that read `table` itself (not those that only look at it in a subquery)."""
    def first_table(sql: str) -> str | None:
        # Subqueries (in parentheses: the counts of the tabs, visibility) are not the statement's.
        while re.search(r"\([^()]*\)", sql):
            sql = re.sub(r"\([^()]*\)", "[]", sql)
        found = re.match(r'SELECT .*? FROM "([^"]+)"', sql)
        return found and found.group(1)

    return [sql for sql in queries if first_table(sql) == table]


@pytest.fixture
def handler_client(member):
    return sign_in(Client(), member("lahore", "handler"))


def test_page_costs_the_same_queries_empty_and_full(certs, handler_client):
    empty = make_incident(owner_cert=certs["lahore"], title="Quiet case")
    full = make_incident(owner_cert=certs["lahore"], title="Busy case")
    authors = furnish(full, certs)
    contents = {}
    for tab in TABS:
        page_queries(handler_client, empty, tab)  # caches filled, the visit recorded
        page_queries(handler_client, full, tab)
        quiet, _ = page_queries(handler_client, empty, tab)
        busy, contents[tab] = page_queries(handler_client, full, tab)

        assert len(busy) == len(quiet), tab
        assert len(busy) <= MAX_PAGE_QUERIES, tab
        # The incident is read once, and the member's grants on it once.
        assert len(reading("incidents_incident", busy)) == 1, tab
        assert len(reading("incidents_incidentgroupobjectpermission", busy)) == 1, tab
    assert "Comment number 200" in contents["comments"]
    assert "event 200" in contents["timeline"]
    assert authors[7].username in contents["timeline"]
    assert "host19.evil.example" in contents["observables"]
    assert "evidence-4.txt" in contents["files"]


def test_page_shows_every_list_in_order(certs, member, handler_client):
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    furnish(incident, certs, comments=3, events=3, observables=2, attachments=1, shares=1)
    same_time = timezone.now() + timedelta(days=1)
    for body in ("Second of a tie", "Third of a tie"):
        Comment.objects.create(incident=incident, author=None, body=body, created_at=same_time)

    def part(tab: str, start: str, end: str) -> str:
        _, content = page_queries(handler_client, incident, tab)
        first = content.index(start)
        return content[first:content.index(end, first)]

    def in_order(text: str, *parts: str) -> bool:
        found = [text.index(piece) for piece in parts]
        return found == sorted(found)

    # The timeline by time, the creation first, with its actor; comments by time, a tie by
    # creation, each with its visibility.
    timeline = part("timeline", 'id="incident-timeline"', "</table>")
    assert in_order(timeline, "Created", "lahore.handler.test", "event 1", "event 3")
    comments = part("comments", 'id="incident-comments"', "</ol>")
    assert in_order(comments, "Comment number 1", "Comment number 2", "Comment number 3",
                    "Second of a tie", "Third of a tie")
    assert re.search(r"To the reporter</span>\s*<strong>page.person.0</strong>", comments)
    assert re.search(r"Internal</span>\s*<strong>page.person.1</strong>", comments)
    assert re.search(r"From the reporter</span>\s*<strong>The reporter</strong>", comments)
    assert "host0.evil.example" in part("observables", 'id="incident-observables"', "</table>")
    attachment = Attachment.objects.get(incident=incident)
    download = reverse("incidents:attachment_download", args=[attachment.pk])
    assert f'href="{download}" download>evidence-0.txt</a>' in part(
        "files", 'id="incident-attachments"', "</table>")


def test_comment_bodies_are_escaped(certs, handler_client):
    incident = make_incident(owner_cert=certs["lahore"])
    Comment.objects.create(incident=incident, body='<script>alert("x")</script>\nline two',
                           created_at=timezone.now())

    _, content = page_queries(handler_client, incident, "comments")

    assert "<script>alert" not in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>line two" in content


def test_page_of_an_invisible_incident_is_missing_and_reads_no_list(certs, handler_client):
    sindh = make_incident(owner_cert=certs["sindh"], title="Sindh defacement")
    furnish(sindh, certs, comments=2, events=2, observables=1, attachments=1, shares=1)

    for tab in TABS:
        with CaptureQueriesContext(connection) as queries:
            response = handler_client.get(page_url(sindh, tab))

        assert response.status_code == 404
        assert "Sindh defacement" not in response.content.decode()
        sql = [query["sql"] for query in queries.captured_queries]
        for table in ("comment", "timelineevent", "observable", "attachment", "ownershipperiod"):
            assert not reading(f"incidents_{table}", sql), (tab, table)
