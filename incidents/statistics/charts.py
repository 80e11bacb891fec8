"""Server-rendered SVG charts for the statistics pages (issue 12, point 3): no JavaScript needed.

Pure functions from numbers and labels to an SVG string. Every label is escaped here (labels come
from the registry and the taxonomy, which administrators edit); every chart carries role="img",
an aria-label and a <title>, and the pages put the same figures in a table beside it. In a
right-to-left page (Urdu) the bar charts put their labels on the right and grow leftwards, and
every text runs right to left; numbers stay numbers.

A suppressed cell (fewer than N incidents of a label the viewer may not read) draws no bar: its
length would give away the count the text withholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 190
VALUE_WIDTH = 110
PLOT_WIDTH = 360


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its length (None when withheld) and the text shown for it."""

    label: str
    value: int | None
    text: str


def _svg(*, width: int, height: int, title: str, body: list[str], rtl: bool, css: str) -> SafeString:
    direction = ' direction="rtl"' if rtl else ""
    return mark_safe(  # nosec B308, B703 # every interpolated text goes through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" '
        f'aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%"'
        f' preserveAspectRatio="xMinYMin meet"{direction}>'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, *, anchor: str, css: str = "", rtl: bool = False) -> str:
    cls = f' class="{css}"' if css else ""
    direction = ' direction="rtl"' if rtl else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{direction}{cls}>'
            f"{escape(text)}</text>")


def bar_chart(bars: Sequence[Bar], *, title: str, rtl: bool = False) -> SafeString:
    """Horizontal bars, one per item, longest = the largest value; an empty chart says so."""
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    if not bars:
        return _svg(width=width, height=BAR_HEIGHT + 2 * BAR_GAP, title=title, rtl=rtl, css="chart-bar",
                    body=[_text(width / 2, BAR_HEIGHT, "—", anchor="middle", rtl=rtl)])
    peak = max((bar.value or 0 for bar in bars), default=0) or 1
    body = []
    for index, bar in enumerate(bars):
        top = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        baseline = top + BAR_HEIGHT * 0.7
        length = 0.0 if bar.value is None else PLOT_WIDTH * bar.value / peak
        if rtl:
            label_x, label_anchor = width - 4, "start"
            bar_x = width - LABEL_WIDTH - length
            value_x, value_anchor = bar_x - 6, "start"
        else:
            label_x, label_anchor = LABEL_WIDTH - 8, "end"
            bar_x = LABEL_WIDTH
            value_x, value_anchor = bar_x + length + 6, "start"
        body.append(_text(label_x, baseline, _clip(bar.label), anchor=label_anchor, css="chart-label",
                          rtl=rtl))
        if bar.value is None:
            body.append(_text(value_x, baseline, bar.text, anchor=value_anchor,
                              css="chart-value chart-withheld", rtl=rtl))
            continue
        body.append(f'<rect class="chart-bar-fill" x="{bar_x:.1f}" y="{top}" width="{length:.1f}" '
                    f'height="{BAR_HEIGHT}"><title>{escape(bar.label)}: {escape(bar.text)}</title></rect>')
        body.append(_text(value_x, baseline, bar.text, anchor=value_anchor, css="chart-value", rtl=rtl))
    height = BAR_GAP + len(bars) * (BAR_HEIGHT + BAR_GAP)
    return _svg(width=width, height=height, title=title, body=body, rtl=rtl, css="chart-bar")


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *, title: str,
               rtl: bool = False) -> SafeString:
    """One line per series over the same periods (the first series also shaded as an area), with
    the largest value and zero marked on the axis and the first and last period labelled."""
    width, height = 660, 260
    left, right, top, bottom = 48, 16, 34, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    body = [f'<line class="chart-axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
            f'y2="{top + plot_h}"/>']
    count = len(x_labels)
    if count == 0:
        body.append(_text(width / 2, height / 2, "—", anchor="middle", rtl=rtl))
        return _svg(width=width, height=height, title=title, body=body, rtl=rtl, css="chart-line")
    peak = max((max(values, default=0) for _, values in series), default=0) or 1

    def x(index: int) -> float:
        return left + (plot_w / 2 if count == 1 else plot_w * index / (count - 1))

    def y(value: int) -> float:
        return top + plot_h - plot_h * value / peak

    body.append(_text(left - 6, top + 4, str(peak), anchor="end", css="chart-tick"))
    body.append(_text(left - 6, top + plot_h + 4, "0", anchor="end", css="chart-tick"))
    body.append(_text(x(0), height - 12, x_labels[0], anchor="start" if count > 1 else "middle",
                      css="chart-tick"))
    if count > 1:
        body.append(_text(x(count - 1), height - 12, x_labels[-1], anchor="end", css="chart-tick"))
    for number, (name, values) in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if number == 0:
            area = f"{x(0):.1f},{y(0):.1f} {points} {x(len(values) - 1):.1f},{y(0):.1f}"
            body.append(f'<polygon class="chart-area" points="{area}"/>')
        body.append(f'<polyline class="chart-series chart-series-{number}" fill="none" points="{points}">'
                    f"<title>{escape(name)}</title></polyline>")
        # The legend: a swatch and the series' name, from the reading side of the page.
        legend_x = (width - right - number * 150) if rtl else (left + number * 150)
        swatch_x = legend_x - 12 if rtl else legend_x
        body.append(f'<rect class="chart-swatch chart-series-{number}" x="{swatch_x:.1f}" y="10" '
                    f'width="12" height="12"/>')
        body.append(_text(legend_x - 18 if rtl else legend_x + 18, 21, name, anchor="start",
                          css="chart-legend", rtl=rtl))
    return _svg(width=width, height=height, title=title, body=body, rtl=rtl, css="chart-line")


# The provinces and territories on a grid that keeps their rough places on the map: the north
# (Gilgit-Baltistan, Azad Jammu and Kashmir) on top, Balochistan and Sindh at the bottom.
TILE_POSITIONS = {
    "PK-GB": (1, 0), "PK-JK": (2, 0),
    "PK-KP": (0, 1), "PK-IS": (1, 1), "PK-PB": (2, 1),
    "PK-BA": (0, 2), "PK-SD": (1, 2),
}
TILE_W, TILE_H = 170, 92


@dataclass(frozen=True)
class Tile:
    code: str
    label: str
    open_text: str
    overdue_text: str
    overdue: int


def tile_grid(tiles: Sequence[Tile], *, title: str, rtl: bool = False) -> SafeString:
    """The province/territory tile grid: each tile its name, open and overdue counts (texts are
    given ready to show: translated, or "fewer than N"); a tile with overdue incidents is marked.
    In a right-to-left page the grid keeps the map's orientation (north up, west left)."""
    body = []
    for tile in tiles:
        col, row = TILE_POSITIONS.get(tile.code, (3, len(body) % 3))
        x, y = col * (TILE_W + 8), row * (TILE_H + 8)
        css = "chart-tile chart-tile-overdue" if tile.overdue else "chart-tile"
        anchor_x, anchor = (x + TILE_W - 10, "start") if rtl else (x + 10, "start")
        body.append(f'<g class="{css}"><rect x="{x}" y="{y}" width="{TILE_W}" height="{TILE_H}" rx="6"/>'
                    + _text(anchor_x, y + 24, _clip(tile.label, 24), anchor=anchor, css="chart-tile-name",
                            rtl=rtl)
                    + _text(anchor_x, y + 52, tile.open_text, anchor=anchor, css="chart-tile-open", rtl=rtl)
                    + _text(anchor_x, y + 76, tile.overdue_text, anchor=anchor, css="chart-tile-due",
                            rtl=rtl)
                    + "</g>")
    columns = max((TILE_POSITIONS.get(t.code, (3, 0))[0] for t in tiles), default=2) + 1
    width = max(columns, 3) * (TILE_W + 8)
    return _svg(width=width, height=3 * (TILE_H + 8), title=title, body=body, rtl=rtl, css="chart-tiles")


def _clip(label: str, limit: int = 28) -> str:
    """A label short enough for the chart (the table beside it has the whole text)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


__all__ = ["Bar", "Tile", "bar_chart", "line_chart", "tile_grid"]
