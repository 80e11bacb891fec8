"""Reads of the audit trail's pages: the filters applied to what cert_portal.audit.access gives,
and one page of it by keyset on (at, id), newest first, in one query whatever the page's size."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from cert_portal.audit.models import AuditEvent
from cert_portal.pagination import Cursor, Direction, Position, encode_cursor


def filtered(events: QuerySet[AuditEvent], filters: dict) -> QuerySet[AuditEvent]:
    """`events` narrowed by the cleaned TrailFilters: kind, actor and object (contain the text,
    any case), and days in the portal's time zone (the last day included)."""
    if filters.get("kind"):
        events = events.filter(kind=filters["kind"])
    if filters.get("actor"):
        events = events.filter(actor_label__icontains=filters["actor"])
    if filters.get("object"):
        events = events.filter(object_label__icontains=filters["object"])
    if filters.get("date_from"):
        events = events.filter(at__gte=_start_of(filters["date_from"]))
    if filters.get("date_to"):
        events = events.filter(at__lt=_start_of(filters["date_to"] + datetime.timedelta(days=1)))
    return events


def _start_of(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of `day` in the portal's time zone (the one pages show times in)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def for_listing(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """With what a row shows beside the event: the CERT acted as, and the API key used."""
    return events.select_related("cert", "api_key")


@dataclass
class Row:
    event: AuditEvent
    detail: list[tuple[str, str]]


@dataclass
class Page:
    rows: list[Row]
    older_cursor: str | None = None
    newer_cursor: str | None = None


def detail_text(value) -> str:
    """A detail's value as one line of text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def page(events: QuerySet[AuditEvent], *, size: int, cursor: Cursor | None) -> Page:
    """One page of `events` (newest first) after or before `cursor`: one query. Events with the
    same time are ordered by id, so no event is repeated or skipped between pages."""
    newer = cursor is not None and cursor.direction is Direction.NEWER
    if cursor is not None:
        at, pk = cursor.position.at, cursor.position.pk
        beyond = (Q(at__gt=at) | Q(at=at, pk__gt=pk) if newer
                  else Q(at__lt=at) | Q(at=at, pk__lt=pk))
        events = events.filter(beyond)
    order = ("at", "id") if newer else ("-at", "-id")
    found = list(for_listing(events).order_by(*order)[:size + 1])
    more = len(found) > size
    found = found[:size]
    if newer:
        found.reverse()
    if not found:
        return Page([])
    rows = [Row(event, [(str(key), detail_text(value)) for key, value in event.detail.items()]
                if isinstance(event.detail, dict) else [("", detail_text(event.detail))])
            for event in found]
    first, last = Position(found[0].at, found[0].pk), Position(found[-1].at, found[-1].pk)
    has_older = True if newer else more
    has_newer = more if newer else cursor is not None
    return Page(rows, older_cursor=encode_cursor(Direction.OLDER, last) if has_older else None,
                newer_cursor=encode_cursor(Direction.NEWER, first) if has_newer else None)


__all__ = ["Page", "Row", "detail_text", "filtered", "for_listing", "page"]
