"""The SVG charts and the CSV text of the statistics pages: pure functions, no database."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from incidents.statistics.charts import TILE_POSITIONS, Bar, Tile, bar_chart, line_chart, tile_grid
from incidents.statistics.exports import csv_text

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & Co\'s'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def test_bar_chart_parses_escapes_its_labels_and_is_labelled():
    svg = bar_chart([Bar(HOSTILE, 4, "4"), Bar("Sindh", 2, "2")], title=f"By {HOSTILE}")
    assert "<script>" not in svg
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label") == f"By {HOSTILE}"
    assert root.find(f"{SVG}title").text == f"By {HOSTILE}"
    # The label is clipped for the chart, but stays the text it was, unescaped by the parser.
    assert any(text.startswith('<script>alert("x")') for text in texts(root))
    widths = [float(rect.get("width")) for rect in root.iter(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1]


def test_a_withheld_cell_draws_no_bar_and_shows_its_text():
    root = parse(bar_chart([Bar("TLP:RED", None, "fewer than 3"), Bar("TLP:AMBER", 7, "7")],
                           title="By TLP"))
    assert len(list(root.iter(f"{SVG}rect"))) == 1
    assert "fewer than 3" in texts(root)
    # The visible bar is as long as the plot: the withheld count is not the chart's scale.
    assert float(next(root.iter(f"{SVG}rect")).get("width")) == 360


def test_right_to_left_bars_put_labels_on_the_right_and_grow_leftwards():
    ltr = parse(bar_chart([Bar("پنجاب", 5, "5")], title="t"))
    rtl = parse(bar_chart([Bar("پنجاب", 5, "5")], title="t", rtl=True))
    assert rtl.get("direction") == "rtl" and ltr.get("direction") is None
    width = float(rtl.get("viewBox").split()[2])
    rtl_label = next(rtl.iter(f"{SVG}text"))
    ltr_label = next(ltr.iter(f"{SVG}text"))
    assert float(rtl_label.get("x")) > width / 2 > float(ltr_label.get("x"))
    # Bars of different lengths share their right edge (next to the label) and grow leftwards.
    two = parse(bar_chart([Bar("a", 4, "4"), Bar("b", 1, "1")], title="t", rtl=True))
    (long_x, long_w), (short_x, short_w) = [(float(r.get("x")), float(r.get("width")))
                                            for r in two.iter(f"{SVG}rect")]
    assert long_x + long_w == short_x + short_w
    assert long_x < short_x


def test_empty_charts_still_parse():
    assert parse(bar_chart([], title="Nothing")).find(f"{SVG}title").text == "Nothing"
    assert parse(line_chart([], [("Opened", [])], title="Nothing")) is not None


def test_line_chart_draws_each_series_over_the_periods():
    root = parse(line_chart(["2026-01-01", "2026-01-02", "2026-01-03"],
                            [("Opened & more", [1, 4, 2]), ("Closed", [0, 1, 3])], title="Trend"))
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 2
    assert [len(line.get("points").split()) for line in lines] == [3, 3]
    # The peak (4) is at the top of the plot, zero at its bottom.
    ys = [float(point.split(",")[1]) for point in lines[0].get("points").split()]
    assert ys[1] == min(ys) and max(ys) > ys[1]
    assert "Opened & more" in texts(root)
    assert {"2026-01-01", "2026-01-03", "4", "0"} <= set(texts(root))


def test_tile_grid_places_every_province_and_marks_overdue():
    tiles = [Tile(code, f"Region {code}", f"{n} open", f"{n % 2} overdue", n % 2)
             for n, code in enumerate(TILE_POSITIONS)]
    root = parse(tile_grid(tiles, title="Provinces"))
    groups = list(root.iter(f"{SVG}g"))
    assert len(groups) == 7
    assert sum("chart-tile-overdue" in group.get("class") for group in groups) == 3
    corners = {(rect.get("x"), rect.get("y")) for rect in root.iter(f"{SVG}rect")}
    assert len(corners) == 7  # no two tiles on top of each other


def test_csv_text_defuses_formulas_and_keeps_numbers_and_urdu():
    text = csv_text(["label", "incidents"],
                    [("=HYPERLINK(\"x\")", "3"), ("-5", -5), ("سندھ", "fewer than 3")])
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["label", "incidents"], ["'=HYPERLINK(\"x\")", "3"], ["-5", "-5"],
                    ["سندھ", "fewer than 3"]]
