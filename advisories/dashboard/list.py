"""The advisories a member may see, and the review queue of the heads (issue 10, item 4).
Interfaces only: advisories.dashboard.reads reads through advisories.access."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from advisories import access
from advisories.dashboard import reads
from advisories.dashboard.forms import ListQuery
from cert_portal.pagination import cursor_or_message
from cert_portal.staff import staff_page


def frame(request) -> dict:
    """What every advisories page adds to the dashboard's frame: the navigation's place and the
    number of revisions waiting for the member's approval."""
    return {"nav": "advisories", "advisory_review_count": reads.review_waiting_count(request.user)}


@require_http_methods(["GET", "HEAD"])
@staff_page
def advisory_list(request):
    query = ListQuery(request.GET)
    bad = not query.is_valid()
    data = query.cleaned_data  # the valid fields, even when another one is not
    tab = data.get("tab") or reads.Tab.DEFAULT
    search = data.get("q", "")
    size = data.get("size") or reads.PAGE_SIZES[0]
    cursor, cursor_error = cursor_or_message(data.get("cursor", ""))
    page = reads.advisory_list(request.user, tab=tab, search=search, size=size, cursor=cursor)
    kept = {key: value for key, value in (("tab", tab), ("q", search), ("size", size))
            if value and not (key == "size" and value == reads.PAGE_SIZES[0])}
    context = {
        **frame(request), "query": query, "page": page, "tab": tab, "search": search,
        "tabs": [(name, label, urlencode({"tab": name}), name == tab)
                 for name, label in reads.Tab.LABELS.items()],
        "empty_text": reads.Tab.EMPTY[tab], "cursor_error": cursor_error,
        "older_query": urlencode({**kept, "cursor": page.older_cursor}) if page.older_cursor else "",
        "newer_query": urlencode({**kept, "cursor": page.newer_cursor}) if page.newer_cursor else "",
        "is_first_page": cursor is None,
        "may_author": access.may_author_for(request.user, request.staff.cert),
    }
    status = 400 if bad or cursor_error else 200
    return render(request, "dashboard/advisories/list.html", context, status=status)


@require_http_methods(["GET", "HEAD"])
@staff_page
def review_queue(request):
    cursor, cursor_error = cursor_or_message(request.GET.get("cursor", ""))
    page = reads.review_queue(request.user, size=reads.PAGE_SIZES[0], cursor=cursor)
    context = {
        **frame(request), "nav": "advisory_review", "page": page, "cursor_error": cursor_error,
        "is_first_page": cursor is None,
        "approves_somewhere": bool(reads.approver_groups(request.user)),
    }
    return render(request, "dashboard/advisories/review.html", context,
                  status=400 if cursor_error else 200)
