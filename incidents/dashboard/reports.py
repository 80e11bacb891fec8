"""The monthly reports pages of the staff dashboard (issue 12, point 4): the active CERT's reports,
one made on demand, a report's page and its PDF. Interfaces only: organizations.access decides who
reads a report (the members of its CERT; anyone else gets the 404 of a report that does not exist),
incidents.statistics.reports builds it."""

from __future__ import annotations

import datetime

from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cert_portal.encryption import UndecryptableFile
from cert_portal.staff import refused, staff_page
from incidents.downloads import file_download, unreadable_file
from incidents.models import MonthlyReport
from incidents.statistics.reports import (
    ReportMonthError,
    add_months,
    build_monthly_report,
    first_of_month,
    parse_month,
    previous_month,
)
from organizations.access import RegistryAccess

PAGE_SIZE = 24
GENERATE_INTERVAL_SECONDS = 60


def _report_for(request, public_id) -> MonthlyReport:
    """The report, if the member may read it; the same 404 for missing and forbidden."""
    report = MonthlyReport.objects.select_related("cert").filter(public_id=public_id).first()
    if report is None or not RegistryAccess(tuple(request.staff.memberships)).may_read_reports(report.cert):
        raise Http404("No report at this address.")
    return report


def _month_choices(now) -> list[datetime.date]:
    this_month = first_of_month(timezone.localdate(now))
    return [add_months(this_month, -offset) for offset in range(12)]


@staff_page
def report_list(request):
    """The active CERT's reports, newest month first; keyset pages on the month (one per CERT)."""
    cert = request.staff.cert
    reports = MonthlyReport.objects.filter(cert=cert).order_by("-month")
    before = request.GET.get("before", "")
    if before:
        try:
            reports = reports.filter(month__lt=parse_month(before))
        except ReportMonthError:
            return refused(request, _("This page link is damaged or out of date: start again from "
                                      "the first page."), status=400)
    rows = list(reports.only("public_id", "month", "pdf", "completed_at", "failed_at", "last_error",
                             "cert_id")[:PAGE_SIZE + 1])
    next_before = rows[PAGE_SIZE - 1].month.strftime("%Y-%m") if len(rows) > PAGE_SIZE else None
    return render(request, "dashboard/statistics/reports.html", {
        "nav": "statistics", "cert": cert, "reports": rows[:PAGE_SIZE], "next_before": next_before,
        "months": _month_choices(timezone.now()), "default_month": previous_month(),
        "first_page": not before})


@require_POST
@staff_page
def report_generate(request):
    """Make (or make again) the active CERT's report for a month now, in the member's language.
    At most one per CERT per minute: a PDF costs seconds of a worker."""
    cert = request.staff.cert
    try:
        month = parse_month(request.POST.get("month", ""))
    except ReportMonthError as error:
        return refused(request, str(error), status=400)
    # cache.add is atomic: of two requests in the same minute, one wins.
    if not cache.add(f"monthly-report-generate:{cert.pk}", 1, GENERATE_INTERVAL_SECONDS):
        return refused(request, _("A report of your CERT was made less than a minute ago: wait a "
                                  "minute and try again."), status=429)
    report = build_monthly_report(cert=cert, month=month, requested_by=request.user,
                                  language=translation.get_language())
    return redirect("dashboard:report", report.public_id)


@staff_page
def report_view(request, public_id):
    """The report's printable page, as it was made (a standalone document)."""
    report = _report_for(request, public_id)
    if not report.html:
        raise Http404("This report is not ready.")
    response = HttpResponse(report.html)
    response["Content-Disposition"] = "inline"
    return response


@staff_page
def report_pdf(request, public_id):
    """The report's PDF, decrypted, as a download (incidents.downloads: never shown inline)."""
    report = _report_for(request, public_id)
    if not report.pdf:
        raise Http404("This report has no PDF yet.")
    try:
        data = report.read_pdf()
    except (UndecryptableFile, OSError) as error:
        return unreadable_file(request, what="Monthly report PDF",
                               name=f"{report.public_id} ({report.pdf.name})", error=error)
    return file_download(data, f"{report.cert.slug}-report-{report.month:%Y-%m}.pdf")
