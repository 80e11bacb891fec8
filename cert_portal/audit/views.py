"""The audit trail's dashboard pages (issue 13, item 1): the heads of the active CERT read its
trail and who outside it viewed what it owns, filter them, page through them and export them as
CSV (the export is itself recorded).

Interfaces only: cert_portal.audit.access decides who reads what, selectors filter and page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from cert_portal.audit import access, export, selectors
from cert_portal.audit.forms import PAGE_SIZES, TrailFilters
from cert_portal.audit.models import AuditKind
from cert_portal.audit.record import record
from cert_portal.pagination import cursor_or_message
from cert_portal.staff import staff_page


@dataclass(frozen=True)
class TrailList:
    """One of the two lists: its name, which events, which kinds its filter offers, its texts."""

    name: str
    events: object  # access.cert_trail or access.outside_views
    kinds: tuple
    title: object
    empty: object


TRAIL = TrailList(
    "trail", access.cert_trail, tuple(AuditKind), gettext_lazy("Audit trail"),
    gettext_lazy("Nothing has been recorded for your CERT yet."))
OUTSIDE = TrailList(
    "outside", access.outside_views, access.VIEW_KINDS, gettext_lazy("Outside views"),
    gettext_lazy("No one outside your CERT has viewed its incidents, protected advisories or "
                 "attachments yet."))


def _frame(cert, trail_list: TrailList, form: TrailFilters) -> dict:
    return {"nav": "audit", "cert": cert, "list": trail_list.name, "title": trail_list.title,
            "form": form, "page": None, "empty_text": trail_list.empty}


def _list_page(request, trail_list: TrailList):
    cert = access.require_trail_reader(request)
    form = TrailFilters(request.GET, kinds=trail_list.kinds)
    context = _frame(cert, trail_list, form)
    if not form.is_valid():
        return render(request, "dashboard/audit/list.html", context, status=400)
    filters = form.filters()
    size = form.cleaned_data.get("size") or PAGE_SIZES[0]
    cursor, cursor_error = cursor_or_message(form.cleaned_data.get("cursor", ""))
    events = selectors.filtered(trail_list.events(request.user, cert), form.cleaned_data)
    page = selectors.page(events, size=size, cursor=cursor)
    kept = {**filters, **({"size": size} if size != PAGE_SIZES[0] else {})}
    context.update({
        "page": page, "filters": filters, "cursor_error": cursor_error,
        "is_first_page": cursor is None,
        "export_query": urlencode(filters),
        "older_query": urlencode({**kept, "cursor": page.older_cursor}) if page.older_cursor else "",
        "newer_query": urlencode({**kept, "cursor": page.newer_cursor}) if page.newer_cursor else "",
    })
    return render(request, "dashboard/audit/list.html", context,
                  status=400 if cursor_error else 200)


def _export(request, trail_list: TrailList):
    cert = access.require_trail_reader(request)
    form = TrailFilters(request.GET, kinds=trail_list.kinds)
    if not form.is_valid():
        # The page with the filters and what to fix: nothing is exported, nothing recorded.
        return render(request, "dashboard/audit/list.html", _frame(cert, trail_list, form),
                      status=400)
    filters = form.filters()
    events = selectors.filtered(trail_list.events(request.user, cert), form.cleaned_data)
    # Recorded before the file is sent: an export cut off halfway was still asked for and
    # partly read.
    record(AuditKind.AUDIT_EXPORTED, request=request, cert=cert, object_type="cert",
           object_id=str(cert.pk), object_label=cert.name, object_cert=cert,
           detail={"list": trail_list.name, "filters": filters})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    suffix = "" if trail_list is TRAIL else "-outside-views"
    return export.csv_response(events, f"audit-{cert.slug}{suffix}-{stamp}.csv")


@require_http_methods(["GET", "HEAD"])
@staff_page
def trail(request):
    """The active CERT's trail, newest first, filtered and paged."""
    return _list_page(request, TRAIL)


@require_http_methods(["GET", "HEAD"])
@staff_page
def outside(request):
    """Who outside the active CERT viewed what it owns, newest first, filtered and paged."""
    return _list_page(request, OUTSIDE)


@require_http_methods(["GET"])
@staff_page
def trail_csv(request):
    """The filtered trail as a CSV file (all pages), recorded as an export."""
    return _export(request, TRAIL)


@require_http_methods(["GET"])
@staff_page
def outside_csv(request):
    """The filtered outside views as a CSV file, recorded as an export."""
    return _export(request, OUTSIDE)
