"""Monthly reports (issue 12, point 4): the scheduled task builds last month's report of each CERT
once and tells its heads once; members make one on demand (at most one per CERT per minute), list
it, read it and download its PDF, anyone else gets 404; the PDF embeds a font with Arabic script
for Urdu; and a report never names an incident of a label the CERT may not read."""

from __future__ import annotations

import datetime
import io
import uuid

import pypdf
import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from incidents import tasks
from incidents.models import MonthlyReport
from incidents.statistics import reports
from incidents.statistics.refresh import refresh
from organizations.models import Cert
from tests.advisories.conftest import make_advisory  # noqa: F401
from tests.factories import make_incident
from tests.incidents.conftest import certs, clock, media, member, outsider  # noqa: F401
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

PKT = datetime.timezone(datetime.timedelta(hours=5))
IN_MARCH = datetime.datetime(2026, 3, 12, 10, 0, tzinfo=PKT)
APRIL_FIRST = datetime.datetime(2026, 4, 1, 2, 0, tzinfo=PKT)
MARCH = datetime.date(2026, 3, 1)
SECRET_TITLE = "Ransomware at the Lahore children's hospital"


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def march(certs, clock, media):  # noqa: F811
    """Incidents reported in March 2026 under Punjab: one TLP:RED at Lahore (alone in its cells:
    the national CERT may count it, not read it), two TLP:AMBER at Punjab; statistics computed."""
    clock.set(IN_MARCH)
    red = make_incident(owner_cert=certs["lahore"], title=SECRET_TITLE, tlp="TLP:RED", severity=4,
                        classification="malicious-code", incident_type="infected-system")
    amber = [make_incident(owner_cert=certs["punjab"], title=f"Phishing wave {n}") for n in range(2)]
    clock.set(APRIL_FIRST)
    refresh()
    return {"red": red, "amber": amber}


def only_certs(*slugs):
    """Leave active only the CERTs named (and keep the others out of the monthly pass), so that a
    test of the pass renders a few PDFs, not one per CERT of the national tree."""
    Cert.objects.exclude(slug__in=slugs).update(is_active=False)


def pdf_text_and_fonts(data: bytes) -> tuple[str, set[str]]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    fonts = set()
    for page in reader.pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    return text, fonts


# --- The scheduled task --------------------------------------------------------------------------


def test_task_builds_last_months_report_once_and_mails_the_heads_once(
        march, certs, member, django_capture_on_commit_callbacks):  # noqa: F811
    only_certs("national", "government", "punjab", "lahore")
    punjab_head = member("punjab", "head")
    punjab_handler = member("punjab", "handler")
    lahore_head = member("lahore", "head")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.monthly_reports()
    with django_capture_on_commit_callbacks(execute=True):
        second = tasks.monthly_reports()

    assert first["month"] == "2026-03-01"
    assert set(first["built"]) == {"national", "government", "punjab", "lahore"}
    assert first["failed"] == []
    assert second["built"] == [] and second["failed"] == []
    report = MonthlyReport.objects.get(cert=certs["punjab"])
    assert report.month == MARCH
    assert report.completed_at == APRIL_FIRST
    assert MonthlyReport.objects.filter(cert=certs["punjab"]).count() == 1
    assert report.pdf_encrypted and report.read_pdf().startswith(b"%PDF")  # encrypted at rest
    assert "Monthly report of" in report.html and "March 2026" in report.html
    # One e-mail per CERT with heads, to its heads only; the run twice sent nothing more.
    assert [m.to for m in mail.outbox if punjab_head.email in m.to] == [[punjab_head.email]]
    assert [m.to for m in mail.outbox if lahore_head.email in m.to] == [[lahore_head.email]]
    assert all(punjab_handler.email not in m.to for m in mail.outbox)
    assert len(mail.outbox) == 2
    message = next(m for m in mail.outbox if m.to == [punjab_head.email])
    assert str(report.public_id) in message.body
    assert SECRET_TITLE not in message.body and march["red"].reference not in message.body


def test_a_failed_report_is_recorded_and_the_pass_goes_on(march, certs, member, monkeypatch):  # noqa: F811
    only_certs("punjab", "lahore")
    real = reports.render_pdf

    def failing_for_lahore(html):
        if "Lahore" in html.split("<h1>", 1)[1].split("</h1>", 1)[0]:
            raise RuntimeError("no fonts")
        return real(html)

    monkeypatch.setattr(reports, "render_pdf", failing_for_lahore)
    result = tasks.monthly_reports()

    assert result["built"] == ["punjab"] and result["failed"] == ["lahore"]
    failed = MonthlyReport.objects.get(cert=certs["lahore"])
    assert failed.completed_at is None and failed.failed_at == APRIL_FIRST
    assert failed.last_error == "no fonts"
    # Next time it is tried again, and succeeds.
    monkeypatch.setattr(reports, "render_pdf", real)
    assert tasks.monthly_reports()["built"] == ["lahore"]


# --- What a report says, and what it never says ---------------------------------------------------


def test_a_report_counts_a_red_incident_below_but_never_names_it(march, certs, make_advisory):  # noqa: F811
    national = reports.build_monthly_report(cert=certs["national"], month=MARCH)
    text, _fonts = pdf_text_and_fonts(national.read_pdf())

    for document in (national.html, text):
        assert SECRET_TITLE not in document
        assert march["red"].reference not in document
        assert all(incident.reference not in document for incident in march["amber"])
    # The RED incident alone in its severity and classification cells: counted, not exposed.
    assert "<td>fewer than 3</td>" in national.html
    assert "Totals" in text
    # Lahore, which owns it, reads its own figures.
    lahore = reports.build_monthly_report(cert=certs["lahore"], month=MARCH)
    assert "<td>fewer than" not in lahore.html
    assert SECRET_TITLE not in lahore.html


def test_notable_public_advisories_of_the_month_and_nothing_stricter(
        march, certs, clock, make_advisory):  # noqa: F811
    clock.set(IN_MARCH)
    public = make_advisory(cert="national", tlp="TLP:CLEAR", title="Patch the mail gateway now")
    make_advisory(cert="national", tlp="TLP:AMBER", title="Amber note for the banks")
    clock.set(APRIL_FIRST)
    make_advisory(cert="national", tlp="TLP:CLEAR", title="An April advisory")

    html = reports.build_monthly_report(cert=certs["punjab"], month=MARCH).html

    assert "Patch the mail gateway now" in html and public.reference in html
    assert "Amber note for the banks" not in html
    assert "An April advisory" not in html


def test_an_urdu_report_embeds_a_font_with_every_urdu_letter(march, certs):  # noqa: F811
    report = reports.build_monthly_report(cert=certs["punjab"], month=MARCH, language="ur")

    assert '<html lang="ur" dir="rtl">' in report.html
    data = report.read_pdf()
    text, fonts = pdf_text_and_fonts(data)
    assert data.startswith(b"%PDF")
    assert any("Naskh-Arabic" in font or "Nastaliq" in font for font in fonts), fonts
    assert "ماہانہ رپورٹ" in report.html


def test_building_again_replaces_the_report_without_a_second_mail(
        march, certs, member, media, django_capture_on_commit_callbacks):  # noqa: F811
    member("punjab", "head")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = reports.build_monthly_report(cert=certs["punjab"], month=MARCH)
    old_pdf = first.pdf.name
    with django_capture_on_commit_callbacks(execute=True):
        again = reports.build_monthly_report(cert=certs["punjab"], month=MARCH, language="ur")

    assert again.pk == first.pk and MonthlyReport.objects.count() == 1
    assert '<html lang="ur"' in again.html
    assert len(mail.outbox) == 1
    assert again.pdf.name != old_pdf and not again.pdf.storage.exists(old_pdf)


def test_the_report_costs_the_same_queries_whatever_the_incidents(march, certs, clock):  # noqa: F811
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            reports.report_context(certs["punjab"], MARCH)
        return len(captured)

    few = queries()
    clock.set(IN_MARCH)
    for n in range(15):
        make_incident(owner_cert=certs["lahore" if n % 2 else "punjab"], title=f"More {n}",
                      severity=n % 5, tlp="TLP:RED" if n % 3 == 0 else "TLP:GREEN")
    clock.set(APRIL_FIRST)
    refresh()
    assert queries() == few


# --- The pages ------------------------------------------------------------------------------------


def test_members_list_read_and_download_others_get_404(march, client, certs, member, outsider):  # noqa: F811
    report = reports.build_monthly_report(cert=certs["punjab"], month=MARCH)
    sign_in(client, member("punjab", "analyst"))

    listing = client.get("/dashboard/reports/")
    page = client.get(f"/dashboard/reports/{report.public_id}/")
    pdf = client.get(f"/dashboard/reports/{report.public_id}/pdf/")

    assert listing.status_code == 200
    assert "March 2026" in listing.content.decode()
    assert f"/dashboard/reports/{report.public_id}/pdf/" in listing.content.decode()
    assert page.status_code == 200 and page.content.decode() == report.html
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    # A download, never shown inline (issue 13; tests/incidents/test_attachment_encryption.py).
    assert pdf["Content-Type"] == "application/octet-stream"
    assert pdf["Content-Disposition"] == (
        f'attachment; filename="punjab-report-{MARCH:%Y-%m}.pdf"')

    # A child CERT, the parent and the national head: 404, as for a report that does not exist.
    for slug, role in (("lahore", "head"), ("national", "head"), ("government", "analyst")):
        client.logout()
        sign_in(client, member(slug, role))
        assert client.get(f"/dashboard/reports/{report.public_id}/").status_code == 404
        assert client.get(f"/dashboard/reports/{report.public_id}/pdf/").status_code == 404
        assert client.get(f"/dashboard/reports/{uuid.uuid4()}/").status_code == 404
        assert str(report.public_id) not in client.get("/dashboard/reports/").content.decode()
    client.logout()
    sign_in(client, outsider)
    refused = client.get(f"/dashboard/reports/{report.public_id}/")
    assert refused.status_code in (403, 404)
    assert b"Monthly report of" not in refused.content


def test_the_list_shows_an_empty_state(client, certs, member):  # noqa: F811
    sign_in(client, member("sindh", "handler"))
    response = client.get("/dashboard/reports/")
    assert response.status_code == 200
    assert "No report yet" in response.content.decode()


def test_the_list_costs_the_same_queries_whatever_the_reports(client, certs, member, clock,  # noqa: F811
                                                              django_assert_max_num_queries):
    clock.set(APRIL_FIRST)
    sign_in(client, member("punjab", "handler"))

    def add(months):
        for offset in months:
            MonthlyReport.objects.create(cert=certs["punjab"], month=reports.add_months(MARCH, -offset),
                                         created_at=APRIL_FIRST, completed_at=APRIL_FIRST)

    add(range(1))
    with CaptureQueriesContext(connection) as one:
        assert client.get("/dashboard/reports/").status_code == 200
    add(range(1, 40))
    with django_assert_max_num_queries(len(one)):
        second = client.get("/dashboard/reports/")
    body = second.content.decode()
    assert body.count("<th scope=\"row\">") == 24
    older = client.get("/dashboard/reports/?before=2024-04")
    assert older.status_code == 200 and "March 2024" in older.content.decode()
    assert "April 2024" not in older.content.decode()
    assert client.get("/dashboard/reports/?before=nonsense").status_code == 400


def test_a_member_makes_a_report_on_demand_once_a_minute(march, client, certs, member):  # noqa: F811
    handler = member("punjab", "handler")
    sign_in(client, handler)

    made = client.post("/dashboard/reports/generate/", {"month": "2026-03"})
    report = MonthlyReport.objects.get(cert=certs["punjab"], month=MARCH)
    assert made.status_code == 302 and made["Location"] == f"/dashboard/reports/{report.public_id}/"
    assert report.requested_by == handler and report.completed_at is not None

    again = client.post("/dashboard/reports/generate/", {"month": "2026-02"})
    assert again.status_code == 429
    assert "less than a minute ago" in again.content.decode()
    assert not MonthlyReport.objects.filter(month=datetime.date(2026, 2, 1)).exists()


@pytest.mark.parametrize(("month", "message"), [
    ("2026-13", "Give the month as year and month"),
    ("", "Give the month as year and month"),
    ("2026-05", "has not begun yet"),
])
def test_a_bad_month_says_what_to_fix(march, client, member, month, message):  # noqa: F811
    sign_in(client, member("punjab", "handler"))
    response = client.post("/dashboard/reports/generate/", {"month": month})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MonthlyReport.objects.exists()


def test_generating_needs_a_post(client, member):  # noqa: F811
    sign_in(client, member("punjab", "handler"))
    assert client.get("/dashboard/reports/generate/").status_code == 405


# --- The schedule ---------------------------------------------------------------------------------


def test_the_schedule_command_makes_one_monthly_schedule(db, clock):  # noqa: F811
    clock.set(datetime.datetime(2026, 3, 10, 12, 0, tzinfo=PKT))
    call_command("schedule_monthly_reports", stdout=io.StringIO())
    call_command("schedule_monthly_reports", stdout=io.StringIO())

    schedule = Schedule.objects.get(name="incidents: monthly reports")
    assert Schedule.objects.filter(func="incidents.tasks.monthly_reports").count() == 1
    assert schedule.schedule_type == Schedule.MONTHLY and schedule.repeats == -1
    assert timezone.localtime(schedule.next_run).replace(tzinfo=None) == datetime.datetime(2026, 4, 1, 2, 0)
