"""SLA compliance per owner period (issue 12, point 2), against a fixture computed by hand.

The story, on the frozen clock from T0 (2026-03-10 05:00 UTC, 10:00 in Karachi), in the
government tree: lahore -> punjab -> government -> national.

  A  High (ack 4 h, resolve 7 d), TLP:RED, opened at Lahore at T0. Nobody acknowledges it: the
     SLA pass escalates it at T0+4h to Punjab and at T0+8h to Government. Government
     acknowledges at T0+9h and resolves at T0+2d.
  B  Severe (ack 1 h, resolve 3 d), TLP:AMBER, Lahore, T0: acknowledged at T0+30m (in time),
     resolved at T0+4d (a day late).
  C  Medium (ack 24 h, resolve 14 d), TLP:AMBER+STRICT, Punjab, T0: acknowledged at T0+30h
     (6 h late), resolved at T0+5d (in time).
  D  High, TLP:GREEN, Lahore, T0+1h: a Lahore handler escalates it by hand at T0+2h, before its
     deadline (T0+5h), without acknowledging it; Punjab acknowledges at T0+3h (deadline T0+6h).
     Still open at the end (resolution due T0+7d1h).
  E  Baseline (ack 7 d, resolve 90 d), TLP:CLEAR, Government, T0+5d: nothing done yet.

The facts are built at NOW = T0+6d.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidents.models import OwnershipPeriod, SlaPeriodFact, Status
from incidents.services import incident_escalate, incident_transition
from incidents.sla import run_sla_pass
from incidents.statistics.figures import OutsideSubtree
from incidents.statistics.refresh import refresh
from incidents.statistics.sla import build_sla_facts, p90, sla_compliance
from tests.factories import make_incident
from tests.incidents.support import T0

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
D = timedelta(days=1)
NOW = T0 + 6 * D


def _act(incident, user, status):
    incident.refresh_from_db()
    incident_transition(incident=incident, actor=user, to_status=status)


@pytest.fixture
def story(certs, member, clock):
    lahore, punjab, government = (member(slug, "handler") for slug in ("lahore", "punjab",
                                                                        "government"))
    made = {}
    made["A"] = make_incident(owner_cert=certs["lahore"], severity=3, tlp="TLP:RED")
    made["B"] = make_incident(owner_cert=certs["lahore"], severity=4, tlp="TLP:AMBER")
    made["C"] = make_incident(owner_cert=certs["punjab"], severity=2, tlp="TLP:AMBER+STRICT")
    clock.set(T0 + H / 2)
    _act(made["B"], lahore, Status.ACKNOWLEDGED)
    clock.set(T0 + H)
    made["D"] = make_incident(owner_cert=certs["lahore"], severity=3, tlp="TLP:GREEN")
    clock.set(T0 + 2 * H)
    incident_escalate(incident=made["D"], actor=lahore)
    clock.set(T0 + 3 * H)
    _act(made["D"], punjab, Status.ACKNOWLEDGED)
    clock.set(T0 + 4 * H)
    assert run_sla_pass().escalated == 1  # A, Lahore -> Punjab
    clock.set(T0 + 8 * H)
    assert run_sla_pass().escalated == 1  # A, Punjab -> Government
    clock.set(T0 + 9 * H)
    _act(made["A"], government, Status.ACKNOWLEDGED)
    clock.set(T0 + 30 * H)
    _act(made["C"], punjab, Status.ACKNOWLEDGED)
    clock.set(T0 + 2 * D)
    _act(made["A"], government, Status.RESOLVED)
    clock.set(T0 + 4 * D)
    _act(made["B"], lahore, Status.RESOLVED)
    clock.set(T0 + 5 * D)
    _act(made["C"], punjab, Status.RESOLVED)
    made["E"] = make_incident(owner_cert=certs["government"], severity=0, tlp="TLP:CLEAR")
    clock.set(NOW)
    return made


def facts_by_period(story, certs):
    """{(incident letter, owner slug): fact}, from build_sla_facts at NOW."""
    letters = {incident.pk: letter for letter, incident in story.items()}
    slugs = {cert.pk: slug for slug, cert in certs.items()}
    return {(letters[f.incident_id], slugs[f.cert_id]): f for f in build_sla_facts(NOW)
            if f.incident_id in letters}


def test_one_fact_per_ownership_period_judged_by_hand(story, certs):
    facts = facts_by_period(story, certs)
    assert len(facts) == OwnershipPeriod.objects.count() == 8
    # (started, ended, ack due, acknowledged, ack met, resolve due, resolved, resolve met,
    #  ended by an escalation for a missed acknowledgement)
    expected = {
        # A at Lahore: not acknowledged by T0+4h, escalated by the pass at that instant. The
        # resolution (due T0+7d) was still ahead when Lahore's period ended: undecided.
        ("A", "lahore"): (T0, T0 + 4 * H, T0 + 4 * H, None, False, T0 + 7 * D, None, None, True),
        # A at Punjab: a fresh 4 h deadline from T0+4h, missed again.
        ("A", "punjab"): (T0 + 4 * H, T0 + 8 * H, T0 + 8 * H, None, False, T0 + 7 * D, None,
                          None, True),
        # A at Government: acknowledged 1 h into a 4 h deadline; resolved at T0+2d < T0+7d.
        ("A", "government"): (T0 + 8 * H, None, T0 + 12 * H, T0 + 9 * H, True, T0 + 7 * D,
                              T0 + 2 * D, True, False),
        ("B", "lahore"): (T0, None, T0 + H, T0 + H / 2, True, T0 + 3 * D, T0 + 4 * D, False,
                          False),
        ("C", "punjab"): (T0, None, T0 + D, T0 + 30 * H, False, T0 + 14 * D, T0 + 5 * D, True,
                          False),
        # D at Lahore: handed on by a person before its deadline, unacknowledged: undecided,
        # and not an escalation for a missed deadline.
        ("D", "lahore"): (T0 + H, T0 + 2 * H, T0 + 5 * H, None, None, T0 + 7 * D + H, None, None,
                          False),
        ("D", "punjab"): (T0 + 2 * H, None, T0 + 6 * H, T0 + 3 * H, True, T0 + 7 * D + H, None,
                          None, False),
        # E: both deadlines ahead at NOW.
        ("E", "government"): (T0 + 5 * D, None, T0 + 12 * D, None, None, T0 + 95 * D, None, None,
                              False),
    }
    assert set(facts) == set(expected)
    for key, fact in facts.items():
        got = (fact.started_at, fact.ended_at, fact.ack_due_at, fact.acknowledged_at, fact.ack_met,
               fact.resolve_due_at, fact.resolved_at, fact.resolve_met,
               fact.escalated_for_missed_deadline)
        assert got == expected[key], key
        incident = story[key[0]]
        assert (fact.severity, fact.tlp) == (incident.severity, incident.tlp)


def test_a_running_deadline_becomes_missed_once_it_passes(story, certs):
    # At T0+12d E's acknowledgement deadline (T0+5d + 7d) is reached, and D's resolution deadline
    # (T0+7d1h) has passed while Punjab held it: both now count as missed.
    later = {(f.incident_id, f.cert_id): f for f in build_sla_facts(T0 + 12 * D)}
    e = later[(story["E"].pk, certs["government"].pk)]
    d = later[(story["D"].pk, certs["punjab"].pk)]
    d_lahore = later[(story["D"].pk, certs["lahore"].pk)]
    assert (e.ack_met, e.resolve_met) == (False, None)
    assert (d.ack_met, d.resolve_met) == (True, False)
    assert d_lahore.resolve_met is None  # the miss is Punjab's, not Lahore's


def test_facts_cost_two_queries_whatever_the_number_of_incidents(story, certs, clock,
                                                                django_assert_num_queries):
    with django_assert_num_queries(2):
        few = build_sla_facts(NOW)
    for _ in range(15):
        incident = make_incident(owner_cert=certs["karachi"], severity=5)
        incident_escalate(incident=incident, actor=None)
    with django_assert_num_queries(2):
        many = build_sla_facts(NOW)
    assert len(many) == len(few) + 30


def compliance_row(rows, key):
    return next(row for row in rows if row.key == key)


def test_compliance_of_the_government_tree_equals_the_hand_count(story, certs, clock,
                                                                  django_assert_num_queries):
    clock.set(NOW)
    refresh(NOW)
    assert SlaPeriodFact.objects.count() == 8
    government = certs["government"]
    with django_assert_num_queries(2):
        result = sla_compliance(government, government)

    total = result.total
    assert total.periods.count == 8 and not total.suppressed
    # Acknowledgement decided in 6 periods (A-lahore F, A-punjab F, A-gov T, B T, C F, D-punjab
    # T): 3 of 6 = 50 %.
    assert (total.acknowledged.met, total.acknowledged.decided, total.acknowledged.percent) == (
        3, 6, 50.0)
    # Resolution decided in 3 (A-gov T, B F, C T): 2 of 3 = 66.7 %.
    assert (total.resolved.met, total.resolved.decided, total.resolved.percent) == (2, 3, 66.7)
    # Times to acknowledge: 1 h (A-gov), 30 min (B), 30 h (C), 1 h (D-punjab); mean 32.5 h / 4 =
    # 8 h 7 min 30 s; p90 by nearest rank: ceil(0.9 * 4) = 4th of 4 = 30 h.
    assert total.ack_mean == timedelta(hours=8, minutes=7, seconds=30)
    assert total.ack_p90 == 30 * H
    # Times to resolve, from each owner's start: 40 h (A-gov, T0+8h -> T0+2d), 96 h (B), 120 h
    # (C); mean 256 h / 3 = 85 h 20 min; p90: ceil(2.7) = 3rd of 3 = 120 h.
    assert total.resolve_mean == timedelta(hours=85, minutes=20)
    assert total.resolve_p90 == 120 * H
    assert total.escalations == 2  # A, twice

    severities = {row.key: row for row in result.by_severity}
    assert [row.key for row in result.by_severity] == ["5", "4", "3", "2", "1", "0"]
    assert severities["5"].periods.count == 0 and severities["5"].acknowledged.percent is None
    # Severe: B only; AMBER, nothing restricted.
    severe = severities["4"]
    assert (severe.periods.count, severe.acknowledged.percent, severe.resolved.percent) == (
        1, 100.0, 0.0)
    # High: A x3 and D x2. Acknowledgement decided for A-lahore F, A-punjab F, A-gov T,
    # D-punjab T: 50 %; resolution A-gov T: 100 %; A's two escalations.
    high = severities["3"]
    assert (high.periods.count, high.periods.restricted) == (5, 2)  # A's RED periods below
    assert (high.acknowledged.met, high.acknowledged.decided) == (2, 4)
    assert (high.resolved.met, high.resolved.decided, high.escalations) == (1, 1, 2)
    assert high.ack_mean == H and high.ack_p90 == H
    # Medium: only C, AMBER+STRICT at Punjab, which Government may not read: 1 < 3, suppressed.
    medium = severities["2"]
    assert medium.suppressed and medium.periods.shown == "fewer than 3"
    assert (medium.acknowledged, medium.ack_mean, medium.ack_p90, medium.escalations) == (
        None, None, None, None)
    # Baseline: E, CLEAR: shown, nothing decided yet.
    assert severities["0"].periods.count == 1 and severities["0"].acknowledged.percent is None

    certs_rows = {row.key: row for row in result.by_cert}
    assert result.by_cert[0].key == "own"
    own = certs_rows["own"]  # A-gov and E; A is RED but Government's own
    assert (own.periods.count, own.periods.restricted) == (2, 0)
    assert (own.acknowledged.percent, own.resolved.percent, own.escalations) == (100.0, 100.0, 0)
    assert (own.ack_mean, own.resolve_mean) == (H, 40 * H)
    # Punjab with Lahore below it: A-lahore, A-punjab, B, C, D-lahore, D-punjab; restricted:
    # the two RED periods of A and C. Acknowledged 2 of 5 (B, D-punjab of A-l, A-p, B, C, D-p):
    # 40 %; resolved 1 of 2 (C of B, C): 50 %; acknowledge in 30 min, 30 h, 1 h: mean 10.5 h,
    # p90 30 h; resolve in 96 h and 120 h: mean 108 h, p90 (2nd of 2) 120 h.
    punjab = certs_rows["punjab"]
    assert (punjab.periods.count, punjab.periods.restricted) == (6, 3)
    assert (punjab.acknowledged.met, punjab.acknowledged.decided,
            punjab.acknowledged.percent) == (2, 5, 40.0)
    assert (punjab.resolved.met, punjab.resolved.decided, punjab.resolved.percent) == (1, 2, 50.0)
    assert (punjab.ack_mean, punjab.ack_p90) == (10.5 * H, 30 * H)
    assert (punjab.resolve_mean, punjab.resolve_p90) == (108 * H, 120 * H)
    assert punjab.escalations == 2
    # Every active child is listed, at zero too; and the staffing gaps stand beside them
    # (the test members are handlers only: no head anywhere).
    sindh = certs_rows["sindh"]
    assert sindh.periods.count == 0 and sindh.acknowledged.percent is None
    assert any("has no head" in gap for gap in punjab.staffing_gaps)
    assert any("has no head" in gap for gap in sindh.staffing_gaps)
    assert not any("handler" in gap for gap in punjab.staffing_gaps)
    assert any("handler" in gap for gap in sindh.staffing_gaps)
    assert sum(row.periods.count for row in result.by_cert) == 8


def test_one_level_down_and_the_small_cell_setting(story, certs, clock, settings):
    refresh(NOW)
    punjab = certs["punjab"]
    rows = {row.key: row for row in sla_compliance(punjab, punjab).by_cert}
    # Punjab's own: A-punjab, C, D-punjab; all Punjab's own, so nothing restricted to it.
    assert (rows["own"].periods.count, rows["own"].periods.restricted) == (3, 0)
    # Ack: A-punjab F, C F, D-punjab T: 1 of 3.
    assert (rows["own"].acknowledged.met, rows["own"].acknowledged.decided) == (1, 3)
    # Lahore: A-lahore (RED, Lahore's), B, D-lahore: 3 periods, 1 restricted to Punjab.
    lahore = rows["lahore"]
    assert (lahore.periods.count, lahore.periods.restricted, lahore.escalations) == (3, 1, 1)
    assert not lahore.suppressed
    settings.STATISTICS_SMALL_CELL = 4
    lahore = {row.key: row for row in sla_compliance(punjab, punjab).by_cert}["lahore"]
    assert lahore.suppressed and lahore.periods.shown == "fewer than 4"
    assert (lahore.acknowledged, lahore.resolved, lahore.escalations) == (None, None, None)
    # Lahore looking at itself reads its own RED incident: nothing suppressed.
    lahore_cert = certs["lahore"]
    own = sla_compliance(lahore_cert, lahore_cert).total
    assert (own.periods.count, own.periods.restricted, own.suppressed) == (3, 0, False)


def test_the_range_selects_periods_by_their_start_day(story, certs):
    refresh(NOW)
    government = certs["government"]
    # T0 is 10:00 on 10 March in Karachi; E's period began on 15 March, the others on 10 March.
    first_day = sla_compliance(government, government, date_from=T0.date(), date_to=T0.date())
    assert first_day.total.periods.count == 7
    later = sla_compliance(government, government, date_from=(T0 + 5 * D).date())
    assert later.total.periods.count == 1
    assert later.total.acknowledged.decided == 0


def test_outside_the_viewers_subtree_is_refused(story, certs):
    refresh(NOW)
    with pytest.raises(OutsideSubtree):
        sla_compliance(certs["lahore"], certs["punjab"])
    with pytest.raises(OutsideSubtree):
        sla_compliance(certs["sindh"], certs["lahore"])
    assert sla_compliance(certs["national"], certs["lahore"]).total.periods.count == 3


def test_compliance_costs_two_queries_at_any_size(story, certs, clock, django_assert_num_queries):
    refresh(NOW)
    national = certs["national"]
    with django_assert_num_queries(2):
        sla_compliance(national, national)
    for _ in range(20):
        make_incident(owner_cert=certs["karachi"], severity=1)
    refresh(NOW)
    with django_assert_num_queries(2):
        result = sla_compliance(national, national)
    assert result.total.periods.count == 28


def test_p90_is_the_nearest_rank():
    minutes = [timedelta(minutes=m) for m in range(1, 11)]  # 1..10
    assert p90(minutes) == timedelta(minutes=9)  # ceil(9.0) = 9th
    assert p90(minutes + [timedelta(minutes=11)]) == timedelta(minutes=10)  # ceil(9.9) = 10th
    assert p90([]) is None


def test_a_missed_resolution_counts_once_and_only_the_pass_marks_missed_escalations(
        certs, member, clock):
    # F, Emergency (ack 15 min, resolve 24 h), Karachi, T0: acknowledged at T0+10m, still open
    # when a Karachi handler escalates it at T0+2d, after its resolution deadline (T0+24h). The
    # miss is Karachi's; Sindh's period began after it and is undecided. At T0+2d1h the system
    # escalates it on (not for a missed acknowledgement, by another reason): Sindh missed its
    # own 15 min deadline, but its period was not ended by the SLA pass's escalation.
    karachi = member("karachi", "handler")
    f = make_incident(owner_cert=certs["karachi"], severity=5)
    clock.set(T0 + timedelta(minutes=10))
    _act(f, karachi, Status.ACKNOWLEDGED)
    clock.set(T0 + 2 * D)
    f.refresh_from_db()
    incident_escalate(incident=f, actor=karachi)
    clock.set(T0 + 2 * D + H)
    f.refresh_from_db()
    incident_escalate(incident=f, actor=None, reason="asked for by the duty officer")
    facts = {fact.cert_id: fact for fact in build_sla_facts(T0 + 3 * D) if fact.incident_id == f.pk}
    at_karachi, at_sindh, at_government = (facts[certs[slug].pk]
                                           for slug in ("karachi", "sindh", "government"))
    assert (at_karachi.ack_met, at_karachi.resolve_met) == (True, False)
    assert (at_sindh.ack_met, at_sindh.resolve_met) == (False, None)
    assert (at_government.ack_met, at_government.resolve_met) == (False, None)
    assert not any(fact.escalated_for_missed_deadline for fact in facts.values())
