"""Incident severity and its SLA clocks (DOMAIN.md §3).

Severity follows the priority levels of CISA's National Cyber Incident Scoring System (NCISS,
`shared/standards/ncis-priority-level.json`). NCISS splits its lowest level into "Baseline - Minor"
and "Baseline - Negligible"; the portal keeps one level 0, Baseline, for both.

Each severity has two targets: acknowledge within, and resolve within. The defaults are the table
of DOMAIN.md §3. A deployment may override any of them with the setting `INCIDENT_SLA`, read at
call time (never at import), for example::

    INCIDENT_SLA = {
        5: {"acknowledge": "10m"},                  # Emergency: 10 minutes, resolve keeps 24h
        2: {"acknowledge": "8h", "resolve": "10d"},
    }

- Keys are severities 0..5, as integers (or strings of digits, which is what a JSON object gives).
- Each value is a dict with "acknowledge" and/or "resolve"; what it leaves out keeps its default,
  and severities left out keep both defaults.
- A duration is a whole number of seconds (int), a `datetime.timedelta`, or a string of a whole
  number and one unit: "90s", "15m", "4h", "3d" or "2w" (seconds, minutes, hours, days, weeks).
- Every duration must be positive, and acknowledging may not take longer than resolving.

A bad value raises ImproperlyConfigured naming the setting, the entry and what to write instead.

Clocks run on calendar time, 24/7, holidays included: nothing pauses them, so a deadline is the
start plus the elapsed time (see `deadlines`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext_lazy as _

SETTING = "INCIDENT_SLA"


class Severity(models.IntegerChoices):
    """NCISS priority levels, 0 (least) to 5 (most severe)."""

    BASELINE = 0, _("Baseline")
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    SEVERE = 4, _("Severe")
    EMERGENCY = 5, _("Emergency")


class SlaTargets(NamedTuple):
    """How long a CERT has to acknowledge and to resolve an incident of one severity."""

    acknowledge: timedelta
    resolve: timedelta


DEFAULT_SLA: dict[Severity, SlaTargets] = {
    Severity.EMERGENCY: SlaTargets(timedelta(minutes=15), timedelta(hours=24)),
    Severity.SEVERE: SlaTargets(timedelta(hours=1), timedelta(days=3)),
    Severity.HIGH: SlaTargets(timedelta(hours=4), timedelta(days=7)),
    Severity.MEDIUM: SlaTargets(timedelta(hours=24), timedelta(days=14)),
    Severity.LOW: SlaTargets(timedelta(days=3), timedelta(days=30)),
    Severity.BASELINE: SlaTargets(timedelta(days=7), timedelta(days=90)),
}

_TARGET_KEYS = ("acknowledge", "resolve")
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def sla_table() -> dict[Severity, SlaTargets]:
    """Return the targets of every severity: the defaults with `settings.INCIDENT_SLA` applied.

    Raise ImproperlyConfigured if the setting is malformed, whichever severity the bad entry is
    for: a deployment with a broken setting fails on first use, not when a rare severity appears.
    """
    override = getattr(settings, SETTING, None)
    if override is None:
        return dict(DEFAULT_SLA)
    if not isinstance(override, dict):
        raise ImproperlyConfigured(
            f"{SETTING} must be a dict of severity (0-5) to "
            f'{{"acknowledge": ..., "resolve": ...}}, not {type(override).__name__}.'
        )
    table = dict(DEFAULT_SLA)
    for key, targets in override.items():
        severity = _parse_severity(key)
        where = f"{SETTING}[{key!r}]"
        if not isinstance(targets, dict):
            raise ImproperlyConfigured(
                f'{where} must be a dict with "acknowledge" and/or "resolve", '
                f"not {type(targets).__name__}."
            )
        unknown = [k for k in targets if k not in _TARGET_KEYS]
        if unknown:
            raise ImproperlyConfigured(
                f"{where} has unknown key(s) {', '.join(map(repr, unknown))}: "
                f'use "acknowledge" and/or "resolve".'
            )
        acknowledge, resolve = table[severity]
        if "acknowledge" in targets:
            acknowledge = parse_duration(targets["acknowledge"], where=f"{where}['acknowledge']")
        if "resolve" in targets:
            resolve = parse_duration(targets["resolve"], where=f"{where}['resolve']")
        if acknowledge > resolve:
            raise ImproperlyConfigured(
                f"{where}: the acknowledge target ({acknowledge}) is longer than the resolve "
                f"target ({resolve}); an incident must be acknowledged before it is resolved."
            )
        table[severity] = SlaTargets(acknowledge, resolve)
    return table


def sla_targets(severity: int) -> SlaTargets:
    """Return (acknowledge, resolve) for `severity`, from the defaults and `INCIDENT_SLA`.

    Raise ValueError if `severity` is not 0..5, ImproperlyConfigured if the setting is malformed.
    """
    return sla_table()[Severity(severity)]


def deadlines(severity: int, *, start: datetime) -> tuple[datetime, datetime]:
    """Return (ack_due_at, resolve_due_at) for an incident of `severity` whose clock starts at
    `start`.

    `start` must be time-zone aware (ValueError otherwise). The deadlines are `start` plus the
    targets in elapsed time: the sum is taken in UTC, so a daylight-saving change in the zone of
    `start` neither shortens nor lengthens a target. They are returned in the zone of `start`.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"deadlines() needs a time-zone aware start, got the naive {start!r}.")
    acknowledge, resolve = sla_targets(severity)
    # Aware arithmetic in a zoneinfo zone is wall-clock arithmetic; UTC makes it elapsed time.
    start_utc = start.astimezone(UTC)
    return (
        (start_utc + acknowledge).astimezone(start.tzinfo),
        (start_utc + resolve).astimezone(start.tzinfo),
    )


def parse_duration(value: Any, *, where: str = SETTING) -> timedelta:
    """Return `value` as a positive timedelta.

    Accept a whole number of seconds (int), a timedelta, or a string such as "90s", "15m", "4h",
    "3d", "2w". Raise ImproperlyConfigured naming `where` for anything else or a duration <= 0.
    """
    duration: timedelta | None = None
    try:
        if isinstance(value, timedelta):
            duration = value
        elif isinstance(value, int) and not isinstance(value, bool):
            duration = timedelta(seconds=value)
        elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
            duration = timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    except OverflowError:
        raise ImproperlyConfigured(f"{where}={value!r} is too long to be a duration.") from None
    if duration is None:
        raise ImproperlyConfigured(
            f"{where}={value!r} is not a duration: use a whole number of seconds, a timedelta, or "
            f'a number with one unit such as "90s", "15m", "4h", "3d" or "2w".'
        )
    if duration <= timedelta(0):
        raise ImproperlyConfigured(f"{where}={value!r}: the duration must be positive.")
    return duration


def _parse_severity(key: Any) -> Severity:
    number: int | None = None
    if isinstance(key, int) and not isinstance(key, bool):
        number = key
    elif isinstance(key, str) and key.strip().isascii() and key.strip().isdigit():
        number = int(key)
    if number is None or number not in Severity.values:
        raise ImproperlyConfigured(
            f"{SETTING} has the key {key!r}, which is not a severity: use 0 to 5 "
            f"({', '.join(f'{s.value} {s.label}' for s in reversed(Severity))})."
        )
    return Severity(number)
