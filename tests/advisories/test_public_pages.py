"""The public advisory pages (issue 10, point 4): list with search, filters and keyset pages, the
detail page with its revisions, in English and Urdu. Only TLP:CLEAR published advisories are
public; any other is answered exactly like a missing one."""

import ast
import gettext
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape
from django.utils.translation.template import templatize

from advisories import selectors
from advisories.services import (
    advisory_approve,
    advisory_edit,
    advisory_revise,
    advisory_submit,
    advisory_withdraw,
)
from cert_portal.translations import compile_po
from tests.advisories.support import VALID_CVSS_V3, VALID_CVSS_V4, content

SCRIPT = "<script>alert(1)</script>"
# Published under every other label, or never published: never on a public page.
HIDDEN = ["TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED", "draft", "in review"]


def references(response) -> list[str]:
    return re.findall(r'<code class="advisory-reference">([^<]+)</code>', response.content.decode())


def main_part(response) -> str:
    """The page's <main> (the frame around it carries a per-response CSRF token)."""
    return re.search(r"<main.*</main>", response.content.decode(), re.DOTALL).group(0)


def revise(advisory, *, author, approver, **fields):
    """Publish a new revision of `advisory` with `fields` changed, through the services."""
    advisory_revise(actor=author, advisory=advisory)
    advisory.refresh_from_db()
    advisory_edit(actor=author, advisory=advisory, content=content(**fields))
    advisory_submit(actor=author, advisory=advisory)
    advisory_approve(actor=approver, advisory=advisory)
    advisory.refresh_from_db()
    return advisory


@pytest.fixture
def every_label(make_advisory, member, certs, clock):
    """One advisory of every TLP label, published, and CLEAR ones that are not (yet) published."""
    made = {}
    for label in ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"):
        clock.advance(minutes=1)
        extra = {}
        if label.startswith("TLP:AMBER"):
            extra["audience_ids"] = [certs["banking"].pk]
        if label == "TLP:RED":
            extra["reader_ids"] = [member("banking", "analyst").pk]
        made[label] = make_advisory(tlp=label, title=f"Advisory marked {label}", **extra)
    made["draft"] = make_advisory(published=False, title="A CLEAR draft")
    in_review = make_advisory(cert="punjab", published=False, title="A CLEAR one in review")
    advisory_submit(actor=member("punjab", "handler"), advisory=in_review)
    made["in review"] = in_review
    return made


def test_only_published_clear_advisories_are_listed(every_label):
    response = Client().get("/advisories/")

    assert response.status_code == 200
    assert references(response) == [every_label["TLP:CLEAR"].reference]
    text = response.content.decode()
    for key in HIDDEN:
        assert every_label[key].reference not in text
    for title in ("TLP:GREEN", "TLP:AMBER", "TLP:RED", "A CLEAR draft", "A CLEAR one in review"):
        assert title not in text.replace("Advisory marked TLP:CLEAR", "")
    assert "Advisory marked TLP:CLEAR" in text
    assert '<span class="adv-tlp adv-tlp-clear">TLP:CLEAR</span>' in text


@pytest.mark.parametrize("key", HIDDEN)
def test_detail_of_anything_but_published_clear_is_a_404_like_a_missing_one(every_label, key):
    hidden = every_label[key]
    client = Client()

    response = client.get(f"/advisories/{hidden.reference}/")
    revision = client.get(f"/advisories/{hidden.reference}/revisions/1/")
    missing = client.get("/advisories/PK-ADV-2099-9999/")

    assert response.status_code == revision.status_code == missing.status_code == 404
    assert main_part(response) == main_part(missing) == main_part(revision)
    assert hidden.reference not in main_part(response)
    assert client.get(f"/advisories/{every_label['TLP:CLEAR'].reference}/").status_code == 200


def test_a_member_signed_in_still_sees_only_clear_on_the_public_pages(every_label, member):
    client = Client()
    client.force_login(member("banking", "analyst"))  # may read the AMBER and RED ones

    assert references(client.get("/advisories/")) == [every_label["TLP:CLEAR"].reference]
    assert client.get(f"/advisories/{every_label['TLP:AMBER'].reference}/").status_code == 404


def test_detail_shows_the_current_revision_with_its_label_first(make_advisory):
    advisory = make_advisory(
        title="Gateway flaw exploited", summary="Attackers take over gateways.",
        body_markdown="## Technical details\n\nSend **crafted** requests.", severity=4,
        cvss_v3_vector=VALID_CVSS_V3, cvss_v4_vector=VALID_CVSS_V4, cve_ids=["CVE-2026-1234"],
        cwe_id="CWE-79", cwe_name="Cross-site Scripting",
        products=[{"vendor": "Example Corp", "product": "Gateway", "versions": "< 2.4.1"}],
        remedies="Update to 2.4.1.\nBlock port 8443.", references=["https://vendor.example/psirt/1"])

    response = Client().get(f"/advisories/{advisory.reference}/")

    assert response.status_code == 200
    text = response.content.decode()
    assert re.search(r"<title>[^<]*PK-ADV-\d{4}-\d{4}: Gateway flaw exploited", text)
    main = main_part(response)
    assert main.index("TLP:CLEAR") < main.index("<h1>")  # the label at the top
    assert "<h2>Technical details</h2>" in main and "<strong>crafted</strong>" in main
    assert "Attackers take over gateways." in main
    assert '<span class="adv-severity adv-severity-4">Critical</span>' in main
    assert "CVE-2026-1234" in main and "CWE-79" in main and "Cross-site Scripting" in main
    assert VALID_CVSS_V3 in main and "Base score 9.8" in main
    assert VALID_CVSS_V4 in main and "Base score 9.3" in main
    assert "Example Corp" in main and "&lt; 2.4.1" in main
    assert "Update to 2.4.1.<br>Block port 8443." in main
    assert '<a href="https://vendor.example/psirt/1" rel="noopener noreferrer nofollow">' in main
    year = advisory.first_published_at.year
    csaf = f"/.well-known/csaf/white/{year}/{advisory.reference.lower()}.json"
    assert f'href="{csaf}"' in main
    assert "Initial release" in main  # the history's first revision


def test_csaf_link_is_the_providers_path_in_the_year_of_first_publication_in_utc(make_advisory, clock):
    from datetime import UTC, datetime
    clock.set(datetime(2026, 12, 31, 20, 0, tzinfo=UTC))  # already 2027 in Karachi
    advisory = make_advisory()

    text = Client().get(f"/advisories/{advisory.reference}/").content.decode()

    assert advisory.reference.startswith("PK-ADV-2027-")  # references count local years
    assert f'href="/.well-known/csaf/white/2026/{advisory.reference.lower()}.json"' in text


def test_a_script_in_the_content_is_shown_as_text(make_advisory):
    advisory = make_advisory(title=f"Title {SCRIPT}", summary=f"Summary {SCRIPT}",
                             body_markdown=f"Body {SCRIPT}", remedies=f"Remedy {SCRIPT}",
                             products=[{"vendor": SCRIPT, "product": "Gateway"}])

    listing = Client().get("/advisories/").content.decode()
    detail = Client().get(f"/advisories/{advisory.reference}/").content.decode()

    for text in (listing, detail):
        assert SCRIPT not in text
        assert escape(SCRIPT) in text
    assert detail.count(escape(SCRIPT)) >= 5  # title (twice), summary, body, remedies, product


def test_revisions_are_listed_and_each_is_readable(make_advisory, member, clock):
    author, head = member("national", "handler"), member("national", "head")
    advisory = make_advisory(title="First text", author=author, approver=head)
    clock.advance(days=2)
    revise(advisory, author=author, approver=head, title="Second text", change_summary="Added the fix")
    client = Client()

    current = client.get(f"/advisories/{advisory.reference}/")
    old = client.get(f"/advisories/{advisory.reference}/revisions/1/")
    newest = client.get(f"/advisories/{advisory.reference}/revisions/2/")

    assert "<h1><bdi>Second text</bdi></h1>" in current.content.decode()
    assert "Added the fix" in current.content.decode() and "Initial release" in current.content.decode()
    assert f'href="/advisories/{advisory.reference}/revisions/1/"' in current.content.decode()
    assert old.status_code == 200
    assert "<h1><bdi>First text</bdi></h1>" in old.content.decode()
    assert "You are reading revision 1" in old.content.decode()
    assert "<h1><bdi>Second text</bdi></h1>" in newest.content.decode()
    assert "You are reading revision" not in newest.content.decode()
    assert client.get(f"/advisories/{advisory.reference}/revisions/3/").status_code == 404


def test_revisions_published_under_a_stricter_label_stay_hidden(make_advisory, member, certs, clock):
    author, head = member("national", "handler"), member("national", "head")
    advisory = make_advisory(tlp="TLP:AMBER", audience_ids=[certs["banking"].pk], title="Amber text",
                             author=author, approver=head)
    assert Client().get(f"/advisories/{advisory.reference}/").status_code == 404
    clock.advance(days=1)
    revise(advisory, author=author, approver=head, tlp="TLP:CLEAR", title="Now public",
           change_summary="Released to the public")
    client = Client()

    detail = client.get(f"/advisories/{advisory.reference}/")

    assert detail.status_code == 200
    assert "Now public" in detail.content.decode()
    assert "Amber text" not in detail.content.decode()
    assert "Earlier revisions were not published as TLP:CLEAR" in detail.content.decode()
    assert client.get(f"/advisories/{advisory.reference}/revisions/1/").status_code == 404
    assert client.get(f"/advisories/{advisory.reference}/revisions/2/").status_code == 200


def test_a_withdrawn_advisory_is_marked_with_its_reason(make_advisory, member, clock):
    advisory = make_advisory(title="Wrong alarm")
    clock.advance(hours=3)
    advisory_withdraw(actor=member("national", "head"), advisory=advisory,
                      reason="The flaw was in a test build only")
    client = Client()

    listing = client.get("/advisories/").content.decode()
    detail = client.get(f"/advisories/{advisory.reference}/").content.decode()

    assert advisory.reference in listing and 'class="advisory-withdrawn-mark">Withdrawn<' in listing
    assert "This advisory was withdrawn" in detail
    assert "Reason: The flaw was in a test build only" in detail
    assert "Withdrawn: The flaw was in a test build only" in detail  # the history's entry


# --- search and filters --------------------------------------------------------------------

@pytest.fixture
def catalogue(make_advisory, clock):
    """Four public advisories, published on different days (Asia/Karachi dates in the names)."""
    made = {}
    made["gateway_mar10"] = make_advisory(
        title="Gateway remote code execution", summary="Patch now.", severity=4,
        cve_ids=["CVE-2026-1111"], products=[{"vendor": "Example Corp", "product": "Gateway"}])
    clock.advance(days=5)
    made["mailer_mar15"] = make_advisory(
        title="Mail server flaw", summary="A phishing wave abuses the mailer.", severity=2,
        cve_ids=["CVE-2026-2222", "CVE-2026-1111"],
        products=[{"vendor": "Example Corp", "product": "Mailer", "versions": "3.x"}])
    clock.advance(days=15)
    made["other_mar30"] = make_advisory(
        title="Other gateway flaw", summary="Another vendor's gateway.", severity=3,
        products=[{"vendor": "Other Inc", "product": "Gateway"}])
    clock.advance(days=1, hours=15)  # 2026-03-31 20:00 UTC: 1 April in Karachi
    made["note_apr01"] = make_advisory(title="Quarterly note", summary="Nothing urgent.", severity=0)
    return made


@pytest.mark.parametrize("query, expected", [
    ("", ["note_apr01", "other_mar30", "mailer_mar15", "gateway_mar10"]),
    ("q=gateway", ["other_mar30", "gateway_mar10"]),
    ("q=PHISHING", ["mailer_mar15"]),  # the summary, any case
    ("severity=high", ["other_mar30", "gateway_mar10"]),  # high or higher by default
    ("severity=high&severity_match=min", ["other_mar30", "gateway_mar10"]),
    ("severity=high&severity_match=exact", ["other_mar30"]),
    ("severity=informational&severity_match=exact", ["note_apr01"]),
    ("cve=CVE-2026-1111", ["mailer_mar15", "gateway_mar10"]),
    ("cve=cve-2026-2222", ["mailer_mar15"]),
    ("cve=CVE-2026-9999", []),
    ("vendor=Example+Corp", ["mailer_mar15", "gateway_mar10"]),
    ("product=GATEWAY", ["other_mar30", "gateway_mar10"]),
    ("vendor=example+corp&product=gateway", ["gateway_mar10"]),  # both on the same product row
    ("published_from=2026-03-14&published_to=2026-03-31", ["other_mar30", "mailer_mar15"]),
    ("published_from=2026-04-01", ["note_apr01"]),
    ("published_to=2026-03-10", ["gateway_mar10"]),
    ("q=gateway&severity=critical", ["gateway_mar10"]),
])
def test_each_filter_narrows_the_list(catalogue, query, expected):
    response = Client().get(f"/advisories/?{query}")

    assert response.status_code == 200
    assert references(response) == [catalogue[key].reference for key in expected]
    if not expected:
        assert "No public advisory matches these filters" in response.content.decode()


@pytest.mark.parametrize("query, field, message", [
    ("cve=CVE-12", "cve", "Write a CVE ID as CVE, the year and a number of four or more digits"),
    ("cve=CVE-2026-۱۲۳۴", "cve", "Write a CVE ID as CVE"),  # Urdu digits are not a CVE's
    ("published_from=yesterday", "published_from", "Write the date as year-month-day"),
    ("published_to=2026-02-30", "published_to", "Write the date as year-month-day"),
    ("published_from=2026-03-20&published_to=2026-03-01", "published_to",
     "before the &quot;published from&quot; date"),
    ("severity=x", "severity", "Choose a severity from the list"),
    ("severity=high&severity_match=around", "severity_match", "Choose &quot;this severity or higher&quot;"),
    ("q=" + "x" * 201, "q", "Search for at most 200 characters."),
])
def test_bad_filter_input_says_what_to_fix_next_to_the_field(catalogue, query, field, message):
    response = Client().get(f"/advisories/?{query}")

    assert response.status_code == 400
    text = response.content.decode()
    assert references(response) == []  # no list that pretends to be filtered
    assert "No advisories are listed until the filters are corrected" in text
    assert f'href="#id_{field}"' in text  # the summary leads to the field
    # Next to the field, and tied to it for screen readers.
    assert re.search(rf'<ul class="errorlist" id="id_{field}_error"><li>[^<]*{re.escape(message)}', text)
    assert re.search(rf'aria-describedby="[^"]*id_{field}_error', text)


def test_this_severity_or_higher_is_the_default_and_shows_as_chosen(catalogue):
    for url in ("/advisories/", "/advisories/?severity=high"):
        text = Client().get(url).content.decode()

        assert re.search(r'<input type="radio" name="severity_match" value="min"[^>]* checked', text)
        assert not re.search(r'<input type="radio" name="severity_match" value="exact"[^>]* checked', text)


def test_a_damaged_page_link_is_refused_with_a_way_back(catalogue):
    response = Client().get("/advisories/?cursor=not-a-cursor")

    assert response.status_code == 400
    assert "This page link is damaged or out of date" in response.content.decode()
    assert 'href="/advisories/">First page</a>' in response.content.decode()


def test_the_empty_states(db, certs):
    assert "No public advisories have been published yet." in Client().get("/advisories/").content.decode()


# --- keyset pages and query counts ---------------------------------------------------------

def _publish_many(make_advisory, clock, count: int) -> list:
    made = []
    for number in range(count):
        if number % 3:  # some share a publication time: the primary key breaks the tie
            clock.advance(minutes=7)
        made.append(make_advisory(title=f"Advisory number {number}", severity=number % 5))
    return made


def test_keyset_pages_cover_every_advisory_once_both_ways(make_advisory, clock, monkeypatch):
    made = _publish_many(make_advisory, clock, 17)
    monkeypatch.setattr(selectors, "PAGE_SIZE", 5)
    newest_first = [advisory.reference for advisory in reversed(made)]
    client = Client()

    pages, url = [], "/advisories/"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(references(response))
        older = re.search(r'<a href="(\?[^"]+)" rel="next">', response.content.decode())
        url = "/advisories/" + older.group(1).replace("&amp;", "&") if older else None
    assert [len(page) for page in pages] == [5, 5, 5, 2]
    assert [ref for page in pages for ref in page] == newest_first
    assert 'rel="prev"' not in client.get("/advisories/").content.decode()

    back, text = [], response.content.decode()  # from the last page to the first by "newer"
    while (newer := re.search(r'<a href="(\?[^"]+)" rel="prev">', text)):
        text = client.get("/advisories/" + newer.group(1).replace("&amp;", "&")).content.decode()
        back.append(re.findall(r'<code class="advisory-reference">([^<]+)</code>', text))
    assert back == pages[-2::-1]


def test_page_links_keep_the_filters(make_advisory, clock, monkeypatch):
    made = _publish_many(make_advisory, clock, 12)
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    expected = [advisory.reference for advisory in reversed(made)
                if advisory.current_revision.severity >= 3]

    seen, url = [], "/advisories/?severity=high"
    while url:
        text = Client().get(url).content.decode()
        seen += re.findall(r'<code class="advisory-reference">([^<]+)</code>', text)
        older = re.search(r'<a href="(\?[^"]+)" rel="next">', text)
        url = "/advisories/" + older.group(1).replace("&amp;", "&") if older else None
        assert url is None or "severity=high" in url

    assert seen == expected


def _queries_of(url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_list_costs_one_query_whatever_the_page_size_and_the_data(make_advisory, clock, monkeypatch):
    _publish_many(make_advisory, clock, 3)
    small = _queries_of("/advisories/")
    _publish_many(make_advisory, clock, 30)
    monkeypatch.setattr(selectors, "PAGE_SIZE", 25)
    large = _queries_of("/advisories/?q=advisory&severity=low&vendor=x&cve=CVE-2026-1234"
                        "&published_from=2026-01-01")
    monkeypatch.setattr(selectors, "PAGE_SIZE", 5)
    first = Client().get("/advisories/").content.decode()
    cursor = re.search(r'<a href="\?cursor=([^"]+)" rel="next">', first).group(1)
    paged = _queries_of(f"/advisories/?cursor={cursor}")

    assert small == large == paged == 1


def test_the_detail_page_costs_the_same_with_one_or_many_revisions(make_advisory, member, clock):
    author, head = member("national", "handler"), member("national", "head")
    one = make_advisory(author=author, approver=head)
    many = make_advisory(author=author, approver=head)
    for number in range(4):
        clock.advance(hours=1)
        revise(many, author=author, approver=head, title=f"Text {number}")

    assert _queries_of(f"/advisories/{one.reference}/") == _queries_of(f"/advisories/{many.reference}/") == 2


# --- feeds in the page's head, navigation, Urdu ------------------------------------------------

def test_the_list_links_its_feeds_in_the_head(db, certs):
    text = Client().get("/advisories/").content.decode()
    head = text[:text.index("</head>")]

    assert '<link rel="alternate" type="application/rss+xml"' in head
    assert 'href="/advisories/feed/rss/"' in head and 'href="/advisories/feed/atom/"' in head
    assert 'href="/advisories/feed/critical/rss/"' in head and 'href="/advisories/feed/high/atom/"' in head


def test_every_public_page_links_the_advisories(db, certs):
    assert '<a href="/advisories/">Advisories</a>' in Client().get("/").content.decode()


def test_the_list_speaks_urdu(catalogue, settings):
    response = Client().get("/advisories/?severity=x", HTTP_ACCEPT_LANGUAGE="ur")

    text = response.content.decode()
    assert '<html lang="ur" dir="rtl">' in text
    assert "<h1>سیکیورٹی ایڈوائزریز</h1>" in text and "Security advisories" not in text
    assert "فہرست سے سنگینی منتخب کریں" in text  # the severity's error message
    assert "Choose a severity" not in text

    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    listing = client.get("/advisories/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h2 id=\"results\">تازہ ترین ایڈوائزریز</h2>" in listing
    assert "سنگینی: انتہائی سنگین" in listing  # the critical one's severity badge


def test_the_detail_speaks_urdu(catalogue):
    advisory = catalogue["gateway_mar10"]

    text = Client().get(f"/advisories/{advisory.reference}/", HTTP_ACCEPT_LANGUAGE="ur").content.decode()

    assert "<h2 id=\"history\">نظرثانی کی تاریخ</h2>" in text
    assert "TLP:CLEAR" in text and "Revision history" not in text



# Every string of these pages and of the modules behind them, in the Urdu catalogue.
TRANSLATED_TEMPLATES = ["base.html", "advisories/public_*.html", "advisories/feeds/*.html",
                        "dashboard/advisories/feed_token.html"]
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy"}
TRANSLATED_MODULES = ["advisories/public/forms.py", "advisories/public/views.py",
                      "advisories/public/feed_tokens.py", "advisories/feeds.py"]


def _messages() -> set[str]:
    base = Path(settings.BASE_DIR)
    literal = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    call = re.compile(rf"(?<![\w.])(?:gettext|_)\(\s*u?({literal})")
    messages = set()
    for pattern in TRANSLATED_TEMPLATES:
        for path in (base / "templates").glob(pattern):
            source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
            messages |= {ast.literal_eval(match.group(1)) for match in call.finditer(source)}
    for module in TRANSLATED_MODULES:
        for node in ast.walk(ast.parse((base / module).read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in GETTEXT_NAMES
                    and node.args and isinstance(node.args[0], ast.Constant)):
                messages.add(node.args[0].value)
    return messages


def test_every_string_of_these_pages_has_an_urdu_translation():
    po = Path(settings.BASE_DIR) / "locale" / "ur" / "LC_MESSAGES" / "django.po"
    catalogue = gettext.GNUTranslations(io.BytesIO(compile_po(po)))
    messages = _messages()
    placeholder = re.compile(r"%\(\w+\)[sd]")

    assert {"Security advisories", "Revision history", "Your private advisory feed",
            "Write the date as year-month-day, e.g. 2026-03-31.",
            "Security advisories (TLP:CLEAR) · %(portal)s"} <= messages
    assert [message for message in sorted(messages) if not catalogue._catalog.get(message)] == []
    for message in messages:
        translated = catalogue._catalog[message]
        assert sorted(placeholder.findall(translated)) == sorted(placeholder.findall(message)), message
