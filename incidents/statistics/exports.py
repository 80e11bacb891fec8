"""CSV downloads of the statistics tables (issue 12, point 3): each table beside a chart, as a file.

A CSV carries exactly what the page's table shows: the shown text of a cell ("fewer than 3"), never
the count it withholds, and nothing that names an incident. Text a spreadsheet would run as a
formula is defused with a leading apostrophe (labels come from data administrators edit).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse

# Excel opens a UTF-8 file as such (Urdu labels included) only when it starts with a BOM.
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(value) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """The rows as CSV text (with the BOM), every cell defused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_safe(cell) for cell in header])
    for row in rows:
        writer.writerow([_safe(cell) for cell in row])
    return BOM + buffer.getvalue()


def breakdown_rows(cells) -> list[tuple[str, str, str]]:
    """(key, label, incidents as shown) for each figures.Cell."""
    return [(cell.key or "", str(cell.label), cell.shown) for cell in cells]


def csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


__all__ = ["breakdown_rows", "csv_response", "csv_text"]
