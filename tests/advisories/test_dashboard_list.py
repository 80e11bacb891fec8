"""The advisories' list and review queue in the staff dashboard (advisories/dashboard/list.py):
what each persona sees in each tab, the search, keyset pages, empty states, the review queue's
four-eyes marks and the navigation's count, and the query counts of both lists.

Personas: the National CERT writes advisories (its handler drafts, its head approves); Punjab's
members read what is CLEAR, GREEN or addressed to Punjab; Banking is an AMBER audience; a staff
user without a CERT (outsider) is refused by the dashboard's frame; the anonymous are sent to sign
in.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils.html import escape

from advisories.models import Advisory, AdvisoryStatus
from advisories.services import advisory_create, advisory_edit, advisory_submit
from organizations.services import membership_add
from tests.advisories.support import content
from tests.factories import UserFactory
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

LIST = "/dashboard/advisories/"
REVIEW = "/dashboard/advisories/review/"


def client_for(user) -> Client:
    return sign_in(Client(), user)


def references(response) -> list[str]:
    """The references of the rows of a list page, in their order."""
    return re.findall(r'<a class="advisory-reference" href="[^"]+">([^<]+)</a>', response.content.decode())


def another_member(certs, slug: str, role: str, name: str):
    """A second member of `slug` in `role` (the `member` fixture makes one per CERT and role)."""
    user = UserFactory(username=name)
    membership_add(cert=certs[slug], user=user, role=role, actor=None)
    return user


def draft(certs, author, *, cert="national", submit=False, **fields) -> Advisory:
    advisory = advisory_create(actor=author, cert=certs[cert], content=content(**fields))
    if submit:
        advisory_submit(actor=author, advisory=advisory)
    advisory.refresh_from_db()
    return advisory


@pytest.fixture
def shelf(certs, member, make_advisory):
    """National's advisories of every kind, and one of Punjab's, by title."""
    handler = member("national", "handler")
    return {
        "clear": make_advisory(title="Clear gateway flaw", tlp="TLP:CLEAR"),
        "green": make_advisory(title="Green phishing wave", tlp="TLP:GREEN"),
        "amber": make_advisory(title="Amber bank campaign", tlp="TLP:AMBER",
                               audience_ids=[certs["banking"].pk]),
        "red": make_advisory(title="Red named warning", tlp="TLP:RED",
                             reader_ids=[member("banking", "analyst").pk]),
        "draft": draft(certs, handler, title="Draft not yet reviewed", tlp="TLP:CLEAR"),
        "review": draft(certs, handler, submit=True, title="Waiting for a head", tlp="TLP:GREEN"),
        "punjab_draft": draft(certs, member("punjab", "handler"), cert="punjab",
                              title="Punjab's own draft"),
    }


def test_each_persona_sees_what_access_allows_in_each_tab(certs, member, shelf):
    national = client_for(member("national", "analyst"))
    banking = client_for(member("banking", "analyst"))
    telecom = client_for(member("telecom", "handler"))
    ref = {name: advisory.reference for name, advisory in shelf.items()}

    # The author CERT: everything it published, its drafts, nobody else's drafts.
    assert set(references(national.get(LIST))) == {ref[n] for n in ("clear", "green", "amber", "red",
                                                                     "draft", "review")}
    assert set(references(national.get(LIST, {"tab": "published"}))) == {
        ref[n] for n in ("clear", "green", "amber", "red")}
    assert set(references(national.get(LIST, {"tab": "drafts"}))) == {ref["draft"], ref["review"]}
    # An AMBER audience and a named reader: what was addressed to them, no drafts.
    assert set(references(banking.get(LIST))) == {ref[n] for n in ("clear", "green", "amber", "red")}
    assert references(banking.get(LIST, {"tab": "drafts"})) == []
    # Another CERT: what every member reads, nothing else.
    page = telecom.get(LIST)
    assert set(references(page)) == {ref["clear"], ref["green"]}
    assert "Amber bank campaign" not in page.content.decode()
    assert "Punjab&#x27;s own draft" not in page.content.decode()


def test_rows_show_reference_title_severity_label_status_author_and_date(certs, member, shelf):
    page = client_for(member("national", "analyst")).get(LIST).content.decode()

    row = re.search(rf"<tr>\s*<th scope=\"row\"><a [^>]*>{shelf['amber'].reference}</a>.*?</tr>", page,
                    re.S).group(0)
    assert "Amber bank campaign" in row
    assert '<span class="severity severity-3">High</span>' in row
    assert '<span class="tlp tlp-amber">TLP:AMBER</span>' in row
    assert "Published" in row
    national = certs["national"]
    assert f'<abbr title="{escape(national.name)}">{escape(national.short_name)}</abbr>' in row
    assert re.search(r'<time datetime="2\d{3}-\d\d-\d\dT', row)
    draft_row = re.search(rf"<tr>\s*<th scope=\"row\"><a [^>]*>{shelf['review'].reference}</a>.*?</tr>",
                          page, re.S).group(0)
    assert "Waiting for a head" in draft_row and "In review" in draft_row and "started" in draft_row


def test_a_published_advisory_with_a_revision_open_says_so_to_its_cert_only(certs, member, shelf):
    from advisories.services import advisory_revise

    advisory_revise(actor=member("national", "handler"), advisory=shelf["green"])

    own = client_for(member("national", "analyst")).get(LIST).content.decode()
    other = client_for(member("punjab", "analyst")).get(LIST).content.decode()
    assert "a new revision is being written" in own
    assert "a new revision is being written" not in other
    assert shelf["green"].reference in other


def test_search_by_reference_or_title_with_an_empty_state(member, shelf):
    client = client_for(member("national", "analyst"))

    assert references(client.get(LIST, {"q": "phishing"})) == [shelf["green"].reference]
    assert references(client.get(LIST, {"q": shelf["red"].reference.lower()})) == [shelf["red"].reference]
    assert references(client.get(LIST, {"q": "not yet reviewed"})) == [shelf["draft"].reference]
    nothing = client.get(LIST, {"q": "no such words"})
    assert nothing.status_code == 200 and references(nothing) == []
    assert "No advisory in this list matches “no such words”." in nothing.content.decode()
    # What a member may not see is not found by searching for it either.
    punjab = client_for(member("punjab", "analyst"))
    assert references(punjab.get(LIST, {"q": "Amber bank"})) == []
    assert references(punjab.get(LIST, {"q": shelf["draft"].reference})) == []


def test_empty_states(certs, member):
    client = client_for(member("karachi", "liaison"))

    assert "There are no advisories you may see yet." in client.get(LIST).content.decode()
    assert "No advisory you may read has been published yet." in client.get(
        LIST, {"tab": "published"}).content.decode()
    assert "Your CERTs have no advisory being written or reviewed." in client.get(
        LIST, {"tab": "drafts"}).content.decode()
    # A liaison does not write advisories: no "New advisory" button for them.
    assert "New advisory" not in client.get(LIST).content.decode()
    assert "New advisory" in client_for(member("karachi", "handler")).get(LIST).content.decode()


def test_bad_parameters_are_said_not_guessed(member, shelf):
    client = client_for(member("national", "analyst"))

    bad_tab = client.get(LIST, {"tab": "secret"})
    assert bad_tab.status_code == 400
    assert "Select a valid choice" in bad_tab.content.decode()
    bad_cursor = client.get(LIST, {"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 400
    assert "This page link is damaged or out of date" in bad_cursor.content.decode()
    assert len(references(bad_cursor)) == 6  # the first page, whatever the cursor said


def test_keyset_pages_forward_and_back_without_repeating_or_skipping(certs, member, make_advisory, clock):
    from advisories.dashboard import reads
    from cert_portal.pagination import decode_cursor

    made = []
    for number in range(7):
        if number % 2:  # pairs published at the same moment: the primary key orders them
            clock.advance(minutes=1)
        made.append(make_advisory(title=f"Bulletin {number}", tlp="TLP:GREEN").reference)
    newest_first = list(reversed(made))
    reader = member("punjab", "analyst")

    def page(cursor=None):
        found = reads.advisory_list(reader, tab="all", size=3,
                                    cursor=decode_cursor(cursor) if cursor else None)
        return found, [row.reference for row in found.rows]

    first, rows = page()
    assert rows == newest_first[:3] and first.newer_cursor is None
    # One published while the reader pages: it is on no page after the first, and nothing repeats.
    clock.advance(minutes=1)
    make_advisory(title="Arrived meanwhile", tlp="TLP:GREEN")
    second, rows = page(first.older_cursor)
    assert rows == newest_first[3:6]
    third, rows = page(second.older_cursor)
    assert rows == newest_first[6:] and third.older_cursor is None
    back, rows = page(second.newer_cursor)
    assert rows == newest_first[:3]
    assert back.newer_cursor  # the one that arrived meanwhile is before it
    # Through the page, seven rows (and the new one) fit on the first page of 25.
    client = client_for(reader)
    assert references(client.get(LIST, {"q": "Bulletin"})) == newest_first
    assert "Older advisories" not in client.get(LIST, {"q": "Bulletin"}).content.decode()


def test_the_page_links_keep_the_tab_and_search(certs, member, make_advisory, clock):
    for number in range(26):
        clock.advance(minutes=1)
        make_advisory(title=f"Note {number}", tlp="TLP:GREEN")
    client = client_for(member("punjab", "analyst"))

    first = client.get(LIST, {"tab": "published", "q": "Note"})
    link = re.search(r'<a href="\?([^"]+)" rel="next">Older advisories</a>', first.content.decode())
    assert link and "tab=published" in link.group(1) and "q=Note" in link.group(1)
    second = client.get(LIST + "?" + link.group(1).replace("&amp;", "&"))
    assert len(references(first)) == 25 and references(second) == ["PK-ADV-2026-0001"]
    assert "Newer advisories" in second.content.decode()


def list_queries(client, url, params, capture) -> int:
    with capture() as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("tab", ["all", "published", "drafts"])
def test_the_list_costs_the_same_queries_at_5_and_50_advisories(certs, member, make_advisory,
                                                                 django_assert_num_queries, tab):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handler, head = member("national", "handler"), member("national", "head")
    client = client_for(member("national", "analyst"))

    def fill(count):
        for number in range(count):
            label = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER")[number % 3]
            if number % 4 == 0:
                draft(certs, handler, title=f"Draft {number}", tlp=label)
            else:
                make_advisory(title=f"Published {number}", tlp=label, author=handler, approver=head)

    fill(5)
    client.get(LIST)  # the session's first-request queries
    few = list_queries(client, LIST, {"tab": tab, "size": "50"},
                       lambda: CaptureQueriesContext(connection))
    fill(45)
    with django_assert_num_queries(few):
        response = client.get(LIST, {"tab": tab, "size": "50"})
    assert len(references(response)) == (50 if tab == "all" else 36 if tab == "published" else 14)
    # And the page size does not change it either.
    with django_assert_num_queries(few):
        client.get(LIST, {"tab": tab, "size": "25"})


def test_pages_need_a_signed_in_member(member, shelf, outsider):
    for url in (LIST, REVIEW):
        anonymous = Client().get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
        # Signed in with one factor only: sent to the second.
        one_factor = Client()
        one_factor.force_login(member("national", "head"))
        assert one_factor.get(url).status_code == 302
        # Staff in no CERT: the frame refuses, and nothing of an advisory shows.
        refused = client_for(outsider).get(url)
        assert refused.status_code == 403
        assert "not a member of any active CERT" in refused.content.decode()
        assert shelf["clear"].reference not in refused.content.decode()


# --- The review queue ----------------------------------------------------------------------------


def test_the_review_queue_lists_the_heads_revisions_and_marks_what_they_may_not_approve(certs, member):
    head = member("national", "head")
    handler = member("national", "handler")
    by_handler = draft(certs, handler, submit=True, title="By the handler")
    by_head = draft(certs, head, submit=True, title="By the head")
    edited = draft(certs, handler, title="Edited by the head")
    advisory_edit(actor=head, advisory=edited, content=content(title="Edited by the head, again"))
    advisory_submit(actor=handler, advisory=edited)
    punjab = draft(certs, member("punjab", "handler"), cert="punjab", submit=True, title="Punjab's")
    not_submitted = draft(certs, handler, title="Still a draft")

    page = client_for(head).get(REVIEW)
    text = page.content.decode()
    assert page.status_code == 200
    assert set(references(page)) == {by_handler.reference, by_head.reference, edited.reference}
    assert punjab.reference not in text and not_submitted.reference not in text

    def row(advisory):
        return re.search(rf"<tr class=\"([^\"]+)\">\s*<th scope=\"row\"><a [^>]*>{advisory.reference}</a>"
                         r".*?</tr>", text, re.S)

    assert row(by_handler).group(1) == "may-approve" and "You may approve it" in row(by_handler).group(0)
    assert row(by_head).group(1) == "may-not-approve"
    assert "You wrote it: another head approves it." in row(by_head).group(0)
    assert "You edited it: another head approves it." in row(edited).group(0)
    # The navigation counts what waits for this head: one revision.
    nav = text[text.index('<nav class="staff-nav"'):text.index("</nav>")]
    assert re.search(r">Review <span class=\"count-badge\">1<", nav)


def test_the_review_queue_of_members_who_approve_nowhere_is_empty(certs, member):
    draft(certs, member("national", "handler"), submit=True, title="Waiting")

    for role in ("handler", "analyst", "liaison"):
        page = client_for(member("national", role)).get(REVIEW)
        assert page.status_code == 200
        assert references(page) == []
        assert "you are not a head of any CERT" in page.content.decode()
    other_head = client_for(member("punjab", "head")).get(REVIEW)
    assert references(other_head) == []
    assert "Nothing is waiting for review" in other_head.content.decode()


def test_the_review_queue_costs_the_same_queries_at_2_and_30_revisions(certs, member,
                                                                       django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    head = member("national", "head")
    writers = [member("national", "handler"), member("national", "analyst"), head]
    client = client_for(head)
    for number in range(2):
        draft(certs, writers[number % 3], submit=True, title=f"Revision {number}")
    client.get(REVIEW)
    with CaptureQueriesContext(connection) as few:
        client.get(REVIEW)
    for number in range(2, 30):
        draft(certs, writers[number % 3], submit=True, title=f"Revision {number}")
    with django_assert_num_queries(len(few)):
        response = client.get(REVIEW)
    assert len(references(response)) == 25


def test_withdrawn_and_in_review_states_read_in_the_status_column(certs, member, make_advisory):
    from advisories.services import advisory_withdraw

    gone = make_advisory(title="Gone", tlp="TLP:GREEN")
    advisory_withdraw(actor=member("national", "head"), advisory=gone, reason="Superseded.")
    page = client_for(member("punjab", "analyst")).get(LIST).content.decode()

    assert Advisory.objects.get(pk=gone.pk).status == AdvisoryStatus.WITHDRAWN
    assert re.search(r'<span class="advisory-status advisory-status-withdrawn">Withdrawn</span>', page)


def test_another_head_sees_it_as_approvable(certs, member):
    head = member("national", "head")
    second = another_member(certs, "national", "head", "second.head")
    draft(certs, head, submit=True, title="By the first head")

    text = client_for(second).get(REVIEW).content.decode()
    assert "You may approve it" in text
