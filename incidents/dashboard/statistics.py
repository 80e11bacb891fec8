"""The statistics pages of the staff dashboard (issue 12, points 1 to 3): the active CERT's subtree
in figures, one level of child CERTs at a time, with SVG charts, their tables and CSV downloads.

Interfaces only. The figures come from incidents.statistics.figures (rollups; constant queries,
small cells withheld); organizations.access decides whose figures and staffing gaps a member may
see. A figure never names or links an incident.
"""

from __future__ import annotations

import datetime

from django import forms
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cert_portal.staff import staff_page
from incidents.statistics import exports
from incidents.statistics.charts import Bar, Tile, bar_chart, line_chart, tile_grid
from organizations.access import RegistryAccess
from organizations.health import registry_findings
from organizations.models import Cert

DEFAULT_DAYS = 30
MAX_DAYS = 366 * 10
MAX_DAILY_DAYS = 366

# The breakdowns shown, in order, with their headings; "child" is the owner CERT one level down.
BREAKDOWNS = {
    "child": gettext_lazy("Owner CERT"),
    "classification": gettext_lazy("Classification (RSIT)"),
    "severity": gettext_lazy("Severity"),
    "tlp": gettext_lazy("TLP"),
    "sector": gettext_lazy("Sector"),
    "region": gettext_lazy("Province or territory"),
    "source": gettext_lazy("Source"),
    "status": gettext_lazy("Status"),
}
TABLES = (*BREAKDOWNS, "series", "regions")
INTERVALS = (("day", gettext_lazy("Day")), ("week", gettext_lazy("Week")),
             ("month", gettext_lazy("Month")))


class RangeForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": gettext_lazy("Give the first day as a date, e.g. 2026-01-31.")})
    date_to = forms.DateField(
        label=gettext_lazy("To"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": gettext_lazy("Give the last day as a date, e.g. 2026-01-31.")})
    interval = forms.ChoiceField(
        label=gettext_lazy("Trend by"), required=False, choices=INTERVALS,
        error_messages={"invalid_choice": gettext_lazy("Choose day, week or month.")})

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        today = timezone.localdate()
        date_to = data.get("date_to") or today
        date_from = data.get("date_from") or date_to - datetime.timedelta(days=DEFAULT_DAYS - 1)
        interval = data.get("interval") or "day"
        if date_from > date_to:
            raise forms.ValidationError(_("The first day comes after the last day: swap them."))
        days = (date_to - date_from).days + 1
        if days > MAX_DAYS:
            raise forms.ValidationError(_("Choose a range of at most ten years."))
        if interval == "day" and days > MAX_DAILY_DAYS:
            raise forms.ValidationError(_("A trend by day covers at most a year: choose a shorter "
                                          "range, or a trend by week or by month."))
        data.update(date_from=date_from, date_to=date_to, interval=interval)
        return data


def _figures_module():
    # Imported when a page is asked, not with the URLconf: the dashboard's other pages must not
    # depend on the statistics tables' read API being importable.
    from incidents.statistics import figures

    return figures


def _subtree_cert(request, slug: str | None) -> Cert:
    """The CERT whose figures are asked: the active CERT, or one below it. Anything else (another
    branch, a parent, an inactive or unknown slug) is a 404, like a page that does not exist."""
    viewer = request.staff.cert
    if slug is None or slug == viewer.slug:
        return viewer
    cert = Cert.objects.filter(slug=slug, is_active=True).first()
    if cert is None or not RegistryAccess((request.staff.active,)).may_see_counts(cert):
        raise Http404("No statistics at this address.")
    return cert


def _bars(cells) -> list[Bar]:
    return [Bar(label=str(cell.label), value=None if cell.suppressed else cell.count, text=cell.shown)
            for cell in cells]


def _children_by_key(cert: Cert) -> dict[str, Cert]:
    children = list(Cert.objects.filter(parent=cert, is_active=True))
    keyed = {}
    for child in children:
        keyed[child.slug] = child
        keyed[str(child.pk)] = child
    return keyed


@staff_page
def statistics(request, slug: str | None = None):
    """The figures of the active CERT's subtree (or of a CERT below it) over a date range."""
    figures = _figures_module()
    cert = _subtree_cert(request, slug)
    viewer = request.staff.cert
    # Bound even to an empty query: clean() fills in the default range.
    form = RangeForm(request.GET)
    context = {"nav": "statistics", "cert": cert, "viewer": viewer, "form": form,
               "parent_link": None, "computed_at": figures.computed_at()}
    if cert.pk != viewer.pk and cert.parent_id is not None:
        parent = Cert.objects.filter(pk=cert.parent_id).first()
        if parent is not None and RegistryAccess((request.staff.active,)).may_see_counts(parent):
            context["parent_link"] = parent
    if not form.is_valid():
        return render(request, "dashboard/statistics/overview.html", context, status=400)
    if context["computed_at"] is None:
        return render(request, "dashboard/statistics/overview.html", context)
    context.update(_figures(request, viewer, cert, form.cleaned_data))
    return render(request, "dashboard/statistics/overview.html", context)


def _figures(request, viewer: Cert, cert: Cert, params: dict) -> dict:
    figures = _figures_module()
    date_from, date_to, interval = params["date_from"], params["date_to"], params["interval"]
    rtl = translation.get_language_bidi()
    query = f"?date_from={date_from.isoformat()}&date_to={date_to.isoformat()}&interval={interval}"
    sections = []
    for by, heading in BREAKDOWNS.items():
        cells = figures.breakdown(viewer, cert, by=by, date_from=date_from, date_to=date_to)
        sections.append({"by": by, "heading": heading, "cells": cells,
                         "chart": bar_chart(_bars(cells), title=str(heading), rtl=rtl)})
    children = _children_by_key(cert)
    access = RegistryAccess(tuple(request.staff.memberships))
    gaps: dict[int, list] = {}
    for finding in registry_findings():
        if (finding.level == "warning" and finding.cert is not None
                and (finding.cert.pk == cert.pk or finding.cert.parent_id == cert.pk)
                and access.may_see_staffing(finding.cert)):
            gaps.setdefault(finding.cert.pk, []).append(finding)
    owner_rows = []
    for cell in sections[0]["cells"]:
        child = children.get(cell.key or "")
        target = child or (cert if cell.key in (None, "own", cert.slug, str(cert.pk)) else None)
        owner_rows.append({"cell": cell, "child": child,
                           "gaps": gaps.get(target.pk, []) if target is not None else []})
    series = figures.series(viewer, cert, interval=interval, date_from=date_from, date_to=date_to)
    series_chart = line_chart([start.isoformat() for start, _o, _c in series],
                              [(_("Opened"), [o for _s, o, _c in series]),
                               (_("Closed"), [c for _s, _o, c in series])],
                              title=_("Incidents opened and closed by %(interval)s") % {
                                  "interval": dict(INTERVALS)[interval]}, rtl=rtl)
    regions = figures.region_tiles(viewer, cert)
    tiles = tile_grid([Tile(code=code, label=str(label),
                            open_text=_("%(count)s open") % {"count": open_},
                            overdue_text=_("%(count)s overdue") % {"count": overdue},
                            overdue=overdue) for code, label, open_, overdue in regions],
                      title=_("Open and overdue incidents by province and territory"), rtl=rtl)
    from incidents.statistics.sla import sla_compliance

    compliance = sla_compliance(viewer, cert, date_from=date_from, date_to=date_to)
    return {"totals": figures.totals(viewer, cert, date_from=date_from, date_to=date_to),
            "compliance": compliance, "sections": sections, "owner_rows": owner_rows, "series": series,
            "series_chart": series_chart, "regions": regions, "tiles": tiles, "query": query,
            "params": params}


@staff_page
def statistics_csv(request, slug: str, table: str):
    """One table of the page as CSV, with the same range and the same withheld cells."""
    figures = _figures_module()
    cert = _subtree_cert(request, slug)
    if table not in TABLES:
        raise Http404("No such table.")
    viewer = request.staff.cert
    form = RangeForm(request.GET)
    if not form.is_valid():
        return render(request, "dashboard/statistics/csv_error.html",
                      {"nav": "statistics", "cert": cert, "form": form}, status=400)
    params = form.cleaned_data
    date_from, date_to = params["date_from"], params["date_to"]
    name = f"{cert.slug}-{table}-{date_from.isoformat()}-{date_to.isoformat()}.csv"
    if table == "series":
        rows = figures.series(viewer, cert, interval=params["interval"], date_from=date_from,
                              date_to=date_to)
        text = exports.csv_text([_("period start"), _("opened"), _("closed")],
                                [(start.isoformat(), opened, closed) for start, opened, closed in rows])
    elif table == "regions":
        name = f"{cert.slug}-regions.csv"
        text = exports.csv_text([_("region"), _("name"), _("open"), _("overdue")],
                                [(code, str(label), open_, overdue)
                                 for code, label, open_, overdue in figures.region_tiles(viewer, cert)])
    else:
        cells = figures.breakdown(viewer, cert, by=table, date_from=date_from, date_to=date_to)
        text = exports.csv_text([_("key"), _("label"), _("incidents")], exports.breakdown_rows(cells))
    return exports.csv_response(text, name)
