"""The audit trail as a CSV file (issue 13, item 1): streamed, so that a year of a national
CERT's trail costs the server one chunk of rows in memory, not the whole file.

Every cell a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage
return) gets a leading apostrophe: actor names, object labels and details come from what people
typed, a failed sign-in's name included. The file starts with a byte order mark: Excel opens a
UTF-8 file as UTF-8 (Urdu names included) only with it; other readers skip it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from cert_portal.audit.models import AuditEvent, AuditKind, Channel
from cert_portal.audit.selectors import for_listing

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched from the database at a time: what the export holds in memory.
CHUNK_SIZE = 2000


def defuse(value) -> str:
    """`value` as a cell a spreadsheet shows as text, never runs."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """A file-like object that hands back what csv.writer writes, one row at a time."""

    def write(self, text: str) -> str:
        return text


def header() -> list[str]:
    return [_("Time"), _("Event"), _("Event code"), _("Who"), _("API key"), _("Acting as CERT"),
            _("Channel"), _("Client address"), _("Object type"), _("Object key"), _("Object"),
            _("Detail")]


class Labels:
    """The header and the names of kinds and channels, translated while the request's language
    is active: the rows are written later, as the response is sent."""

    def __init__(self):
        self.header = [str(cell) for cell in header()]
        self.kinds = {value: str(label) for value, label in AuditKind.choices}
        self.channels = {value: str(label) for value, label in Channel.choices}


def row(event: AuditEvent, labels: Labels) -> list[str]:
    """One event as CSV cells; the time in the portal's time zone, with its offset."""
    kinds, channels = labels.kinds, labels.channels
    return [
        timezone.localtime(event.at).isoformat(timespec="seconds"),
        str(kinds.get(event.kind, event.kind)), event.kind, event.actor_label,
        event.api_key.name if event.api_key is not None else "",
        event.cert.short_name if event.cert is not None else "",
        str(channels.get(event.channel, event.channel)), event.client_address or "",
        event.object_type, event.object_id, event.object_label,
        json.dumps(event.detail, ensure_ascii=False, sort_keys=True, default=str)
        if event.detail else "",
    ]


def lines(events: QuerySet[AuditEvent], labels: Labels) -> Iterator[str]:
    """The CSV text of `events`, a row at a time, the header first (after the BOM)."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield BOM + writer.writerow([defuse(cell) for cell in labels.header])
    for event in for_listing(events).iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([defuse(cell) for cell in row(event, labels)])


def csv_response(events: QuerySet[AuditEvent], filename: str) -> StreamingHttpResponse:
    """A download of `events` as `filename`, never kept by a cache."""
    response = StreamingHttpResponse(lines(events, Labels()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


__all__ = ["BOM", "CHUNK_SIZE", "Labels", "csv_response", "defuse", "header", "lines", "row"]
