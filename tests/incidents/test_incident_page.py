"""The staff incident page (IncidentAdmin.change_view) costs the same few queries however much an
incident has gathered (issue 8, item 4): its lists load their people and CERTs with them, the
incident is read once and the member's allowed actions are decided once per request.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
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

pytestmark = pytest.mark.django_db

MAX_PAGE_QUERIES = 20
SHARED_WITH = ("sindh", "karachi", "banking", "telecom", "federal")


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


def change_url(incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def page_queries(client, incident) -> tuple[list[str], str]:
    """The SQL the incident page ran, and the page."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(change_url(incident))
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries], response.content.decode()


def reading(table: str, queries: list[str]) -> list[str]:
    """The queries that read `table` itself (not those that only look at it in a subquery)."""
    def first_table(sql: str) -> str | None:
        found = re.match(r'SELECT .*? FROM "([^"]+)"', sql)
        return found and found.group(1)

    return [sql for sql in queries if first_table(sql) == table]


@pytest.fixture
def handler_client(client, member):
    handler = member("lahore", "handler")
    handler.is_staff = True
    handler.save(update_fields=["is_staff"])
    client.force_login(handler)
    return client


def test_page_costs_the_same_queries_empty_and_full(certs, handler_client):
    empty = make_incident(owner_cert=certs["lahore"], title="Quiet case")
    full = make_incident(owner_cert=certs["lahore"], title="Busy case")
    authors = furnish(full, certs)
    page_queries(handler_client, empty)  # fills the process-wide caches (content types)

    quiet, _ = page_queries(handler_client, empty)
    busy, content = page_queries(handler_client, full)

    assert len(busy) == len(quiet)
    assert len(busy) <= MAX_PAGE_QUERIES
    # The incident is read once, and the member's grants on it once, however often the admin
    # asks whether they may view it.
    assert len(reading("incidents_incident", busy)) == 1
    assert len(reading("incidents_incidentgroupobjectpermission", busy)) == 1
    assert "Comment number 200" in content
    assert "event 200" in content
    assert authors[7].username in content
    assert "host19.evil.example" in content
    assert "evidence-4.txt" in content
    assert certs["federal"].name in content


def test_page_shows_every_list_in_order(certs, member, handler_client):
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    furnish(incident, certs, comments=3, events=3, observables=2, attachments=1, shares=1)
    same_time = timezone.now() + timedelta(days=1)
    for body in ("Second of a tie", "Third of a tie"):
        Comment.objects.create(incident=incident, author=None, body=body, created_at=same_time)

    _, content = page_queries(handler_client, incident)

    def table(name: str) -> str:
        start = content.index(f'id="incident-{name}"')
        return content[start:content.index("</table>", start)]

    def in_order(text: str, *parts: str) -> bool:
        found = [text.index(part) for part in parts]
        return found == sorted(found)

    # The timeline by time, the creation first, with its actor; comments by time, a tie by
    # creation, each with its visibility.
    assert in_order(table("timeline"), "Created", "lahore.handler.test", "event 1", "event 3")
    comments = table("comments")
    assert in_order(comments, "Comment number 1", "Comment number 2", "Comment number 3",
                    "Second of a tie", "Third of a tie")
    assert "<td>Reporter-visible</td><td>Comment number 1</td>" in comments
    assert "<td>Internal</td><td>Comment number 2</td>" in comments
    assert "host0.evil.example" in table("observables")
    attachment = Attachment.objects.get(incident=incident)
    download = reverse("incidents:attachment_download", args=[attachment.pk])
    assert f'href="{download}">evidence-0.txt</a>' in table("attachments")
    assert in_order(table("shares"), certs["sindh"].name, "page.person.0")


def test_comment_bodies_are_escaped(certs, handler_client):
    incident = make_incident(owner_cert=certs["lahore"])
    Comment.objects.create(incident=incident, body='<script>alert("x")</script>\nline two',
                           created_at=timezone.now())

    _, content = page_queries(handler_client, incident)

    assert "<script>alert" not in content
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>line two" in content


def test_page_of_an_invisible_incident_is_missing_and_reads_no_list(certs, handler_client):
    sindh = make_incident(owner_cert=certs["sindh"], title="Sindh defacement")
    furnish(sindh, certs, comments=2, events=2, observables=1, attachments=1, shares=1)

    with CaptureQueriesContext(connection) as queries:
        response = handler_client.get(change_url(sindh))

    assert response.status_code == 404
    assert "Sindh defacement" not in response.content.decode()
    sql = [query["sql"] for query in queries.captured_queries]
    assert not reading("incidents_comment", sql)
    assert not reading("incidents_timelineevent", sql)
