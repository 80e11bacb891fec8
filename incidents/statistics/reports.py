"""Monthly reports of a CERT (issue 12, point 4): its subtree's figures for one month, SLA
compliance, the trend of the last six months and the month's notable public advisories, kept as a
printable HTML page and as a PDF rendered from the same HTML by WeasyPrint.

The figures come from incidents.statistics.figures (the rollups; constant queries, small cells of
a stricter label withheld) read as the CERT itself, so a report says no more than the CERT's own
members see on the statistics pages; the advisories are the public ones (TLP:CLEAR). Nothing in a
report names or links an incident. Who reads a report and who is told it is ready is decided by
organizations.access (`may_read_reports`, `report_recipients`).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from advisories.access import public_advisories
from cert_portal.encryption import encrypt
from incidents.models import MonthlyReport
from organizations.access import report_recipients
from organizations.models import Cert

logger = logging.getLogger(__name__)

TREND_MONTHS = 6
NOTABLE_ADVISORIES = 10
REPORT_STYLESHEET = "css/report.css"

BREAKDOWNS = {
    "child": gettext_lazy("Owner CERT"),
    "classification": gettext_lazy("Classification (RSIT)"),
    "severity": gettext_lazy("Severity"),
    "tlp": gettext_lazy("TLP"),
    "sector": gettext_lazy("Sector"),
    "region": gettext_lazy("Province or territory"),
    "source": gettext_lazy("Source"),
}


class ReportMonthError(ValueError):
    """A month that cannot be reported (in the future, or malformed)."""


def first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(month: datetime.date, count: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + count
    return datetime.date(index // 12, index % 12 + 1, 1)


def last_day(month: datetime.date) -> datetime.date:
    return add_months(month, 1) - datetime.timedelta(days=1)


def previous_month(now: datetime.datetime | None = None) -> datetime.date:
    """The first day of the month before the local date of `now` (the scheduled report's)."""
    return add_months(first_of_month(timezone.localdate(now or timezone.now())), -1)


def parse_month(text: str, *, now: datetime.datetime | None = None) -> datetime.date:
    """The first day of the month `text` ("2026-05") names; ReportMonthError, saying what to fix,
    for anything else or a month that has not begun."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        value = datetime.date(year, month, 1)
    except (TypeError, ValueError):
        raise ReportMonthError(_("Give the month as year and month, e.g. 2026-05.")) from None
    if value > first_of_month(timezone.localdate(now or timezone.now())):
        raise ReportMonthError(_("That month has not begun yet: choose this month or an earlier one."))
    return value


@dataclass(frozen=True)
class Section:
    by: str
    heading: str
    cells: list


def _sla_module():
    # S3's compliance reads are optional for the report: without them the report leaves the
    # section out and says so, rather than failing the whole month.
    try:
        from incidents.statistics import sla
    except ImportError:
        return None
    return sla if hasattr(sla, "sla_compliance") else None


def report_context(cert: Cert, month: datetime.date) -> dict:
    """What the report of `cert` for `month` shows, read as the CERT itself; a constant number of
    queries whatever the number of incidents or advisories."""
    from incidents.statistics import figures

    date_from, date_to = month, last_day(month)
    sections = [Section(by=by, heading=str(heading),
                        cells=figures.breakdown(cert, cert, by=by, date_from=date_from, date_to=date_to))
                for by, heading in BREAKDOWNS.items()]
    trend_from = add_months(month, -(TREND_MONTHS - 1))
    trend = figures.series(cert, cert, interval="month", date_from=trend_from, date_to=date_to)
    sla = _sla_module()
    compliance = (sla.sla_compliance(cert, cert, date_from=date_from, date_to=date_to)
                  if sla is not None else None)
    start = timezone.make_aware(datetime.datetime.combine(date_from, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(add_months(month, 1), datetime.time.min))
    advisories = list(public_advisories()
                      .filter(first_published_at__gte=start, first_published_at__lt=end)
                      .select_related("current_revision", "author_cert")
                      .order_by("-current_revision__severity", "-first_published_at", "-pk")
                      [:NOTABLE_ADVISORIES])
    return {"cert": cert, "month": month, "date_from": date_from, "date_to": date_to,
            "computed_at": figures.computed_at(),
            "totals": figures.totals(cert, cert, date_from=date_from, date_to=date_to),
            "sections": sections, "trend": trend, "compliance": compliance,
            "compliance_available": sla is not None, "advisories": advisories,
            "small_cell": getattr(settings, "STATISTICS_SMALL_CELL", 3),
            "trend_chart": _trend_chart(trend)}


def _trend_chart(trend) -> str:
    try:
        from incidents.statistics.charts import line_chart
    except ImportError:
        return ""
    return line_chart([start.strftime("%Y-%m") for start, _o, _c in trend],
                      [(_("Opened"), [opened for _s, opened, _c in trend]),
                       (_("Closed"), [closed for _s, _o, closed in trend])],
                      title=_("Incidents opened and closed by month"),
                      rtl=translation.get_language_bidi())


def render_report_html(cert: Cert, month: datetime.date, *, language: str) -> str:
    """The report as a standalone HTML document in `language` (English or Urdu)."""
    with translation.override(language):
        context = report_context(cert, month)
        context["generated_at"] = timezone.now()
        context["stylesheet_link"] = mark_safe(_stylesheet_link())  # nosec B308, B703 # a link tag built from our static file's URL
        return render_to_string("dashboard/statistics/report.html", context)


def _stylesheet_link() -> str:
    return f'<link rel="stylesheet" href="{settings.STATIC_URL}{REPORT_STYLESHEET}">'


def render_pdf(html: str) -> bytes:
    """The PDF of a report's HTML. Its stylesheet is read from the static files instead of the
    page's link (nothing is fetched), and the fonts it names, Noto Naskh Arabic for Urdu, are
    embedded."""
    import weasyprint  # heavy (Pango through cffi): loaded only when a PDF is made

    stylesheet = finders.find(REPORT_STYLESHEET)
    sheets = [weasyprint.CSS(filename=stylesheet)] if stylesheet else []
    return weasyprint.HTML(string=html.replace(_stylesheet_link(), "", 1),
                           url_fetcher=_fetch_nothing).write_pdf(stylesheets=sheets)


def _fetch_nothing(url: str, *args, **kwargs):
    raise ValueError(f"A report fetches nothing ({url}).")


def _notify_heads(report_id: int) -> None:
    report = MonthlyReport.objects.select_related("cert").get(pk=report_id)
    recipients = report_recipients(report.cert)
    if not recipients:
        return
    link = settings.PORTAL_BASE_URL + reverse("dashboard:report", args=[report.public_id])
    subject = _("Monthly report of %(cert)s for %(month)s is ready") % {
        "cert": report.cert.short_name, "month": report.month.strftime("%Y-%m")}
    body = render_to_string("dashboard/statistics/report_email.txt",
                            {"report": report, "link": link})
    send_mail(subject, body, None, recipients)


def build_monthly_report(*, cert: Cert, month: datetime.date, requested_by=None,
                         language: str | None = None) -> MonthlyReport:
    """Write the report of `cert` for `month` (HTML and PDF) to its one MonthlyReport row, made
    if missing, and tell the CERT's heads by e-mail the first time it is ready (the conditional
    update of completed_at makes that once, however many builds run). Building again replaces
    the HTML and PDF. A failure is recorded on the row (failed_at, last_error) and raised."""
    language = language or settings.LANGUAGE_CODE
    now = timezone.now()
    try:
        report, _created = MonthlyReport.objects.get_or_create(
            cert=cert, month=month, defaults={"created_at": now, "requested_by": requested_by})
    except IntegrityError:  # another build made it between our read and our insert
        report = MonthlyReport.objects.get(cert=cert, month=month)
    report.cert = cert
    try:
        html = render_report_html(cert, month, language=language)
        pdf = render_pdf(html)
    except Exception as error:
        MonthlyReport.objects.filter(pk=report.pk).update(failed_at=now, last_error=str(error)[:2000])
        raise
    old_pdf = report.pdf.name
    # Encrypted at rest like attachments (issue 13): the figures are incident data.
    report.pdf.save(f"{month:%Y-%m}.pdf", ContentFile(encrypt(pdf)), save=False)
    with transaction.atomic():
        fields = {"html": html, "pdf": report.pdf.name, "pdf_encrypted": True, "failed_at": None,
                  "last_error": ""}
        if requested_by is not None:
            fields["requested_by"] = requested_by
        MonthlyReport.objects.filter(pk=report.pk).update(**fields)
        first = MonthlyReport.objects.filter(pk=report.pk, completed_at__isnull=True).update(
            completed_at=now) == 1
        if first:
            transaction.on_commit(lambda: _notify_heads(report.pk))
        if old_pdf and old_pdf != report.pdf.name:
            storage = report.pdf.storage
            transaction.on_commit(lambda: storage.delete(old_pdf))
    report.refresh_from_db()
    return report


def build_due_reports(now: datetime.datetime | None = None) -> dict:
    """The scheduled pass (the first of each month): last month's report of every active CERT that
    has none ready yet. Idempotent: a CERT whose report is complete is left alone, so running it
    twice builds and mails once. One CERT's failure is logged and does not stop the others."""
    month = previous_month(now)
    done = set(MonthlyReport.objects.filter(month=month, completed_at__isnull=False)
               .values_list("cert_id", flat=True))
    built, failed = [], []
    for cert in Cert.objects.filter(is_active=True).exclude(pk__in=done).order_by("path"):
        try:
            build_monthly_report(cert=cert, month=month)
        except Exception:
            logger.exception("Monthly report of %s for %s failed", cert.slug, month)
            failed.append(cert.slug)
        else:
            built.append(cert.slug)
    return {"month": month.isoformat(), "built": built, "failed": failed}


__all__ = ["ReportMonthError", "build_due_reports", "build_monthly_report", "parse_month",
           "previous_month", "render_pdf", "render_report_html", "report_context"]
