"""Rewrite the statistics tables from the incidents (issue 12, point 5).

IncidentRollup is a materialised GROUP BY of the incidents; SlaPeriodFact holds one row per
ownership period (built by incidents.statistics.sla when that module exists). `refresh` rewrites
both in one transaction and records a StatisticsRun with the drift it found: the CERTs whose
stored rows differed from a direct count. `count_drift` only compares (the rebuild command's
--check). The django-q2 schedule (every 10 minutes) is made by migration 0012.

Work is done one owner CERT at a time: memory is bounded by one CERT's distinct combinations,
never by the number of incidents, and the number of queries grows with the registry, not with
the incidents.
"""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from incidents.models import Incident, IncidentRollup, SlaPeriodFact, StatisticsRun
from organizations.models import Cert

DIMENSIONS = ("reported_day", "resolved_day", "owner_cert_id", "classification", "severity", "tlp",
              "sector_id", "region", "source", "status")
BATCH = 2000
# Two refreshes at once would each delete and insert: the second waits for the first (PostgreSQL;
# SQLite serialises writers itself).
_LOCK_KEY = 0x5354_4154  # "STAT"


def _counted(cert_id: int) -> Counter:
    """The incidents owned by one CERT, grouped by every dimension (one query)."""
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    rows = (Incident.objects.filter(owner_cert_id=cert_id)
            .annotate(reported_day=TruncDate("reported_at", tzinfo=tz),
                      resolved_day=TruncDate("resolved_at", tzinfo=tz))
            .values("reported_day", "resolved_day", "owner_cert_id", "classification", "severity",
                    "tlp", "sector_id", "region", "source", "status")
            .annotate(n=Count("pk")).order_by())
    return Counter({tuple(row[d] for d in DIMENSIONS): row["n"] for row in rows.iterator(BATCH)})


def _stored(cert_id: int) -> Counter:
    rows = IncidentRollup.objects.filter(owner_cert_id=cert_id).values_list(*DIMENSIONS, "incidents")
    stored: Counter = Counter()
    for *key, n in rows.iterator(BATCH):
        stored[tuple(key)] += n
    return stored


def _difference(stored: Counter, counted: Counter) -> dict | None:
    differing = sum(abs(stored.get(key, 0) - counted.get(key, 0)) for key in stored.keys() | counted.keys())
    if not differing:
        return None
    return {"stored": sum(stored.values()), "counted": sum(counted.values()), "differing": differing}


def _certs() -> list[tuple[int, str]]:
    return list(Cert.objects.order_by("path").values_list("pk", "slug"))


def count_drift() -> dict[str, dict]:
    """Compare the stored rollups with a direct count; write nothing.

    Returns {cert slug: {"stored", "counted", "differing"}} for each CERT whose rows differ
    ("differing": incidents in cells that disagree, both ways); empty when all agree.
    """
    drift = {}
    for cert_id, slug in _certs():
        found = _difference(_stored(cert_id), _counted(cert_id))
        if found:
            drift[slug] = found
    return drift


def _sla_facts(now: datetime) -> list[SlaPeriodFact] | None:
    """S3's facts, or None until incidents.statistics.sla exists."""
    try:
        from incidents.statistics import sla
    except ImportError:
        return None
    build = getattr(sla, "build_sla_facts", None)
    return None if build is None else build(now)


def refresh(now: datetime | None = None) -> StatisticsRun:
    """Rewrite IncidentRollup (and SlaPeriodFact) from the incidents; return the finished run.

    One transaction: readers see the old tables or the new ones, never half. The run's `drift`
    says which CERTs' stored rows differed from the direct count before they were replaced.
    """
    started_at = timezone.now()
    now = now or started_at
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        run = StatisticsRun.objects.create(started_at=started_at)
        drift, rollup_rows = {}, 0
        # Rows of a CERT deleted since (cascade) go with it; every other CERT is rewritten.
        for cert_id, slug in _certs():
            stored, counted = _stored(cert_id), _counted(cert_id)
            found = _difference(stored, counted)
            if found:
                drift[slug] = found
                IncidentRollup.objects.filter(owner_cert_id=cert_id).delete()
                IncidentRollup.objects.bulk_create(
                    (IncidentRollup(**dict(zip(DIMENSIONS, key, strict=True)), incidents=n)
                     for key, n in counted.items()), batch_size=BATCH)
            rollup_rows += len(counted)
        facts = _sla_facts(now)
        fact_rows = 0
        if facts is not None:
            SlaPeriodFact.objects.all().delete()
            SlaPeriodFact.objects.bulk_create(facts, batch_size=BATCH)
            fact_rows = len(facts)
        run.finished_at = timezone.now()
        run.rollup_rows, run.fact_rows, run.drift = rollup_rows, fact_rows, drift
        run.save(update_fields=["finished_at", "rollup_rows", "fact_rows", "drift"])
    return run


def refresh_task() -> dict:
    """The scheduled refresh (django-q2, every 10 minutes; migration 0012)."""
    run = refresh()
    return {"rollup_rows": run.rollup_rows, "fact_rows": run.fact_rows, "drift": run.drift}


__all__ = ["count_drift", "refresh", "refresh_task"]
