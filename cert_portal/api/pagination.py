"""Cursor pagination for every API list (issue 11): keyset pages, no COUNT, stable under inserts."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Newest first by `ordering` (a unique tail, the primary key, keeps pages stable); the
    page size is `?page_size=` up to 200."""

    ordering = ("-created_at", "-pk")
    page_size_query_param = "page_size"
    max_page_size = 200
