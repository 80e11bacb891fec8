"""SLA compliance per owner period (issue 12, point 2).

An escalated incident counts against each owner for its own part: every OwnershipPeriod gets one
SlaPeriodFact (`build_sla_facts`, written by incidents.statistics.refresh), and the compliance
figures (`sla_compliance`) are read from those rows only.

The rules of a fact, from the services (incidents.services.lifecycle and .handover):

- Acknowledgement. Every owner has its own deadline: the period's start plus the severity's
  acknowledge target (a hand-over sets owner_since and ack_due_at so). The period is acknowledged
  by its first status change out of "new" (to acknowledged, or rejected: either ends the clock the
  SLA pass watches). Met if that came by the deadline; missed if the deadline passed first, while
  the owner held the incident (the pass escalates at `ack_due_at <= now`, so the deadline instant
  itself is late); undecided (None) while it runs before the deadline, and for a period handed on
  by a person before its deadline without an acknowledgement.
- Resolution. The deadline is the incident's own (reported_at plus the resolve target; a
  hand-over does not move it). It is decided once, against the owner who held the incident when
  it was resolved (or rejected) or when the deadline passed unresolved; every other period of the
  incident is undecided for it. A period that began after the deadline had passed is undecided:
  the miss is its predecessor's.
- A period ended by an escalation that the SLA pass made for a missed acknowledgement (actor the
  system, reason incidents.sla.ACK_MISSED_REASON) is `escalated_for_missed_deadline`.

Simplifications, said here so that nobody reads more into the figures: a severity change applies
its targets to the whole period (as the services recompute the deadlines from their own starts);
a reopen to "new" inside a period (rejected -> new) does not restart that period's acknowledgement
clock.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import groupby

from django.db.models import Count, Q
from django.utils import timezone, translation

from incidents.models import EventKind, OwnershipPeriod, SlaPeriodFact, Status, TimelineEvent
from incidents.severity import Severity, sla_table
from incidents.sla import ACK_MISSED_REASON
from incidents.statistics.figures import OWN_KEY, RESTRICTED_LABELS, OutsideSubtree, make_cell
from organizations.health import _staffing_gaps
from organizations.models import Cert, Role

CHUNK = 2000
HAND_OVER_KINDS = (EventKind.ESCALATED, EventKind.REFERRED)


def _english_labels() -> dict[str, str]:
    # The timeline stores status labels in English (incidents.services.base.in_english).
    with translation.override("en"):
        return {str(label): value for value, label in Status.choices}


# --- Building the facts -------------------------------------------------------------------------


@dataclass
class _Period:
    pk: int
    incident_id: int
    cert_id: int
    started_at: datetime
    ended_at: datetime | None
    severity: int
    tlp: str
    resolve_due_at: datetime
    statuses: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, old, new)
    ended_by_missed_ack: bool = False


def _periods() -> Iterator[_Period]:
    rows = (OwnershipPeriod.objects.order_by("incident_id", "started_at", "pk")
            .values_list("pk", "incident_id", "cert_id", "started_at", "ended_at",
                         "incident__severity", "incident__tlp", "incident__resolve_due_at"))
    for row in rows.iterator(chunk_size=CHUNK):
        yield _Period(*row)


def _events() -> Iterator[tuple]:
    rows = (TimelineEvent.objects.filter(kind__in=(EventKind.STATUS, *HAND_OVER_KINDS))
            .order_by("incident_id", "at", "pk")
            .values_list("incident_id", "kind", "at", "actor_id", "old_value", "new_value",
                         "reason"))
    return rows.iterator(chunk_size=CHUNK)


def _assign(periods: list[_Period], events: Iterable[tuple]) -> None:
    """Give each status event to the period it happened in, and mark each period that a missed
    acknowledgement's escalation ended. Events come in (at, pk) order: an event at the very
    instant of a hand-over belongs to the period before it if it was written before it."""
    index, last = 0, len(periods) - 1
    for _incident, kind, at, actor_id, old, new, reason in events:
        while index < last and periods[index].ended_at is not None and at > periods[index].ended_at:
            index += 1
        if kind in HAND_OVER_KINDS:
            if index < last:
                periods[index].ended_by_missed_ack = (kind == EventKind.ESCALATED and actor_id is None
                                                      and reason == ACK_MISSED_REASON)
                index += 1
            continue
        periods[index].statuses.append((at, old, new))


def _fact(period: _Period, now: datetime, targets, labels: dict[str, str]) -> SlaPeriodFact:
    ack_due = period.started_at + targets[Severity(period.severity)].acknowledge
    held_until = period.ended_at or now
    acknowledged_at = resolved_at = None
    for at, old, new in period.statuses:
        old, new = labels.get(old), labels.get(new)
        if acknowledged_at is None and old == Status.NEW and new != Status.NEW:
            acknowledged_at = at
        if new in (Status.RESOLVED, Status.REJECTED):
            resolved_at = at
        elif new in (Status.NEW, Status.IN_PROGRESS):
            resolved_at = None  # reopened
    if acknowledged_at is not None:
        ack_met = acknowledged_at <= ack_due
    elif held_until >= ack_due:
        ack_met = False
    else:
        ack_met = None
    resolve_due = period.resolve_due_at
    if period.started_at >= resolve_due:
        resolve_met = None
    elif resolved_at is not None:
        resolve_met = resolved_at <= resolve_due
    elif held_until >= resolve_due:
        resolve_met = False
    else:
        resolve_met = None
    return SlaPeriodFact(
        period_id=period.pk, incident_id=period.incident_id, cert_id=period.cert_id,
        severity=period.severity, tlp=period.tlp, started_at=period.started_at,
        ended_at=period.ended_at, ack_due_at=ack_due, acknowledged_at=acknowledged_at,
        ack_met=ack_met, resolve_due_at=resolve_due, resolved_at=resolved_at,
        resolve_met=resolve_met, escalated_for_missed_deadline=period.ended_by_missed_ack)


def build_sla_facts(now: datetime) -> list[SlaPeriodFact]:
    """Return one unsaved SlaPeriodFact per OwnershipPeriod, judged at `now`.

    Two queries whatever the number of incidents: the periods and the status and hand-over events,
    both streamed in incident order and walked side by side, so that only one incident's periods
    and events are held at a time (besides the facts returned).
    """
    targets, labels = sla_table(), _english_labels()
    facts: list[SlaPeriodFact] = []
    events = groupby(_events(), key=lambda event: event[0])
    pending = next(events, None)
    for incident_id, group in groupby(_periods(), key=lambda period: period.incident_id):
        periods = list(group)
        while pending is not None and pending[0] < incident_id:
            pending = next(events, None)
        if pending is not None and pending[0] == incident_id:
            _assign(periods, pending[1])
            pending = next(events, None)
        facts.extend(_fact(period, now, targets, labels) for period in periods)
    return facts


# --- Reading compliance -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Periods that met a deadline, of those decided (met or missed)."""

    met: int
    decided: int

    @property
    def percent(self) -> float | None:
        return None if not self.decided else round(100 * self.met / self.decided, 1)


@dataclass(frozen=True)
class ComplianceRow:
    """The compliance of one severity or one CERT (with its subtree). When `periods` is
    suppressed by the small-cell rule, every other figure is None: a rate or a time of one or two
    periods would describe an incident the viewer may not read."""

    key: str | None
    label: str
    periods: object  # figures.Cell: the number of ownership periods, small-cell rule applied
    acknowledged: Rate | None
    resolved: Rate | None
    ack_mean: timedelta | None
    ack_p90: timedelta | None
    resolve_mean: timedelta | None
    resolve_p90: timedelta | None
    escalations: int | None  # periods ended by an escalation for a missed acknowledgement
    staffing_gaps: tuple[str, ...] = ()  # CERT rows only: the registry health report's warnings

    @property
    def suppressed(self) -> bool:
        return self.periods.suppressed


@dataclass(frozen=True)
class Compliance:
    total: ComplianceRow
    by_severity: list[ComplianceRow]  # every severity, the most severe first
    by_cert: list[ComplianceRow]  # `cert` itself (key "own"), then its direct children


def mean(durations: list[timedelta]) -> timedelta | None:
    return sum(durations, timedelta()) / len(durations) if durations else None


def p90(durations: list[timedelta]) -> timedelta | None:
    """The 90th percentile by the nearest-rank method: the smallest duration that at least 90 %
    of the durations do not exceed (always one of them; no interpolation)."""
    if not durations:
        return None
    ordered = sorted(durations)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


class _Tally:
    def __init__(self) -> None:
        self.periods = self.restricted = self.escalations = 0
        self.ack_met = self.ack_decided = self.resolve_met = self.resolve_decided = 0
        self.ack_times: list[timedelta] = []
        self.resolve_times: list[timedelta] = []

    def add(self, row: dict, restricted: bool) -> None:
        self.periods += 1
        self.restricted += restricted
        self.escalations += row["escalated_for_missed_deadline"]
        if row["ack_met"] is not None:
            self.ack_decided += 1
            self.ack_met += row["ack_met"]
        if row["resolve_met"] is not None:
            self.resolve_decided += 1
            self.resolve_met += row["resolve_met"]
        if row["acknowledged_at"] is not None:
            self.ack_times.append(row["acknowledged_at"] - row["started_at"])
        if row["resolved_at"] is not None:
            self.resolve_times.append(row["resolved_at"] - row["started_at"])

    def row(self, key: str | None, label: str, gaps: tuple[str, ...] = ()) -> ComplianceRow:
        cell = make_cell(key, label, self.periods, self.restricted)
        if cell.suppressed:
            return ComplianceRow(key, label, cell, None, None, None, None, None, None, None, gaps)
        return ComplianceRow(
            key, label, cell, Rate(self.ack_met, self.ack_decided),
            Rate(self.resolve_met, self.resolve_decided), mean(self.ack_times), p90(self.ack_times),
            mean(self.resolve_times), p90(self.resolve_times), self.escalations, gaps)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def sla_compliance(viewer_cert: Cert, cert: Cert, *, date_from: date | None = None,
                   date_to: date | None = None) -> Compliance:
    """The SLA compliance of the ownership periods of `cert`'s subtree that started in the range
    (days in the current time zone, both ends included): in total, per severity, and per owner
    CERT (`cert` itself, and each direct child with its subtree), beside each CERT's staffing gaps.

    `cert` must be `viewer_cert` or below it (OutsideSubtree otherwise; who may ask is the
    caller's question to the access module). Counts include every TLP; a row of fewer than
    STATISTICS_SMALL_CELL periods with any the viewer may not read is suppressed (figures'
    small-cell rule). Two queries whatever the number of periods: the CERTs, and the facts,
    streamed; only the durations of the range are held, for the percentiles.
    """
    if not cert.path or not viewer_cert.path or not cert.path.startswith(viewer_cert.path):
        raise OutsideSubtree(f"{cert.slug} is not {viewer_cert.slug} or below it.")
    certs = list(Cert.objects.filter(Q(pk=cert.pk) | Q(parent=cert)).annotate(
        heads=Count("memberships", filter=Q(memberships__role=Role.HEAD)),
        handlers=Count("memberships", filter=Q(memberships__role=Role.HANDLER)),
    ).order_by("name"))
    facts = SlaPeriodFact.objects.filter(cert__path__startswith=cert.path)
    if date_from is not None:
        facts = facts.filter(started_at__gte=_start_of(date_from))
    if date_to is not None:
        facts = facts.filter(started_at__lt=_start_of(date_to + timedelta(days=1)))
    total = _Tally()
    by_severity: dict[int, _Tally] = defaultdict(_Tally)
    by_child: dict[int | None, _Tally] = defaultdict(_Tally)
    for row in facts.values("cert_id", "cert__path", "severity", "tlp", "started_at",
                            "acknowledged_at", "ack_met", "resolved_at", "resolve_met",
                            "escalated_for_missed_deadline").iterator(chunk_size=CHUNK):
        restricted = row["tlp"] in RESTRICTED_LABELS and row["cert_id"] != viewer_cert.pk
        ids = [int(part) for part in row["cert__path"].split("/") if part]
        child = ids[cert.depth + 1] if len(ids) > cert.depth + 1 else None
        for tally in (total, by_severity[row["severity"]], by_child[child]):
            tally.add(row, restricted)
    severities = [by_severity[level].row(str(level), str(level.label))
                  for level in sorted(Severity, reverse=True)]
    own = next(c for c in certs if c.pk == cert.pk)
    rows = [by_child[None].row(OWN_KEY, own.name, _gaps(own))]
    for child in certs:
        if child.pk != cert.pk and (child.is_active or by_child[child.pk].periods):
            rows.append(by_child[child.pk].row(child.slug, child.name, _gaps(child)))
    return Compliance(total=total.row(None, cert.name), by_severity=severities, by_cert=rows)


def _gaps(cert: Cert) -> tuple[str, ...]:
    return tuple(finding.message for finding in _staffing_gaps(cert)) if cert.is_active else ()


__all__ = ["Compliance", "ComplianceRow", "Rate", "build_sla_facts", "mean", "p90",
           "sla_compliance"]
