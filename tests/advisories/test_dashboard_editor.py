"""The advisory editor and its preview (advisories/dashboard/editor.py): who may write, bad input
refused with a message on its field and the typed text kept (nothing stored), Markdown
neutralised in the preview and in the stored body, the preview endpoint's guards (a member, a
POST, CSRF), conflicts on a stale draft, and labelled, accessible forms."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from advisories.models import Advisory, AdvisoryRevision
from organizations.models import Sector
from tests.advisories.support import VALID_CVSS_V3, VALID_CVSS_V4, content
from tests.advisories.test_dashboard_list import client_for, draft
from tests.dashboard.test_look import Page
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

NEW = "/dashboard/advisories/new/"
PREVIEW = "/dashboard/advisories/preview/"
SCRIPT_BODY = ("Hello <script>alert('x')</script> **bold** [click](javascript:alert(1)) "
               '<img src="https://tracker.example/p.gif" onerror="alert(2)">')


def typed(**fields) -> dict:
    data = {"step": "save", "title": "Patch the example gateway now", "severity": "3",
            "summary": "A remote code execution flaw in the example gateway is exploited.",
            "body_markdown": "## What happens\n\nAttackers run code.", "tlp": "TLP:GREEN"}
    data.update(fields)
    return data


def field_errors(response, name: str) -> str:
    """The text of the error list Django renders for field `name` (empty when none)."""
    found = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', response.content.decode(),
                      re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)) if found else ""


@pytest.fixture
def writer(member):
    return client_for(member("national", "handler"))


def test_the_editor_form_is_labelled_and_loads_its_script(writer):
    response = writer.get(NEW)
    html = response.content.decode()
    page = Page(html)

    assert response.status_code == 200
    assert page.unlabelled() == [] and page.duplicate_ids() == [] and page.broken_descriptions() == []
    names = {attributes.get("name") for _, attributes, _ in page.controls()}
    assert {"title", "summary", "body_markdown", "severity", "cvss_v3_vector", "cvss_v4_vector",
            "cve_ids", "cwe_id", "cwe_name", "products", "remedies", "references", "sector_ids",
            "tlp", "audience_ids", "reader_ids"} <= names
    assert '<script src="/static/js/advisory_editor.js" defer></script>' in html
    assert "<script>" not in html and " onclick=" not in html  # no inline script (CSP)
    assert 'data-preview-url="/dashboard/advisories/preview/"' in html
    assert re.search(r'<option value="TLP:AMBER" selected>TLP:AMBER</option>', html)


def test_only_heads_handlers_and_analysts_of_the_active_cert_write(certs, member, outsider):
    for role in ("head", "handler", "analyst"):
        assert client_for(member("punjab", role)).get(NEW).status_code == 200, role
    liaison = client_for(member("punjab", "liaison"))
    refused = liaison.get(NEW)
    assert refused.status_code == 403
    assert "where you may not write advisories" in refused.content.decode()
    assert liaison.post(NEW, typed()).status_code == 403
    assert client_for(outsider).post(NEW, typed()).status_code == 403
    anonymous = Client().post(NEW, typed())
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert not Advisory.objects.exists()


def test_a_new_advisory_is_written_for_the_active_cert(certs, member):
    # A handler of Punjab who is an analyst of Lahore, working as Lahore.
    from organizations.services import membership_add

    user = member("punjab", "handler")
    membership_add(cert=certs["lahore"], user=user, role="analyst", actor=None)
    client = client_for(user)
    client.post("/dashboard/cert/", {"cert": certs["lahore"].pk, "next": NEW})

    assert "Written for " + certs["lahore"].name in client.get(NEW).content.decode()
    created = client.post(NEW, typed(title="Lahore's advisory"))
    assert created.status_code == 302
    assert Advisory.objects.get().author_cert == certs["lahore"]


@pytest.mark.parametrize(("field", "value", "says"), [
    ("tlp", "TLP:WHITE", "TLP:WHITE is TLP 1.0; TLP 2.0 calls it TLP:CLEAR."),
    ("tlp", "purple", "&#x27;purple&#x27; is not a TLP 2.0 label. Use one of: TLP:CLEAR"),
    ("cve_ids", "CVE-2026-1234\nCVE-12-1", "Not a CVE ID: CVE-12-1. Write CVE IDs as CVE-YYYY-NNNN"),
    ("cvss_v3_vector", "CVSS:3.1/AV:N/AC:L", "This CVSS v3.1 vector is not valid"),
    ("cvss_v3_vector", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "A CVSS v3.1 vector starts with"),
    ("cvss_v4_vector", "CVSS:4.0/AV:X", "This CVSS v4.0 vector is not valid"),
    ("references", "ftp://files.example/x", "is not a web address: references start with https://"),
    ("products", "Example Networks", "Affected product 1: both the vendor and the product are needed"),
    ("cwe_id", "79", "is not a CWE ID: write CWE- and its number"),
    ("title", "", "Give the advisory a title."),
])
def test_bad_input_is_refused_on_its_field_keeping_what_was_typed(writer, field, value, says):
    response = writer.post(NEW, typed(**{field: value}, remedies="Upgrade to 7.2.4 today."))

    assert response.status_code == 400
    assert says in field_errors(response, field)
    html = response.content.decode()
    start = html.index('class="error-summary"')
    summary = html[start:html.index("</div>", start)]
    assert f'href="#id_{field}"' in summary
    assert "Upgrade to 7.2.4 today." in html  # the rest of the form is kept as typed
    if value and field != "tlp":
        assert value.split("\n")[-1] in html
    assert not Advisory.objects.exists() and not AdvisoryRevision.objects.exists()


def test_an_unknown_label_stays_selected_instead_of_another(writer):
    html = writer.post(NEW, typed(tlp="TLP:WHITE")).content.decode()

    assert '<option value="TLP:WHITE" selected>TLP:WHITE</option>' in html
    assert not re.search(r'<option value="TLP:CLEAR" selected>', html)


def test_red_needs_named_readers_and_amber_takes_an_audience(certs, member, writer):
    refused = writer.post(NEW, typed(tlp="TLP:RED"))
    assert refused.status_code == 400
    assert "TLP:RED goes to named people only: name at least one reader." in field_errors(refused,
                                                                                          "reader_ids")
    reader = member("banking", "analyst")
    assert writer.post(NEW, typed(tlp="TLP:RED", reader_ids=[reader.pk])).status_code == 302
    assert AdvisoryRevision.objects.get().reader_ids == [reader.pk]
    Advisory.objects.all().delete()
    sector = Sector.objects.order_by("pk").first()
    assert writer.post(NEW, typed(tlp="TLP:AMBER", audience_ids=[certs["banking"].pk],
                                  sector_ids=[sector.pk])).status_code == 302
    revision = AdvisoryRevision.objects.get()
    assert revision.audience_ids == [certs["banking"].pk]
    assert list(revision.sectors.all()) == [sector]


def test_script_in_the_body_is_neutralised_in_the_preview_and_when_saved(writer):
    preview = writer.post(NEW, typed(step="preview", body_markdown=SCRIPT_BODY,
                                     cvss_v3_vector=VALID_CVSS_V3))
    html = preview.content.decode()
    shown = html[html.index("data-preview-body>"):]
    shown = shown[:shown.index("</div>")]
    assert preview.status_code == 200
    assert "<strong>bold</strong>" in shown
    assert "&lt;script&gt;" in shown and "<script" not in shown
    assert 'href="javascript:' not in shown and "<img" not in shown
    assert not re.search(r"<[^>]*\bon\w+=", shown)  # no event attribute on any element
    assert "<strong>9.8</strong>" in html  # the score of the vector
    assert not Advisory.objects.exists()  # a preview stores nothing
    assert "Patch the example gateway now" in html  # and keeps what was typed

    assert writer.post(NEW, typed(body_markdown=SCRIPT_BODY)).status_code == 302
    revision = AdvisoryRevision.objects.get()
    assert revision.body_markdown == SCRIPT_BODY
    assert "<script" not in revision.body_html and 'href="javascript:' not in revision.body_html
    assert "<img" not in revision.body_html
    assert "&lt;script&gt;" in revision.body_html
    page = writer.get(f"/dashboard/advisories/{revision.advisory.reference}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_the_preview_endpoint_answers_sanitised_html_and_scores_to_members(writer):
    answer = writer.post(PREVIEW, {"body_markdown": SCRIPT_BODY, "cvss_v3_vector": VALID_CVSS_V3,
                                   "cvss_v4_vector": "CVSS:4.0/nonsense"})

    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    data = json.loads(answer.content)
    assert "<strong>bold</strong>" in data["html"] and "<script" not in data["html"]
    assert 'href="javascript:' not in data["html"] and "&lt;script&gt;" in data["html"]
    assert data["cvss_v3"] == {"vector": VALID_CVSS_V3, "score": "9.8"}
    assert "CVSS v4.0 vector" in data["cvss_v4"]["error"]
    assert answer["Cache-Control"].startswith("max-age=0") or "no-cache" in answer["Cache-Control"]
    four = json.loads(writer.post(PREVIEW, {"cvss_v4_vector": VALID_CVSS_V4}).content)
    assert four["cvss_v4"]["score"] == "9.3" and four["cvss_v3"] is None


def test_the_preview_endpoint_needs_a_member_a_post_and_the_csrf_token(member, outsider):
    anonymous = Client().post(PREVIEW, {"body_markdown": "x"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert client_for(outsider).post(PREVIEW, {"body_markdown": "x"}).status_code == 403
    member_client = client_for(member("punjab", "liaison"))  # any member may preview
    assert member_client.get(PREVIEW).status_code == 405

    guarded = sign_in(Client(enforce_csrf_checks=True), member("national", "handler"))
    assert guarded.post(PREVIEW, {"body_markdown": "**x**"}).status_code == 403
    editor = guarded.get(NEW).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', editor).group(1)
    answered = guarded.post(PREVIEW, {"body_markdown": "**x**"}, HTTP_X_CSRFTOKEN=token)
    assert answered.status_code == 200
    assert json.loads(answered.content)["html"] == "<p><strong>x</strong></p>\n"


def test_editing_a_draft_keeps_the_indicators_and_a_stale_form_is_a_conflict(certs, member, writer):
    handler = member("national", "handler")
    advisory = draft(certs, handler, title="First words")
    url = f"/dashboard/advisories/{advisory.reference}/edit/"
    page = writer.get(url).content.decode()
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    assert "First words" in page

    # Meanwhile, someone else changes it.
    from advisories.services import advisory_edit

    advisory_edit(actor=member("national", "analyst"), advisory=advisory,
                  content=content(title="Someone else's words"))
    conflict = writer.post(url, typed(title="My words", version=version))
    assert conflict.status_code == 409
    assert "was changed by someone else since you opened it" in conflict.content.decode()
    assert "My words" in conflict.content.decode()  # kept, to copy from
    assert AdvisoryRevision.objects.get().title == "Someone else's words"

    advisory.refresh_from_db()
    saved = writer.post(url, typed(title="My words", version=advisory.version))
    assert saved.status_code == 302
    assert AdvisoryRevision.objects.get().title == "My words"


def test_a_draft_of_another_cert_cannot_be_edited_or_even_found(certs, member):
    advisory = draft(certs, member("national", "handler"), title="National's")
    url = f"/dashboard/advisories/{advisory.reference}/edit/"

    other = client_for(member("punjab", "head"))
    assert other.get(url).status_code == 404
    assert other.post(url, typed(title="Punjab's now")).status_code == 404
    liaison = client_for(member("national", "liaison"))
    assert liaison.get(url).status_code == 403
    assert liaison.post(url, typed(title="Liaison's now")).status_code == 403
    assert AdvisoryRevision.objects.get().title == "National's"


def test_the_editor_speaks_urdu(writer):
    from django.conf import settings
    from django.utils import translation

    writer.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    html = writer.get(NEW).content.decode()
    with translation.override("ur"):
        words = [translation.gettext(text) for text in ("New advisory", "Severity and vulnerabilities",
                                                        "Who may read it", "Save the draft", "Preview")]
    assert all(word not in ("New advisory", "Save the draft") for word in words)
    for word in words:
        assert word in html
    assert '<html lang="ur" dir="rtl">' in html
