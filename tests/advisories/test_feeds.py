"""RSS 2.0 and Atom feeds of advisories (issue 10, point 4): the public ones (all, per severity),
which carry TLP:CLEAR only, and a member's secret feed, which carries what the member may read
now; and the staff page that makes, replaces and revokes its address."""

import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from advisories import selectors
from advisories.feed_tokens import feed_token_create
from advisories.models import FeedToken
from advisories.services import advisory_submit, advisory_withdraw
from organizations.models import Membership
from organizations.services import membership_remove
from tests.advisories.test_public_pages import revise
from tests.twofactor import sign_in

ATOM = "{http://www.w3.org/2005/Atom}"
SCRIPT = "<script>alert(1)</script>"


def rss_items(response) -> list[ET.Element]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("application/rss+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel.findtext("title") and channel.findtext("link") and channel.findtext("description")
    return channel.findall("item")


def atom_entries(response) -> list[ET.Element]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}title") and root.findtext(f"{ATOM}id") and root.findtext(f"{ATOM}updated")
    return root.findall(f"{ATOM}entry")


def rss_references(response) -> list[str]:
    return [re.search(r"PK-ADV-\d{4}-\d{4}", item.findtext("title")).group(0) for item in rss_items(response)]


def atom_references(response) -> list[str]:
    return [re.search(r"PK-ADV-\d{4}-\d{4}", entry.findtext(f"{ATOM}title")).group(0)
            for entry in atom_entries(response)]


@pytest.fixture
def every_label(make_advisory, member, certs, clock):
    """One published advisory of every TLP label (AMBER ones for the banking CERT, RED for a
    banking analyst by name), a CLEAR draft and a CLEAR one in review; each a minute apart."""
    made = {}
    for label in ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"):
        clock.advance(minutes=1)
        extra = {}
        if label.startswith("TLP:AMBER"):
            extra["audience_ids"] = [certs["banking"].pk]
        if label == "TLP:RED":
            extra["reader_ids"] = [member("banking", "analyst").pk]
        made[label] = make_advisory(tlp=label, title=f"Advisory marked {label}", severity=4, **extra)
    made["draft"] = make_advisory(published=False, title="A CLEAR draft", severity=4)
    in_review = make_advisory(published=False, title="A CLEAR one in review", severity=4)
    advisory_submit(actor=member("national", "handler"), advisory=in_review)
    made["in review"] = in_review
    return made


# --- public feeds ----------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/advisories/feed/rss/", "/advisories/feed/critical/rss/"])
def test_public_rss_carries_clear_only(every_label, url):
    assert rss_references(Client().get(url)) == [every_label["TLP:CLEAR"].reference]


@pytest.mark.parametrize("url", ["/advisories/feed/atom/", "/advisories/feed/critical/atom/"])
def test_public_atom_carries_clear_only(every_label, url):
    response = Client().get(url)

    assert atom_references(response) == [every_label["TLP:CLEAR"].reference]
    for key in ("TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED", "draft", "in review"):
        assert every_label[key].reference.encode() not in response.content


def test_rss_items_say_what_the_issue_asks_newest_first(make_advisory, clock):
    first = make_advisory(title="Older one", summary="Patch the router.", severity=2)
    clock.advance(hours=2)
    second = make_advisory(title="Newer one", summary="Patch the gateway.", severity=3)

    items = rss_items(Client().get("/advisories/feed/rss/"))

    assert [item.findtext("title") for item in items] == [
        f"[TLP:CLEAR] {second.reference}: Newer one", f"[TLP:CLEAR] {first.reference}: Older one"]
    item = items[0]
    assert item.findtext("link") == f"http://testserver/advisories/{second.reference}/"
    guid = item.find("guid")
    assert guid.text == f"urn:uuid:{second.public_id}" and guid.get("isPermaLink") == "false"
    description = item.findtext("description")
    assert "TLP:CLEAR" in description and "Patch the gateway." in description
    assert "Severity: High" in description
    assert item.findtext("pubDate") == "Tue, 10 Mar 2026 07:00:00 +0000"


def test_atom_entries_have_ids_dates_and_an_html_summary(make_advisory, member, clock):
    advisory = make_advisory(title="Gateway flaw", summary="Patch now.")
    clock.advance(days=1)
    revise(advisory, author=member("national", "handler"), approver=member("national", "head"),
           title="Gateway flaw, updated", summary="Patch now.", change_summary="Fixed versions")

    entry = atom_entries(Client().get("/advisories/feed/atom/"))[0]

    assert entry.findtext(f"{ATOM}title") == f"[TLP:CLEAR] {advisory.reference}: Gateway flaw, updated"
    assert entry.findtext(f"{ATOM}id") == f"urn:uuid:{advisory.public_id}"
    assert entry.findtext(f"{ATOM}published").startswith("2026-03-10T05:00:00")
    assert entry.findtext(f"{ATOM}updated").startswith("2026-03-11T05:00:00")
    summary = entry.find(f"{ATOM}summary")
    assert summary.get("type") == "html" and "TLP:CLEAR" in summary.text and "Patch now." in summary.text
    assert entry.find(f"{ATOM}link").get("href").endswith(f"/advisories/{advisory.reference}/")


def test_a_script_reaches_feed_readers_as_text(make_advisory):
    advisory = make_advisory(title=f"Title {SCRIPT}", summary=f"Summary {SCRIPT}")

    rss = Client().get("/advisories/feed/rss/")
    atom = Client().get("/advisories/feed/atom/")

    assert SCRIPT.encode() not in rss.content and SCRIPT.encode() not in atom.content
    item = rss_items(rss)[0]
    # RSS readers render title and description as HTML: both hold the script escaped for HTML.
    assert item.findtext("title") == f"[TLP:CLEAR] {advisory.reference}: Title {escape(SCRIPT)}"
    assert f"Summary {escape(SCRIPT)}" in item.findtext("description")
    entry = atom_entries(atom)[0]
    # Atom says what it holds: the title is text (the XML escapes it), the summary is HTML.
    title = entry.find(f"{ATOM}title")
    assert title.get("type") in (None, "text") and title.text.endswith(f"Title {SCRIPT}")
    assert f"Summary {escape(SCRIPT)}" in entry.findtext(f"{ATOM}summary")


def test_a_withdrawn_advisory_stays_in_the_feed_marked_withdrawn(make_advisory, member, clock):
    kept = make_advisory(title="Still valid")
    clock.advance(hours=1)
    withdrawn = make_advisory(title="False alarm")
    clock.advance(hours=1)
    advisory_withdraw(actor=member("national", "head"), advisory=withdrawn, reason="Test build only")

    items = rss_items(Client().get("/advisories/feed/rss/"))

    assert [item.findtext("guid") for item in items] == [f"urn:uuid:{withdrawn.public_id}",
                                                         f"urn:uuid:{kept.public_id}"]
    assert "Withdrawn" in items[0].findtext("description")
    assert "Withdrawn" not in items[1].findtext("description")


@pytest.mark.parametrize("slug, expected", [
    ("critical", ["critical"]),
    ("high", ["critical", "high"]),
    ("medium", ["critical", "high", "medium"]),
    ("informational", ["critical", "high", "medium", "low", "informational"]),
])
def test_severity_feeds_carry_that_severity_or_higher(make_advisory, clock, slug, expected):
    made = {}
    for name, level in (("informational", 0), ("low", 1), ("medium", 2), ("high", 3), ("critical", 4)):
        clock.advance(minutes=1)
        made[name] = make_advisory(title=f"{name} one", severity=level)
    response = Client().get(f"/advisories/feed/{slug}/rss/")

    assert rss_references(response) == [made[name].reference for name in expected]
    channel_title = ET.fromstring(response.content).find("channel").findtext("title")
    label = slug.capitalize()
    assert f"severity {label} or higher (TLP:CLEAR)" in channel_title
    assert atom_references(Client().get(f"/advisories/feed/{slug}/atom/")) == [
        made[name].reference for name in expected]


@pytest.mark.parametrize("url", ["/advisories/feed/severe/rss/", "/advisories/feed/4/atom/"])
def test_an_unknown_severity_feed_is_a_404(db, url):
    assert Client().get(url).status_code == 404


def _queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_public_feeds_cost_one_query_and_hold_the_latest_fifty(make_advisory, clock):
    make_advisory()
    small = [_queries_of(Client(), url) for url in ("/advisories/feed/rss/", "/advisories/feed/high/atom/")]
    for _ in range(52):
        clock.advance(minutes=1)
        make_advisory(severity=4)

    large = [_queries_of(Client(), url) for url in ("/advisories/feed/rss/", "/advisories/feed/high/atom/")]

    assert small == large == [1, 1]
    assert len(rss_items(Client().get("/advisories/feed/rss/"))) == selectors.FEED_SIZE == 50


# --- a member's secret feed --------------------------------------------------------------------

def private_url(token: str, kind: str = "rss") -> str:
    return f"/advisories/feed/private/{token}/{kind}/"


def test_the_secret_feed_shows_what_its_member_may_read_each_with_its_label(every_label, member):
    banking = feed_token_create(actor=member("banking", "analyst"))
    telecom = feed_token_create(actor=member("telecom", "analyst"))

    banking_items = rss_items(Client().get(private_url(banking)))
    telecom_titles = [item.findtext("title") for item in rss_items(Client().get(private_url(telecom)))]

    def ref(key):
        return every_label[key].reference
    # The audience CERT's member: AMBER, AMBER+STRICT and the RED one naming them, newest first.
    assert [item.findtext("title") for item in banking_items] == [
        f"[{label}] {ref(label)}: Advisory marked {label}"
        for label in ("TLP:RED", "TLP:AMBER+STRICT", "TLP:AMBER", "TLP:GREEN", "TLP:CLEAR")]
    descriptions = {item.findtext("title").split("]")[0][1:]: item.findtext("description")
                    for item in banking_items}
    assert all(label in description for label, description in descriptions.items())
    # Another CERT's member: GREEN and CLEAR only.
    assert telecom_titles == [f"[TLP:GREEN] {ref('TLP:GREEN')}: Advisory marked TLP:GREEN",
                              f"[TLP:CLEAR] {ref('TLP:CLEAR')}: Advisory marked TLP:CLEAR"]
    links = [item.findtext("link") for item in banking_items]
    assert links[-1].endswith(f"/advisories/{ref('TLP:CLEAR')}/")  # public page for CLEAR
    assert links[0].endswith(f"/dashboard/advisories/{ref('TLP:RED')}/")  # staff page otherwise
    for key in ("draft", "in review"):
        assert ref(key) not in str(banking_items)


def test_the_secret_atom_feed_carries_the_same(every_label, member):
    token = feed_token_create(actor=member("banking", "analyst"))

    response = Client().get(private_url(token, "atom"))

    assert atom_references(response) == [every_label[label].reference for label in (
        "TLP:RED", "TLP:AMBER+STRICT", "TLP:AMBER", "TLP:GREEN", "TLP:CLEAR")]
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_an_unknown_revoked_or_replaced_token_is_a_404(every_label, member):
    user = member("banking", "analyst")
    first = feed_token_create(actor=user)
    assert Client().get(private_url(first)).status_code == 200

    second = feed_token_create(actor=user)  # regenerate: the first stops working

    assert Client().get(private_url(first)).status_code == 404
    assert Client().get(private_url(first, "atom")).status_code == 404
    assert Client().get(private_url(second)).status_code == 200
    assert Client().get(private_url("x" * 43)).status_code == 404
    assert Client().get(private_url(second[:-1])).status_code == 404
    FeedToken.objects.filter(user=user).update(revoked_at=FeedToken.objects.first().created_at)
    assert Client().get(private_url(second)).status_code == 404


def test_a_member_who_left_or_was_deactivated_gets_a_404(every_label, member):
    leaver, deactivated = member("banking", "analyst"), member("banking", "liaison")
    leaver_token, deactivated_token = feed_token_create(actor=leaver), feed_token_create(actor=deactivated)
    assert Client().get(private_url(leaver_token)).status_code == 200

    membership_remove(membership=Membership.objects.get(user=leaver), actor=None)
    deactivated.is_active = False
    deactivated.save(update_fields=["is_active"])

    # Not an empty feed that looks like "no news": the same answer as an unknown address.
    assert Client().get(private_url(leaver_token)).status_code == 404
    assert Client().get(private_url(deactivated_token)).status_code == 404


def test_use_is_recorded_at_most_once_a_minute(every_label, member, clock):
    user = member("telecom", "analyst")
    token = feed_token_create(actor=user)
    row = FeedToken.objects.get(user=user)
    assert row.last_used_at is None

    Client().get(private_url(token))
    row.refresh_from_db()
    first_use = row.last_used_at
    clock.advance(seconds=59)
    with CaptureQueriesContext(connection) as queries:
        Client().get(private_url(token))
    row.refresh_from_db()
    unchanged = row.last_used_at
    clock.advance(seconds=2)
    Client().get(private_url(token))
    row.refresh_from_db()

    assert first_use == clock.now - timedelta(seconds=61)
    assert unchanged == first_use
    assert not any(query["sql"].startswith("UPDATE") for query in queries.captured_queries)
    assert row.last_used_at == clock.now


def test_the_secret_feed_costs_the_same_whatever_it_holds(make_advisory, member, certs, clock):
    user = member("banking", "analyst")
    token = feed_token_create(actor=user)
    make_advisory(tlp="TLP:AMBER", audience_ids=[certs["banking"].pk])
    small = _queries_of(Client(), private_url(token))
    for number in range(30):
        clock.advance(minutes=2)  # each fetch also records its use: the same write each time
        make_advisory(tlp=("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER")[number % 3],
                      audience_ids=[certs["banking"].pk] if number % 3 == 2 else [])
    clock.advance(minutes=2)

    large = _queries_of(Client(), private_url(token))

    assert small == large == 4  # token, memberships, the use, the items


# --- the staff page of the address ---------------------------------------------------------

def _address(text: str, kind: str) -> str | None:
    found = re.search(rf'value="(https?://[^"]+/advisories/feed/private/([^/"]+)/{kind}/)"', text)
    return found.group(2) if found else None


def test_a_member_makes_an_address_and_sees_it_once(every_label, member):
    user = member("banking", "analyst")
    client = sign_in(Client(), user)
    assert "You have no feed address." in client.get("/dashboard/advisories/feed/").content.decode()

    made = client.post("/dashboard/advisories/feed/", {"action": "create"})

    text = made.content.decode()
    token = _address(text, "rss")
    assert made.status_code == 200 and token and _address(text, "atom") == token
    assert "it is shown only this once" in text
    again = client.get("/dashboard/advisories/feed/").content.decode()
    assert token not in again and "You have a feed address" in again
    # Stored hashed: the token is in no row of the feed tokens, nor in any session.
    row = FeedToken.objects.get(user=user, revoked_at__isnull=True)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not FeedToken.objects.filter(token_hash__contains=token).exists()
    assert all(token not in str(session.get_decoded()) for session in Session.objects.all())
    assert len(rss_items(Client().get(private_url(token)))) == 5


def test_regenerate_and_revoke_from_the_page(every_label, member):
    user = member("banking", "analyst")
    client = sign_in(Client(), user)
    first = _address(client.post("/dashboard/advisories/feed/", {"action": "create"}).content.decode(), "rss")

    second = _address(client.post("/dashboard/advisories/feed/", {"action": "regenerate"}).content.decode(),
                      "rss")

    assert second and second != first
    assert Client().get(private_url(first)).status_code == 404
    assert Client().get(private_url(second)).status_code == 200
    assert FeedToken.objects.filter(user=user, revoked_at__isnull=True).count() == 1

    revoked = client.post("/dashboard/advisories/feed/", {"action": "revoke"}, follow=True)

    assert "Your feed address was revoked" in revoked.content.decode()
    assert Client().get(private_url(second)).status_code == 404
    assert not FeedToken.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_an_unknown_action_changes_nothing_and_says_so(member):
    user = member("banking", "analyst")
    client = sign_in(Client(), user)

    response = client.post("/dashboard/advisories/feed/", {"action": "steal"})

    assert response.status_code == 400
    assert "Choose one of the buttons" in response.content.decode()
    assert not FeedToken.objects.exists()


def test_the_page_is_for_signed_in_members_only(member, outsider):
    anonymous = Client().post("/dashboard/advisories/feed/", {"action": "create"})
    signed_in_once = Client()
    signed_in_once.force_login(member("banking", "analyst"))  # no second factor
    half = signed_in_once.post("/dashboard/advisories/feed/", {"action": "create"})
    no_member = sign_in(Client(), outsider).post("/dashboard/advisories/feed/", {"action": "create"})

    assert anonymous.status_code == half.status_code == 302
    assert "/login/" in anonymous["Location"] and "/login/" in half["Location"]
    assert no_member.status_code == 403
    assert not FeedToken.objects.exists()


def test_the_page_speaks_urdu(member):
    client = sign_in(Client(), member("banking", "analyst"))

    text = client.get("/dashboard/advisories/feed/", HTTP_ACCEPT_LANGUAGE="ur").content.decode()

    assert "<h1>آپ کی نجی ایڈوائزری فیڈ</h1>" in text and "Your private advisory feed" not in text
