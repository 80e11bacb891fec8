"""The rollups equal a direct count over the incidents after every kind of change (issue 12)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django_q.models import Schedule

from incidents.models import Incident, IncidentRollup, StatisticsRun, Status
from incidents.services import (
    incident_change_tlp,
    incident_escalate,
    incident_refer,
    incident_transition,
)
from incidents.statistics import figures
from incidents.statistics.refresh import count_drift, refresh
from organizations.models import Sector
from organizations.services import cert_update
from tests.factories import make_incident

DIMENSIONS = ("reported_day", "resolved_day", "owner_cert", "classification", "severity", "tlp",
              "sector", "region", "source", "status")


def direct(dimension: str) -> dict:
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    rows = (Incident.objects.annotate(reported_day=TruncDate("reported_at", tzinfo=tz),
                                      resolved_day=TruncDate("resolved_at", tzinfo=tz))
            .values(dimension).annotate(n=Count("pk")).order_by())
    return {row[dimension]: row["n"] for row in rows}


def rolled(dimension: str) -> dict:
    rows = IncidentRollup.objects.values(dimension).annotate(n=Sum("incidents")).order_by()
    return {row[dimension]: row["n"] for row in rows}


def assert_rollups_match() -> None:
    """Per dimension, the rollup's sums equal a GROUP BY over the incidents themselves."""
    assert Incident.objects.exists()
    for dimension in DIMENSIONS:
        assert rolled(dimension) == direct(dimension), dimension
    assert count_drift() == {}


def test_rollups_follow_every_kind_of_change(certs, member, clock):
    banking = Sector.objects.get(slug="banking")
    lahore_handler = member("lahore", "handler")
    first = make_incident(owner_cert=certs["lahore"], actor=lahore_handler, severity=3,
                          sector=banking, region="PK-PB")
    make_incident(owner_cert=certs["karachi"], actor=member("karachi", "handler"),
                  classification="malicious-code", incident_type="infected-system", tlp="TLP:RED")
    refresh()
    assert_rollups_match()
    assert rolled("owner_cert") == {certs["lahore"].pk: 1, certs["karachi"].pk: 1}

    # Create.
    clock.advance(days=1)
    second = make_incident(owner_cert=certs["national"], actor=member("national", "handler"))
    assert count_drift() == {"national": {"stored": 0, "counted": 1, "differing": 1}}
    refresh()
    assert_rollups_match()

    # Escalate: Lahore -> Punjab.
    clock.advance(hours=1)
    incident_escalate(incident=first, actor=lahore_handler)
    refresh()
    assert_rollups_match()
    assert rolled("owner_cert")[certs["punjab"].pk] == 1
    assert certs["lahore"].pk not in rolled("owner_cert")

    # Refer: national -> banking.
    incident_refer(incident=second, actor=member("national", "handler"), to_cert=certs["banking"])
    refresh()
    assert_rollups_match()
    assert rolled("owner_cert")[certs["banking"].pk] == 1

    # Close: resolved then closed, with a resolved day.
    clock.advance(days=2)
    punjab_head = member("punjab", "head")
    first = Incident.objects.get(pk=first.pk)
    incident_transition(incident=first, actor=punjab_head, to_status=Status.ACKNOWLEDGED)
    incident_transition(incident=first, actor=punjab_head, to_status=Status.RESOLVED)
    incident_transition(incident=first, actor=punjab_head, to_status=Status.CLOSED)
    refresh()
    assert_rollups_match()
    resolved_on = clock.now.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).date()
    assert rolled("resolved_day") == {None: 2, resolved_on: 1}
    assert rolled("status")[Status.CLOSED] == 1

    # Reopen (head only): the resolved day goes away again.
    incident_transition(incident=first, actor=punjab_head, to_status=Status.IN_PROGRESS)
    refresh()
    assert_rollups_match()
    assert rolled("resolved_day") == {None: 3}

    # TLP change, stricter.
    incident_change_tlp(incident=first, actor=punjab_head, tlp="TLP:AMBER+STRICT")
    refresh()
    assert_rollups_match()
    assert rolled("tlp") == {"TLP:AMBER": 1, "TLP:AMBER+STRICT": 1, "TLP:RED": 1}


def test_a_registry_move_moves_the_figures_without_a_rewrite(certs, member):
    make_incident(owner_cert=certs["rawalpindi"], actor=member("rawalpindi", "handler"),
                  tlp="TLP:RED")
    refresh()
    punjab, sindh = certs["punjab"], certs["sindh"]
    assert figures.totals(punjab, punjab)["opened"] == 1
    assert figures.totals(sindh, sindh)["opened"] == 0

    cert_update(cert=certs["rawalpindi"], actor=None, parent=sindh, region="PK-SD")
    assert count_drift() == {}  # rows follow the owner, the subtree follows the path
    punjab.refresh_from_db()
    sindh.refresh_from_db()
    assert figures.totals(punjab, punjab)["opened"] == 0
    assert figures.totals(sindh, sindh)["opened"] == 1
    run = refresh()
    assert run.drift == {}
    assert_rollups_match()


def test_reported_day_is_the_local_date(certs, member, clock):
    # 21:00 UTC on 9 March is 02:00 on 10 March in Karachi (UTC+5).
    clock.set(datetime(2026, 3, 9, 21, 0, tzinfo=UTC))
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    refresh()
    assert settings.TIME_ZONE == "Asia/Karachi"
    assert rolled("reported_day") == {date(2026, 3, 10): 1}


def test_refresh_records_a_run_with_the_drift_it_replaced(certs, member, clock):
    assert figures.computed_at() is None
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"), severity=4)
    run = refresh()
    assert run.finished_at == clock.now
    assert run.rollup_rows == 2
    assert run.drift == {"lahore": {"stored": 0, "counted": 2, "differing": 2}}
    assert figures.computed_at() == clock.now

    # A row changed behind the refresh's back is found and repaired.
    IncidentRollup.objects.filter(severity=4).update(incidents=5)
    clock.advance(minutes=10)
    run = refresh()
    assert run.drift == {"lahore": {"stored": 6, "counted": 2, "differing": 4}}
    assert_rollups_match()
    assert StatisticsRun.objects.count() == 2
    assert figures.computed_at() == clock.now


def test_the_refresh_is_scheduled_every_ten_minutes(db):
    schedule = Schedule.objects.get(name="incidents: statistics refresh")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "incidents.statistics.refresh.refresh_task", Schedule.MINUTES, 10, -1)
