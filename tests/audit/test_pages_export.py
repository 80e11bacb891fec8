"""The CSV export of the audit trail (issue 13, item 1): streamed, filtered like the page, every
formula defused, UTF-8 with a BOM, a download never cached, recorded as AUDIT_EXPORTED with its
filters, and in a number of queries that does not grow with the trail."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cert_portal.audit.export import defuse
from cert_portal.audit.models import AuditEvent, AuditKind, Channel
from cert_portal.audit.record import build, record, record_many
from tests.incidents.support import T0
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

EXPORT = "/dashboard/audit/export.csv"
OUTSIDE_EXPORT = "/dashboard/audit/outside/export.csv"


def client_of(user) -> Client:
    return sign_in(Client(), user)


def download(client, url, params=None) -> tuple[StreamingHttpResponse, list[list[str]]]:
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content if not response.streaming else ""
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return response, list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize(("typed", "cell"), [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"), ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("a=b", "a=b"), ("", ""), (None, ""),
])
def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe(typed, cell):
    assert defuse(typed) == cell


def test_the_export_is_the_filtered_trail_defused_with_a_bom_and_never_cached(certs, member):
    punjab = certs["punjab"]
    record(AuditKind.SIGN_IN_FAILED, request=None, cert=punjab, actor_label="=cmd|' /C calc'!A0",
           channel=Channel.DASHBOARD, object_label="@SUM(1+1)", detail={"reason": "-bad"},
           at=T0)
    record(AuditKind.INCIDENT_VIEWED, request=None, cert=punjab, actor_label="عائشہ",
           channel=Channel.DASHBOARD, object_type="incident", object_id="7",
           object_label="PK-INC-2026-000007", at=datetime(2026, 3, 11, 5, 0, tzinfo=UTC))
    record(AuditKind.SIGN_IN, request=None, cert=certs["sindh"], actor_label="sindh-person",
           channel=Channel.DASHBOARD, at=T0)
    client = client_of(member("punjab", "head"))
    response, rows = download(client, EXPORT, {"date_from": "2026-03-10", "date_to": "2026-03-11"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-punjab-')
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    header, *body = rows
    assert header[:4] == ["Time", "Event", "Event code", "Who"]
    # Newest first; the time in the portal's time zone with its offset.
    assert [row[3] for row in body] == ["عائشہ", "'=cmd|' /C calc'!A0"]
    urdu, defused = body
    assert urdu[0] == "2026-03-11T10:00:00+05:00" and urdu[2] == "incident_viewed"
    assert urdu[8:11] == ["incident", "7", "PK-INC-2026-000007"]
    assert defused[10] == "'@SUM(1+1)"
    assert json.loads(defused[11]) == {"reason": "-bad"}
    assert not any("sindh-person" in cell for row in body for cell in row)

    only = download(client, EXPORT, {"kind": "sign_in_failed"})[1][1:]
    assert [row[2] for row in only] == ["sign_in_failed"]


def test_exporting_records_who_exported_what_with_the_filters(certs, member):
    head = member("punjab", "head")
    client = client_of(head)
    download(client, EXPORT, {"kind": "sign_in", "actor": "ayesha", "date_from": "2026-03-01"})
    exported = AuditEvent.objects.get(kind=AuditKind.AUDIT_EXPORTED)
    assert exported.actor == head and exported.cert_id == certs["punjab"].pk
    assert exported.channel == Channel.DASHBOARD
    assert exported.object_cert_id == certs["punjab"].pk
    assert exported.detail == {"list": "trail", "filters": {
        "kind": "sign_in", "actor": "ayesha", "date_from": "2026-03-01"}}

    download(client, OUTSIDE_EXPORT)
    outside = AuditEvent.objects.filter(kind=AuditKind.AUDIT_EXPORTED).order_by("-pk").first()
    assert outside.detail == {"list": "outside", "filters": {}}
    # The export is itself on the trail the head reads.
    page = client.get("/dashboard/audit/", {"kind": "audit_exported"})
    assert {row.event.pk for row in page.context["page"].rows} == {exported.pk, outside.pk}


def test_bad_filters_export_nothing_and_record_nothing(member):
    client = client_of(member("punjab", "head"))
    response = client.get(EXPORT, {"date_from": "yesterday"})
    assert response.status_code == 400
    assert not response.streaming
    assert "Give the first day as a date, e.g. 2026-01-31." in response.content.decode()
    assert not AuditEvent.objects.filter(kind=AuditKind.AUDIT_EXPORTED).exists()


def test_the_outside_views_export_names_the_looking_cert(certs, member):
    record(AuditKind.INCIDENT_VIEWED, request=None, actor=member("national", "head"),
           cert=certs["national"], object_type="incident", object_id="3",
           object_label="PK-INC-2026-000003", object_cert=certs["punjab"], at=T0)
    record(AuditKind.INCIDENT_VIEWED, request=None, actor=member("punjab", "analyst"),
           cert=certs["punjab"], object_type="incident", object_id="3",
           object_label="PK-INC-2026-000003", object_cert=certs["punjab"], at=T0)
    response, rows = download(client_of(member("punjab", "head")), OUTSIDE_EXPORT)
    assert "outside-views" in response["Content-Disposition"]
    body = rows[1:]
    assert [(row[3], row[5]) for row in body] == [("national.head.test", "PK-CERT")]


def test_the_export_reads_the_trail_in_a_constant_number_of_queries(certs, member):
    punjab = certs["punjab"]
    client = client_of(member("punjab", "head"))
    client.get("/dashboard/audit/")  # the session's first request does its own bookkeeping
    counts = []
    for n in (3, 300):
        record_many(build(AuditKind.INCIDENT_VIEWED, request=None, cert=punjab,
                          actor_label="bulk", at=T0) for _ in range(n))
        with CaptureQueriesContext(connection) as queries:
            _, rows = download(client, EXPORT, {"actor": "bulk"})
        counts.append(len(queries))
        assert len(rows) - 1 == AuditEvent.objects.filter(cert=punjab, actor_label="bulk").count()
    assert counts[0] == counts[1], counts
