"""The read API of the statistics (issue 12): a CERT's subtree's figures, from the rollups.

Every figure is a sum over IncidentRollup rows (written by incidents.statistics.refresh), so each
function costs a constant number of queries whatever the number of incidents; region_tiles alone
reads the incidents, open ones only, by indexed columns, because "open now" must not wait for the
next refresh.

Counts flow up the tree whatever the TLP (DOMAIN.md §2), but a small cell could identify one
incident that the viewer may not read: a cell with fewer than settings.STATISTICS_SMALL_CELL
incidents, any of which is restricted to the viewer, is shown as "fewer than N" (`Cell.shown`).
No figure names or links an incident.

Who may ask for which CERT is decided by the caller through the access module; here `cert` must
be `viewer_cert` or one of its descendants, otherwise OutsideSubtree is raised (fail closed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext

from incidents import taxonomy
from incidents.models import (
    OPEN_STATUSES,
    Incident,
    IncidentRollup,
    Source,
    StatisticsRun,
    Status,
    overdue_condition,
)
from incidents.severity import Severity
from incidents.tlp import Tlp
from organizations.models import Cert
from organizations.rules import Region

BREAKDOWNS = ("classification", "severity", "tlp", "sector", "region", "source", "status", "child")
INTERVALS = ("day", "week", "month")
# Labels that an oversight CERT may not read (DOMAIN.md §2: ancestors see neither).
RESTRICTED_LABELS = (Tlp.AMBER_STRICT.value, Tlp.RED.value)
OWN_KEY = "own"


class OutsideSubtree(LookupError):
    """The CERT asked about is neither the viewer's CERT nor below it."""


@dataclass(frozen=True)
class Cell:
    """One figure of a breakdown. `key` identifies the value (None for "not given"); `shown` is
    what a page, chart, CSV or report prints: the count, or "fewer than N" when suppressed."""

    key: str | None
    label: str
    count: int
    restricted: int
    shown: str
    suppressed: bool


def small_cell() -> int:
    return int(getattr(settings, "STATISTICS_SMALL_CELL", 3))


def computed_at() -> datetime | None:
    """When the last finished refresh computed the rollups (None before the first). One query."""
    return (StatisticsRun.objects.filter(finished_at__isnull=False)
            .order_by("-finished_at", "-pk").values_list("finished_at", flat=True).first())


def make_cell(key: str | None, label: str, count: int, restricted: int) -> Cell:
    """Apply the small-cell rule: 0 < count < N with any incident the viewer may not read."""
    limit = small_cell()
    suppressed = 0 < count < limit and restricted > 0
    shown = gettext("fewer than %(n)d") % {"n": limit} if suppressed else str(count)
    return Cell(key=key, label=label, count=count, restricted=restricted, shown=shown,
                suppressed=suppressed)


def _check(viewer_cert: Cert, cert: Cert) -> None:
    if not cert.path or not viewer_cert.path or not cert.path.startswith(viewer_cert.path):
        raise OutsideSubtree(f"{cert.slug} is not {viewer_cert.slug} or below it.")


def _subtree(viewer_cert: Cert, cert: Cert):
    _check(viewer_cert, cert)
    return IncidentRollup.objects.filter(owner_cert__path__startswith=cert.path)


def _in_range(field: str, date_from: date | None, date_to: date | None) -> Q:
    q = Q(**{f"{field}__isnull": False})
    if date_from is not None:
        q &= Q(**{f"{field}__gte": date_from})
    if date_to is not None:
        q &= Q(**{f"{field}__lte": date_to})
    return q


def _restricted(viewer_cert: Cert) -> Q:
    # The statistics of a subtree are only asked by its members: every owner is the viewer's CERT
    # or below it, and below, AMBER+STRICT and RED are not readable (an earlier owner might read
    # one, but the rollup does not know: counting it as restricted errs on the safe side).
    return Q(tlp__in=RESTRICTED_LABELS) & ~Q(owner_cert=viewer_cert.pk)


def totals(viewer_cert: Cert, cert: Cert, *, date_from: date | None = None,
           date_to: date | None = None) -> dict[str, int]:
    """Incidents of `cert`'s subtree: opened (reported in the range), closed (resolved or rejected
    in the range), open (still open when computed, reported on or before date_to). One query."""
    opened_q = _in_range("reported_day", date_from, date_to)
    closed_q = _in_range("resolved_day", date_from, date_to)
    open_q = Q(status__in=OPEN_STATUSES)
    if date_to is not None:
        open_q &= Q(reported_day__lte=date_to)
    row = _subtree(viewer_cert, cert).aggregate(
        opened=Coalesce(Sum("incidents", filter=opened_q), 0),
        closed=Coalesce(Sum("incidents", filter=closed_q), 0),
        open=Coalesce(Sum("incidents", filter=open_q), 0),
    )
    return {"opened": row["opened"], "open": row["open"], "closed": row["closed"]}


def _labels(by: str) -> dict:
    if by == "classification":
        return dict(taxonomy.classifications())
    if by == "severity":
        return {value: str(label) for value, label in Severity.choices}
    if by == "tlp":
        return {value: value for value in Tlp.values}
    if by == "region":
        return {value: str(label) for value, label in Region.choices}
    if by == "source":
        return {value: str(label) for value, label in Source.choices}
    if by == "status":
        return {value: str(label) for value, label in Status.choices}
    return {}


def breakdown(viewer_cert: Cert, cert: Cert, *, by: str, date_from: date | None = None,
              date_to: date | None = None) -> list[Cell]:
    """Incidents of `cert`'s subtree reported in the range, one Cell per value of `by`.

    Values of a fixed list (severity, TLP, region, source, status) come in the list's order; the
    others by count. "child": one cell per direct child of `cert` (key: its slug) and one for `cert`
    itself (key "own"), every child even at 0. Two queries at most.
    """
    if by not in BREAKDOWNS:
        raise ValueError(f"Unknown breakdown {by!r}; use one of: {', '.join(BREAKDOWNS)}.")
    rows = _subtree(viewer_cert, cert).filter(_in_range("reported_day", date_from, date_to))
    sums = {"count": Sum("incidents"),
            "restricted": Coalesce(Sum("incidents", filter=_restricted(viewer_cert)), 0)}
    if by == "child":
        return _children(cert, rows.values("owner_cert__path").annotate(**sums))
    if by == "sector":
        grouped = rows.values("sector", "sector__name").annotate(**sums)
        cells = [make_cell(None if r["sector"] is None else str(r["sector"]),
                           r["sector__name"] or gettext("Not given"), r["count"], r["restricted"])
                 for r in grouped]
        return sorted(cells, key=lambda c: (-c.count, c.key is None, c.label))
    labels = _labels(by)
    grouped = {r[by]: r for r in rows.values(by).annotate(**sums)}
    cells = []
    for value, r in grouped.items():
        key = None if value in ("", None) else str(value)
        label = labels.get(value, str(value)) if key is not None else gettext("Not given")
        cells.append(make_cell(key, label, r["count"], r["restricted"]))
    if by == "classification":
        return sorted(cells, key=lambda c: (-c.count, c.label))
    order = {str(value): index for index, value in enumerate(labels)}
    if by == "severity":  # the most severe first
        order = {key: -index for key, index in order.items()}
    return sorted(cells, key=lambda c: (c.key is None, order.get(c.key, len(order)), c.label))


def _children(cert: Cert, grouped) -> list[Cell]:
    children = list(Cert.objects.filter(parent=cert).order_by("name").only("pk", "slug", "name",
                                                                              "short_name",
                                                                              "is_active"))
    by_id = {child.pk: child for child in children}
    counts: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for r in grouped:
        ids = [int(part) for part in r["owner_cert__path"].split("/") if part]
        # The CERT itself, or the child of `cert` on the owner's path.
        child_id = ids[cert.depth + 1] if len(ids) > cert.depth + 1 else None
        counts[child_id][0] += r["count"]
        counts[child_id][1] += r["restricted"]
    own = counts.get(None, [0, 0])
    cells = [make_cell(OWN_KEY, cert.name, own[0], own[1])]
    for child in children:
        count, restricted = counts.get(child.pk, [0, 0])
        if child.is_active or count:
            cells.append(make_cell(child.slug, child.name, count, restricted))
    # A child CERT made after the last refresh has no rows yet; one moved away keeps none either,
    # since rows follow owner_cert and the path is read now. Nothing is left unaccounted.
    unknown = [key for key in counts if key is not None and key not in by_id]
    for key in unknown:
        cells.append(make_cell(str(key), gettext("Other"), counts[key][0], counts[key][1]))
    return cells


def _period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_period(day: date, interval: str) -> date:
    if interval == "week":
        return day + timedelta(days=7)
    if interval == "month":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=1)


def series(viewer_cert: Cert, cert: Cert, *, interval: str, date_from: date | None = None,
           date_to: date | None = None) -> list[tuple[date, int, int]]:
    """(period start, opened, closed) for each day, week (from Monday) or month of the range,
    periods without incidents included as zeros. Two queries."""
    if interval not in INTERVALS:
        raise ValueError(f"Unknown interval {interval!r}; use one of: {', '.join(INTERVALS)}.")
    rows = _subtree(viewer_cert, cert)
    trunc = {"day": None, "week": TruncWeek, "month": TruncMonth}[interval]
    found: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for index, field in enumerate(("reported_day", "resolved_day")):
        group = F(field) if trunc is None else trunc(field)
        for period, count in (rows.filter(_in_range(field, date_from, date_to))
                              .annotate(period=group).values("period")
                              .annotate(count=Sum("incidents")).values_list("period", "count")):
            if isinstance(period, datetime):
                period = period.date()
            found[period][index] += count
    if not found and (date_from is None or date_to is None):
        return []
    first = _period_start(date_from or min(found), interval)
    last = date_to or max(found)
    out = []
    period = first
    while period <= last:
        opened, closed = found.get(period, (0, 0))
        out.append((period, opened, closed))
        period = _next_period(period, interval)
    return out


def region_tiles(viewer_cert: Cert, cert: Cert, *, now: datetime | None = None
                 ) -> list[tuple[str, str, int | str, int | str]]:
    """(region code, label, open, overdue) for every province and territory, counted now from the
    open incidents of `cert`'s subtree (indexed columns, open incidents only). One query.

    A tile is a cell like any other: an open or overdue count that is small and holds an incident
    the viewer may not read is given as the text "fewer than N" instead of its number."""
    _check(viewer_cert, cert)
    now = now or timezone.now()
    restricted = _restricted(viewer_cert)
    overdue = overdue_condition(now)
    grouped = {r["region"]: r for r in (
        Incident.objects.filter(owner_cert__path__startswith=cert.path, status__in=OPEN_STATUSES)
        .values("region").annotate(open=Count("pk"), overdue=Count("pk", filter=overdue),
                                   open_restricted=Count("pk", filter=restricted),
                                   overdue_restricted=Count("pk", filter=overdue & restricted)))}

    def shown(row: dict, name: str) -> int | str:
        cell = make_cell(None, "", row.get(name, 0), row.get(f"{name}_restricted", 0))
        return cell.shown if cell.suppressed else cell.count

    return [(code, str(label), shown(grouped.get(code, {}), "open"),
             shown(grouped.get(code, {}), "overdue")) for code, label in Region.choices]


__all__ = ["BREAKDOWNS", "INTERVALS", "OWN_KEY", "Cell", "OutsideSubtree", "breakdown",
           "computed_at", "make_cell", "region_tiles", "series", "small_cell", "totals"]
