from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured

from incidents.severity import DEFAULT_SLA, Severity, SlaTargets, deadlines, sla_table, sla_targets
from tests.incidents.shared import shared_standard

KARACHI = ZoneInfo("Asia/Karachi")
START = datetime(2026, 1, 10, 9, 0, tzinfo=KARACHI)


@pytest.fixture
def no_override(settings):
    if hasattr(settings, "INCIDENT_SLA"):
        del settings.INCIDENT_SLA
    return settings


def test_levels_are_the_nciss_levels():
    assert [(s.value, s.label) for s in Severity] == [
        (0, "Baseline"), (1, "Low"), (2, "Medium"), (3, "High"), (4, "Severe"), (5, "Emergency"),
    ]


def test_level_names_match_the_nciss_standard():
    nciss = shared_standard("ncis-priority-level.json")
    names = {p["value"] for p in nciss["predicates"]}
    # NCISS splits Baseline into Minor and Negligible; the portal keeps one level 0 for both.
    assert names == {s.label.lower() for s in Severity if s != Severity.BASELINE} | {
        "baseline-minor", "baseline-negligible",
    }
    by_rank = sorted(nciss["predicates"], key=lambda p: p["numerical_value"], reverse=True)
    assert [p["expanded"] for p in by_rank[:5]] == [
        s.label for s in sorted(Severity, reverse=True)[:5]
    ]


@pytest.mark.parametrize(
    ("severity", "acknowledge", "resolve"),
    [
        (5, timedelta(minutes=15), timedelta(hours=24)),
        (4, timedelta(hours=1), timedelta(days=3)),
        (3, timedelta(hours=4), timedelta(days=7)),
        (2, timedelta(hours=24), timedelta(days=14)),
        (1, timedelta(days=3), timedelta(days=30)),
        (0, timedelta(days=7), timedelta(days=90)),
    ],
)
def test_default_targets_are_those_of_the_domain_design(
    no_override, severity, acknowledge, resolve
):
    assert DEFAULT_SLA[Severity(severity)] == (acknowledge, resolve)
    assert sla_targets(severity) == (acknowledge, resolve)
    ack, res = sla_targets(Severity(severity))
    assert (ack, res) == (acknowledge, resolve)
    assert sla_targets(severity).acknowledge == acknowledge


def test_no_setting_gives_the_defaults(no_override):
    assert sla_table() == DEFAULT_SLA
    assert sla_table() is not DEFAULT_SLA  # callers may not change the defaults by accident


@pytest.mark.parametrize(
    ("written", "duration"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        (" 10m ", timedelta(minutes=10)),
        (600, timedelta(minutes=10)),
        (timedelta(minutes=7), timedelta(minutes=7)),
    ],
)
def test_override_durations(settings, written, duration):
    settings.INCIDENT_SLA = {0: {"acknowledge": written}}
    assert sla_targets(0) == (duration, timedelta(days=90))


def test_override_merges_with_the_defaults(settings):
    settings.INCIDENT_SLA = {
        5: {"acknowledge": "10m"},
        "2": {"acknowledge": "8h", "resolve": "10d"},
        Severity.LOW: {"resolve": "60d"},
        0: {},
    }
    assert sla_table() == {
        Severity.EMERGENCY: (timedelta(minutes=10), timedelta(hours=24)),
        Severity.SEVERE: (timedelta(hours=1), timedelta(days=3)),
        Severity.HIGH: (timedelta(hours=4), timedelta(days=7)),
        Severity.MEDIUM: (timedelta(hours=8), timedelta(days=10)),
        Severity.LOW: (timedelta(days=3), timedelta(days=60)),
        Severity.BASELINE: (timedelta(days=7), timedelta(days=90)),
    }
    assert isinstance(sla_targets(2), SlaTargets)


def test_the_setting_is_read_at_call_time(settings):
    settings.INCIDENT_SLA = {4: {"acknowledge": "30m"}}
    assert sla_targets(4).acknowledge == timedelta(minutes=30)
    settings.INCIDENT_SLA = {4: {"acknowledge": "45m"}}
    assert sla_targets(4).acknowledge == timedelta(minutes=45)
    del settings.INCIDENT_SLA
    assert sla_targets(4).acknowledge == timedelta(hours=1)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            [(5, {"acknowledge": "10m"})],
            'INCIDENT_SLA must be a dict of severity (0-5) to {"acknowledge": ..., '
            '"resolve": ...}, not list.',
        ),
        (
            {6: {}},
            "INCIDENT_SLA has the key 6, which is not a severity: use 0 to 5 (5 Emergency, "
            "4 Severe, 3 High, 2 Medium, 1 Low, 0 Baseline).",
        ),
        (
            {"high": {}},
            "INCIDENT_SLA has the key 'high', which is not a severity: use 0 to 5 (5 Emergency, "
            "4 Severe, 3 High, 2 Medium, 1 Low, 0 Baseline).",
        ),
        (
            {True: {}},
            "INCIDENT_SLA has the key True, which is not a severity: use 0 to 5 (5 Emergency, "
            "4 Severe, 3 High, 2 Medium, 1 Low, 0 Baseline).",
        ),
        (
            {5: "15m"},
            'INCIDENT_SLA[5] must be a dict with "acknowledge" and/or "resolve", not str.',
        ),
        (
            {5: {"acknowlege": "15m", "fix": "1d"}},
            "INCIDENT_SLA[5] has unknown key(s) 'acknowlege', 'fix': "
            'use "acknowledge" and/or "resolve".',
        ),
        (
            {5: {"acknowledge": "15 minutes"}},
            "INCIDENT_SLA[5]['acknowledge']='15 minutes' is not a duration: use a whole number of "
            'seconds, a timedelta, or a number with one unit such as "90s", "15m", "4h", "3d" '
            'or "2w".',
        ),
        (
            {"3": {"resolve": "1.5d"}},
            "INCIDENT_SLA['3']['resolve']='1.5d' is not a duration: use a whole number of "
            'seconds, a timedelta, or a number with one unit such as "90s", "15m", "4h", "3d" '
            'or "2w".',
        ),
        (
            {5: {"acknowledge": "1h30m"}},
            "INCIDENT_SLA[5]['acknowledge']='1h30m' is not a duration: use a whole number of "
            'seconds, a timedelta, or a number with one unit such as "90s", "15m", "4h", "3d" '
            'or "2w".',
        ),
        (
            {5: {"acknowledge": 1.5}},
            "INCIDENT_SLA[5]['acknowledge']=1.5 is not a duration: use a whole number of "
            'seconds, a timedelta, or a number with one unit such as "90s", "15m", "4h", "3d" '
            'or "2w".',
        ),
        (
            {5: {"acknowledge": True}},
            "INCIDENT_SLA[5]['acknowledge']=True is not a duration: use a whole number of "
            'seconds, a timedelta, or a number with one unit such as "90s", "15m", "4h", "3d" '
            'or "2w".',
        ),
        (
            {5: {"acknowledge": "0m"}},
            "INCIDENT_SLA[5]['acknowledge']='0m': the duration must be positive.",
        ),
        (
            {5: {"acknowledge": -60}},
            "INCIDENT_SLA[5]['acknowledge']=-60: the duration must be positive.",
        ),
        (
            {5: {"acknowledge": timedelta(0)}},
            "INCIDENT_SLA[5]['acknowledge']=datetime.timedelta(0): the duration must be "
            "positive.",
        ),
        (
            {5: {"resolve": "99999999999999w"}},
            "INCIDENT_SLA[5]['resolve']='99999999999999w' is too long to be a duration.",
        ),
        (
            {5: {"acknowledge": "2d"}},
            "INCIDENT_SLA[5]: the acknowledge target (2 days, 0:00:00) is longer than the "
            "resolve target (1 day, 0:00:00); an incident must be acknowledged before it is "
            "resolved.",
        ),
    ],
)
def test_a_malformed_setting_fails_loudly(settings, setting, message):
    settings.INCIDENT_SLA = setting
    with pytest.raises(ImproperlyConfigured) as caught:
        sla_targets(5)
    assert str(caught.value) == message


def test_a_bad_entry_fails_whichever_severity_is_asked(settings):
    settings.INCIDENT_SLA = {0: {"resolve": "soon"}}
    with pytest.raises(ImproperlyConfigured, match=r"INCIDENT_SLA\[0\]\['resolve'\]='soon'"):
        sla_targets(5)


@pytest.mark.parametrize("severity", [-1, 6, "high"])
def test_an_unknown_severity_is_a_programming_error(no_override, severity):
    with pytest.raises(ValueError):
        sla_targets(severity)


@pytest.mark.parametrize(
    ("severity", "ack_due_at", "resolve_due_at"),
    [
        (5, datetime(2026, 1, 10, 9, 15, tzinfo=KARACHI), datetime(2026, 1, 11, 9, 0,
                                                                   tzinfo=KARACHI)),
        (4, datetime(2026, 1, 10, 10, 0, tzinfo=KARACHI), datetime(2026, 1, 13, 9, 0,
                                                                   tzinfo=KARACHI)),
        (0, datetime(2026, 1, 17, 9, 0, tzinfo=KARACHI), datetime(2026, 4, 10, 9, 0,
                                                                  tzinfo=KARACHI)),
    ],
)
def test_deadlines_add_the_targets_to_the_start(no_override, severity, ack_due_at, resolve_due_at):
    assert deadlines(severity, start=START) == (ack_due_at, resolve_due_at)


def test_deadlines_are_in_the_zone_of_the_start(no_override):
    ack_due_at, resolve_due_at = deadlines(Severity.HIGH, start=START)
    assert ack_due_at.tzinfo is KARACHI
    assert resolve_due_at.tzinfo is KARACHI
    utc_ack, _ = deadlines(Severity.HIGH, start=START.astimezone(UTC))
    assert utc_ack.tzinfo is UTC
    assert utc_ack == ack_due_at


def test_deadlines_count_elapsed_time_across_a_daylight_saving_change(no_override):
    # Europe/Berlin moves from UTC+1 to UTC+2 on 2026-03-29: 24 hours after Saturday noon is
    # Sunday 13:00 on the wall clock, not 12:00.
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=berlin)
    ack_due_at, resolve_due_at = deadlines(Severity.EMERGENCY, start=start)
    assert ack_due_at == datetime(2026, 3, 28, 12, 15, tzinfo=berlin)
    assert (resolve_due_at.hour, resolve_due_at.day) == (13, 29)
    # Subtracting datetimes of one zone compares wall clocks; UTC gives the elapsed time.
    assert resolve_due_at.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24)
    assert resolve_due_at.astimezone(UTC) == datetime(2026, 3, 29, 11, 0, tzinfo=UTC)


def test_deadlines_use_the_override(settings):
    settings.INCIDENT_SLA = {5: {"acknowledge": "5m", "resolve": "12h"}}
    assert deadlines(5, start=START) == (
        datetime(2026, 1, 10, 9, 5, tzinfo=KARACHI),
        datetime(2026, 1, 10, 21, 0, tzinfo=KARACHI),
    )


def test_deadlines_refuse_a_naive_start(no_override):
    with pytest.raises(ValueError) as caught:
        deadlines(5, start=datetime(2026, 1, 10, 9, 0))
    assert str(caught.value) == (
        "deadlines() needs a time-zone aware start, got the naive "
        "datetime.datetime(2026, 1, 10, 9, 0)."
    )
