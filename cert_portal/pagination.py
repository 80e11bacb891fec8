"""Keyset (cursor) pagination: a page starts after the last row of the page before it.

Offset pagination (`?page=100`) makes the database read and throw away every row before the page,
and a row inserted meanwhile shifts every later page by one. A keyset cursor names the position of
the row the page starts after (its sort value and primary key), so page 100 costs what page 1 costs
and rows that arrive while someone pages do not repeat or skip rows already shown (issue 8).

A cursor is opaque to its reader: it is the direction and the position, encoded for a URL. It is
not secret (it only says where a page starts; access is checked on every page), so it is not signed,
but a damaged one is refused with `BadCursor` rather than guessed at.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    OLDER = "o"  # the rows after the position in list order (newest first): the next page
    NEWER = "n"  # the rows before it: the previous page


@dataclass(frozen=True)
class Position:
    """Where a row sits in an order of (time, primary key), both descending."""

    at: datetime
    pk: int


@dataclass(frozen=True)
class Cursor:
    direction: Direction
    position: Position


class BadCursor(ValueError):
    """The cursor of a page link was damaged or made up."""

    def __init__(self):
        super().__init__("This page link is damaged or out of date: start again from the first "
                         "page.")


def encode_cursor(direction: Direction, position: Position) -> str:
    text = f"{direction.value}|{position.at.isoformat()}|{position.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    """The cursor `value` encodes; BadCursor for anything else."""
    try:
        padded = value + "=" * (-len(value) % 4)
        direction, at, pk = base64.urlsafe_b64decode(padded.encode("ascii")).decode().split("|")
        position = Position(at=datetime.fromisoformat(at), pk=int(pk))
        cursor = Cursor(Direction(direction), position)
    except (ValueError, UnicodeError, binascii.Error):
        raise BadCursor from None
    if position.at.tzinfo is None or position.pk < 1:
        raise BadCursor
    return cursor


def cursor_or_message(value: str) -> tuple[Cursor | None, str]:
    """(cursor, message) for a page's `cursor` parameter: none given is the first page; a
    damaged one is said in the message, and the first page shown."""
    if not value:
        return None, ""
    try:
        return decode_cursor(value), ""
    except BadCursor as error:
        return None, str(error)
