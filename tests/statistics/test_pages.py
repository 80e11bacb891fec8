"""The statistics pages of the dashboard (issue 12): figures of the active CERT's subtree, one level
of children at a time, charts with their tables and CSV downloads, a validated range, the empty
state, Urdu, and a number of queries that does not grow with the incidents."""

from __future__ import annotations

import csv
import datetime
import io
import re
import uuid
import xml.etree.ElementTree as ET

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident, StatisticsRun
from incidents.statistics.refresh import refresh
from tests.factories import make_incident
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

SVG_BLOCK = re.compile(r"<svg\b.*?</svg>", re.S)


def as_member(client, member, slug, role):
    user = member(slug, role)
    return sign_in(client, user)


def url(slug=None, **params):
    base = "/dashboard/statistics/" + (f"{slug}/" if slug else "")
    return base + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.fixture
def figures_ready(certs, clock):
    """A few incidents across the tree, and the statistics computed."""
    make_incident(owner_cert=certs["lahore"], title="Lahore ransomware", severity=4,
                  tlp="TLP:RED", region="PK-PB")
    make_incident(owner_cert=certs["punjab"], title="Punjab phishing", region="PK-PB")
    make_incident(owner_cert=certs["banking"], title="Bank card skimming", tlp="TLP:GREEN")
    refresh()
    return certs


def test_before_any_computation_the_page_says_how_to_compute(client, member, certs):
    assert not StatisticsRun.objects.exists()
    page = as_member(client, member, "national", "head").get(url())
    assert page.status_code == 200
    text = page.content.decode()
    assert "have not been computed yet" in text
    assert "manage.py rebuild_statistics" in text
    assert "<svg" not in text


def test_the_overview_shows_totals_charts_tables_and_downloads(client, member, figures_ready):
    page = as_member(client, member, "national", "head").get(url())
    assert page.status_code == 200
    text = page.content.decode()
    assert "Computed at" in text
    assert re.search(r"Opened in the range</dt><dd>3<", text)
    charts = SVG_BLOCK.findall(text)
    # One per breakdown (8), the trend and the tiles; each parses and says what it shows.
    assert len(charts) == 10
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.get("role") == "img" and root.get("aria-label")
    for table in ("child", "classification", "severity", "tlp", "sector", "region", "source",
                  "status", "series", "regions"):
        assert f"/dashboard/statistics/national/{table}.csv" in text
    # Drill-down: the national CERT's direct children, not its grandchildren.
    assert 'href="/dashboard/statistics/government/?' in text
    assert 'href="/dashboard/statistics/cii/?' in text
    assert "/dashboard/statistics/punjab/" not in text
    assert 'aria-current="page">Statistics<' in text


def test_drilling_down_goes_one_level_at_a_time(client, member, figures_ready):
    signed_in = as_member(client, member, "national", "head")
    government = signed_in.get(url("government")).content.decode()
    assert 'href="/dashboard/statistics/punjab/?' in government
    assert "/dashboard/statistics/lahore/" not in government
    punjab = signed_in.get(url("punjab")).content.decode()
    assert 'href="/dashboard/statistics/lahore/?' in punjab
    # The way back up: the breadcrumb names the parent (within the viewer's subtree).
    assert 'href="/dashboard/statistics/government/?' in punjab
    assert re.search(r"Opened in the range</dt><dd>2<", punjab)


@pytest.mark.parametrize(("params", "message"), [
    ({"date_from": "last-tuesday"}, "Give the first day as a date"),
    ({"date_to": "2026-13-45"}, "Give the last day as a date"),
    ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "The first day comes after the last day"),
    ({"interval": "year"}, "Choose day, week or month."),
    ({"date_from": "2024-01-01", "date_to": "2026-03-01", "interval": "day"},
     "A trend by day covers at most a year"),
    ({"date_from": "1990-01-01", "date_to": "2026-03-01", "interval": "month"},
     "at most ten years"),
])
def test_a_bad_range_gets_a_clear_message(client, member, figures_ready, params, message):
    signed_in = as_member(client, member, "punjab", "analyst")
    page = signed_in.get(url(**params))
    assert page.status_code == 400
    assert message in page.content.decode()
    download = signed_in.get(url("punjab") + "severity.csv?" + "&".join(
        f"{k}={v}" for k, v in params.items()))
    assert download.status_code == 400
    assert message in download.content.decode()


def test_a_longer_range_by_week_and_by_month(client, member, figures_ready):
    signed_in = as_member(client, member, "national", "handler")
    for interval in ("week", "month"):
        page = signed_in.get(url(date_from="2025-06-01", date_to="2026-03-31", interval=interval))
        assert page.status_code == 200, interval


def test_each_table_downloads_as_csv(client, member, figures_ready):
    signed_in = as_member(client, member, "national", "liaison")
    response = signed_in.get("/dashboard/statistics/national/severity.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert rows[0] == ["key", "label", "incidents"]
    series = signed_in.get("/dashboard/statistics/national/series.csv?interval=week")
    rows = list(csv.reader(io.StringIO(series.content.decode().lstrip("\ufeff"))))
    assert rows[0] == ["period start", "opened", "closed"]
    assert sum(int(row[1]) for row in rows[1:]) == 3
    regions = signed_in.get("/dashboard/statistics/national/regions.csv")
    assert regions.status_code == 200
    assert "Punjab" in regions.content.decode()
    assert signed_in.get("/dashboard/statistics/national/reporters.csv").status_code == 404


def test_staffing_gaps_appear_beside_the_children_for_heads(client, member, figures_ready):
    head_page = as_member(client, member, "government", "head").get(url()).content.decode()
    # No member of the Sindh CERT was made: no head, no handler.
    assert "Sindh" in head_page and "has no head." in head_page
    client.logout()
    analyst_page = as_member(client, member, "government", "analyst").get(url()).content.decode()
    assert "has no head." not in analyst_page


def test_the_page_reads_in_urdu(client, member, figures_ready):
    signed_in = as_member(client, member, "national", "head")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    text = signed_in.get(url()).content.decode()
    assert 'dir="rtl"' in text
    assert "اعداد و شمار" in text
    assert 'direction="rtl"' in text
    for chart in SVG_BLOCK.findall(text):
        ET.fromstring(chart)


def _bulk_incidents(certs, count: int, *, first: int = 0) -> None:
    """`count` incidents written straight to the table (the services would take minutes): the
    statistics read only the incidents' columns."""
    now = timezone.now()
    owners = [certs[slug] for slug in ("lahore", "karachi", "punjab", "banking", "national")]
    tlps = ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
    rows = []
    for number in range(first, first + count):
        reported = now - datetime.timedelta(hours=number % 700)
        rows.append(Incident(
            public_id=uuid.uuid4(), reference=f"PK-INC-BULK-{number:06d}", title=f"bulk {number}",
            classification="fraud", incident_type="phishing", severity=number % 5,
            tlp=tlps[number % 5], status="new" if number % 3 else "closed",
            owner_cert=owners[number % 5], reported_at=reported, owner_since=reported,
            ack_due_at=reported + datetime.timedelta(hours=4),
            resolve_due_at=reported + datetime.timedelta(days=7),
            region=["PK-PB", "PK-SD", ""][number % 3],
            resolved_at=reported if number % 3 == 0 else None))
    Incident.objects.bulk_create(rows, batch_size=1000)


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_each_page_costs_the_same_queries_at_10_and_10000_incidents(client, member, certs, clock):
    signed_in = as_member(client, member, "national", "head")
    paths = [url(), url("punjab"), url(interval="month", date_from="2025-04-01", date_to="2026-03-31"),
             "/dashboard/statistics/national/child.csv", "/dashboard/statistics/national/series.csv",
             "/dashboard/statistics/government/regions.csv"]
    _bulk_incidents(certs, 10)
    refresh()
    for path in paths:  # the first request of a test warms caches (content types, sessions)
        _queries(signed_in, path)
    few = [_queries(signed_in, path) for path in paths]
    _bulk_incidents(certs, 9990, first=10)
    refresh()
    assert Incident.objects.count() >= 10000
    many = [_queries(signed_in, path) for path in paths]
    assert many == few
