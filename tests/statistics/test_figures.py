"""The read API of the rollups (incidents.statistics.figures): what each viewer is told, the
small-cell rule, and a constant number of queries whatever the number of incidents."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from incidents.models import Incident, Status
from incidents.services import incident_transition
from incidents.statistics import figures
from incidents.statistics.refresh import refresh
from organizations.models import Sector
from tests.factories import make_incident
from tests.incidents.support import T0

DAY = date(2026, 3, 10)  # T0 (05:00 UTC) in Karachi


@pytest.fixture
def tree(certs, member, clock):
    """A RED incident alone at Lahore, AMBER+STRICT at Karachi, AMBER at the national CERT."""
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"), tlp="TLP:RED",
                  severity=4, region="PK-PB", sector=Sector.objects.get(slug="banking"))
    make_incident(owner_cert=certs["karachi"], actor=member("karachi", "handler"),
                  tlp="TLP:AMBER+STRICT", severity=3, region="PK-SD")
    make_incident(owner_cert=certs["national"], actor=member("national", "handler"))
    refresh()
    return certs


def cell(cells, key):
    (found,) = [c for c in cells if c.key == key]
    return found


def test_national_totals_count_red_and_amber_strict_of_the_whole_tree(tree, clock):
    national = tree["national"]
    assert figures.totals(national, national, date_from=DAY, date_to=DAY) == {
        "opened": 3, "open": 3, "closed": 0}
    by_tlp = figures.breakdown(national, national, by="tlp", date_from=DAY, date_to=DAY)
    assert [(c.key, c.count, c.restricted) for c in by_tlp] == [
        ("TLP:AMBER", 1, 0), ("TLP:AMBER+STRICT", 1, 1), ("TLP:RED", 1, 1)]
    # Outside the range there is nothing.
    later = DAY + timedelta(days=1)
    assert figures.totals(national, national, date_from=later, date_to=later)["opened"] == 0


def test_a_red_incident_alone_at_lahore_is_fewer_than_3_above_and_1_at_lahore(tree, settings):
    national, punjab, lahore = tree["national"], tree["punjab"], tree["lahore"]
    for viewer in (national, punjab):
        seen = cell(figures.breakdown(viewer, lahore, by="tlp", date_from=DAY, date_to=DAY), "TLP:RED")
        assert (seen.count, seen.shown, seen.suppressed) == (1, "fewer than 3", True)
    own = cell(figures.breakdown(lahore, lahore, by="tlp", date_from=DAY, date_to=DAY), "TLP:RED")
    assert (own.count, own.restricted, own.shown, own.suppressed) == (1, 0, "1", False)
    # The national CERT's own AMBER incident is its own to read: never suppressed.
    amber = cell(figures.breakdown(national, national, by="tlp"), "TLP:AMBER")
    assert (amber.shown, amber.suppressed) == ("1", False)
    settings.STATISTICS_SMALL_CELL = 5
    seen = cell(figures.breakdown(national, national, by="region"), "PK-PB")
    assert seen.shown == "fewer than 5"


def test_a_cell_of_n_or_more_is_shown_even_when_restricted(certs, member, settings):
    for _ in range(3):
        make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"), tlp="TLP:RED")
    refresh()
    national = certs["national"]
    red = cell(figures.breakdown(national, national, by="tlp"), "TLP:RED")
    assert (red.count, red.restricted, red.shown, red.suppressed) == (3, 3, "3", False)


def test_breakdown_by_child_goes_one_level_down(tree):
    national, government, punjab = tree["national"], tree["government"], tree["punjab"]
    cells = figures.breakdown(national, national, by="child")
    assert cells[0].key == figures.OWN_KEY and cells[0].count == 1
    assert {c.key for c in cells} == {"own", "government", "cii"}
    assert cell(cells, "government").count == 2
    assert cell(cells, "cii").count == 0
    by_province = figures.breakdown(national, government, by="child")
    assert (cell(by_province, "punjab").shown, cell(by_province, "sindh").shown) == (
        "fewer than 3", "fewer than 3")
    assert cell(by_province, "own").count == 0
    assert cell(figures.breakdown(punjab, punjab, by="child"), "lahore").shown == "fewer than 3"


def test_breakdowns_label_every_dimension(tree):
    national = tree["national"]
    severity = figures.breakdown(national, national, by="severity")
    assert [c.key for c in severity] == ["4", "3", "2"]  # the most severe first
    assert cell(figures.breakdown(national, national, by="sector"), None).label == "Not given"
    assert cell(figures.breakdown(national, national, by="sector"), str(
        Sector.objects.get(slug="banking").pk)).label == Sector.objects.get(slug="banking").name
    assert cell(figures.breakdown(national, national, by="region"), "PK-SD").label == "Sindh"
    assert cell(figures.breakdown(national, national, by="status"), "new").count == 3
    assert cell(figures.breakdown(national, national, by="source"), "staff").label == "Staff"
    assert cell(figures.breakdown(national, national, by="classification"), "fraud").count == 3
    with pytest.raises(ValueError, match="use one of"):
        figures.breakdown(national, national, by="assignee")


def test_a_cert_outside_the_viewers_subtree_is_refused(tree):
    lahore, punjab, sindh = tree["lahore"], tree["punjab"], tree["sindh"]
    for call in (lambda: figures.totals(lahore, punjab),
                 lambda: figures.breakdown(punjab, sindh, by="tlp"),
                 lambda: figures.series(lahore, punjab, interval="day", date_from=DAY, date_to=DAY),
                 lambda: figures.region_tiles(punjab, sindh)):
        with pytest.raises(figures.OutsideSubtree):
            call()


def test_series_counts_opened_and_closed_per_period(certs, member, clock):
    handler = member("lahore", "head")
    first = make_incident(owner_cert=certs["lahore"], actor=handler)
    clock.advance(days=8)  # 18 March
    make_incident(owner_cert=certs["lahore"], actor=handler)
    incident_transition(incident=first, actor=handler, to_status=Status.REJECTED)
    refresh()
    lahore = certs["lahore"]
    days = figures.series(lahore, lahore, interval="day", date_from=DAY, date_to=date(2026, 3, 18))
    assert len(days) == 9 and days[0] == (DAY, 1, 0) and days[-1] == (date(2026, 3, 18), 1, 1)
    assert sum(opened for _, opened, _ in days[1:-1]) == 0
    weeks = figures.series(lahore, lahore, interval="week", date_from=date(2026, 3, 9),
                           date_to=date(2026, 3, 22))
    assert weeks == [(date(2026, 3, 9), 1, 0), (date(2026, 3, 16), 1, 1)]
    months = figures.series(lahore, lahore, interval="month", date_from=date(2026, 2, 1),
                            date_to=date(2026, 4, 30))
    assert months == [(date(2026, 2, 1), 0, 0), (date(2026, 3, 1), 2, 1), (date(2026, 4, 1), 0, 0)]
    assert figures.totals(lahore, lahore, date_from=DAY, date_to=date(2026, 3, 18)) == {
        "opened": 2, "open": 1, "closed": 1}
    with pytest.raises(ValueError, match="interval"):
        figures.series(lahore, lahore, interval="year")


def test_region_tiles_count_open_and_overdue_now(tree, clock):
    national = tree["national"]
    tiles = {code: (open_, overdue) for code, _, open_, overdue in figures.region_tiles(national, national)}
    assert len(tiles) == 7
    # Lahore's RED and Karachi's AMBER+STRICT incidents are alone in their tiles: small cells to
    # the national CERT, counted to their owners.
    few = "fewer than 3"
    assert tiles["PK-PB"] == (few, 0) and tiles["PK-SD"] == (few, 0) and tiles["PK-KP"] == (0, 0)
    clock.advance(days=1)  # past the severe and high acknowledgement deadlines
    tiles = {code: (open_, overdue) for code, _, open_, overdue in figures.region_tiles(national, national)}
    assert tiles["PK-PB"] == (few, few) and tiles["PK-SD"] == (few, few)
    lahore = {code: (open_, overdue) for code, _, open_, overdue
              in figures.region_tiles(tree["lahore"], tree["lahore"])}
    assert lahore["PK-PB"] == (1, 1)
    assert {code for code, *_ in figures.region_tiles(tree["sindh"], tree["sindh"]) if _[1]} == {"PK-SD"}


def make_many(certs, n: int) -> None:
    """n incidents written directly (fast), spread over CERTs, labels, statuses and days."""
    owners = [certs[slug] for slug in ("national", "lahore", "karachi", "banking", "example-bank-soc")]
    tlps = ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
    statuses = ["new", "acknowledged", "in_progress", "resolved", "closed"]
    regions = ["PK-PB", "PK-SD", "PK-KP", ""]
    rows = []
    for i in range(n):
        at = T0 - timedelta(hours=i)
        closed = statuses[i % 5] in ("resolved", "closed")
        rows.append(Incident(
            reference=f"PK-INC-BULK-{i:06d}", title="Bulk", classification="fraud",
            incident_type="phishing", severity=i % 6, tlp=tlps[i % 5], status=statuses[(i // 5) % 5],
            owner_cert=owners[i % 5], source="staff", region=regions[i % 4], reported_at=at,
            owner_since=at, ack_due_at=at + timedelta(hours=4), resolve_due_at=at + timedelta(days=7),
            resolved_at=at + timedelta(days=1) if closed else None))
    Incident.objects.bulk_create(rows, batch_size=2000)


@pytest.mark.parametrize("n", [10, 10_000])
def test_every_figure_costs_the_same_queries_at_10_and_10000_incidents(
        certs, clock, n, django_assert_num_queries):
    make_many(certs, n)
    refresh()
    national = certs["national"]
    assert figures.totals(national, national)["opened"] == n
    start, end = date(2025, 1, 1), date(2026, 12, 31)
    with django_assert_num_queries(1):
        figures.computed_at()
    with django_assert_num_queries(1):
        figures.totals(national, national, date_from=start, date_to=end)
    for by in figures.BREAKDOWNS:
        with django_assert_num_queries(2 if by == "child" else 1):
            cells = figures.breakdown(national, national, by=by, date_from=start, date_to=end)
        assert sum(c.count for c in cells) == n
    for interval in figures.INTERVALS:
        with django_assert_num_queries(2):
            figures.series(national, national, interval=interval, date_from=start, date_to=end)
    with django_assert_num_queries(1):
        figures.region_tiles(national, national)


def test_the_small_cell_text_is_translated(tree):
    from django.utils import translation

    national = tree["national"]
    with translation.override("ur"):
        red = cell(figures.breakdown(national, national, by="tlp"), "TLP:RED")
    assert red.shown == "3 سے کم"


def test_a_lone_red_incident_in_a_region_is_a_small_cell_on_the_tiles(certs):
    """The tile grid is a cell too: one open TLP:RED incident of Lahore in Punjab is "fewer than
    3" to the national CERT and 1 to Lahore itself."""
    from incidents.statistics.figures import region_tiles
    from tests.factories import make_incident

    make_incident(owner_cert=certs["lahore"], tlp="TLP:RED", region="PK-PB", title="Lone red")
    national = {code: (open_, overdue) for code, _label, open_, overdue
                in region_tiles(certs["national"], certs["national"])}
    lahore = {code: (open_, overdue) for code, _label, open_, overdue
              in region_tiles(certs["lahore"], certs["lahore"])}
    assert national["PK-PB"][0] == "fewer than 3"
    assert lahore["PK-PB"][0] == 1
