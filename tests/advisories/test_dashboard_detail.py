"""One advisory in the staff dashboard (advisories/dashboard/detail.py): who sees it (404 for the
others), what each persona is offered (exactly access.allowed_actions), and the workflow taken
through the pages: draft -> review -> published, four eyes, return with a reason, revise and
approve again, withdraw; refusals posted by hand change nothing and say why."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from advisories.models import Advisory, AdvisoryRevision, AdvisoryStatus, RevisionState
from advisories.services import advisory_edit, advisory_revise, advisory_submit
from tests.advisories.support import content
from tests.advisories.test_dashboard_list import another_member, client_for, draft
from tests.factories import make_incident

pytestmark = pytest.mark.django_db

BUTTONS = {"edit": ">Edit</a>", "submit": ">Submit for review</button>",
           "return": ">Return to author</button>", "approve": ">Approve and publish</button>",
           "revise": ">Revise</button>", "withdraw": ">Withdraw</button>"}


def page_url(advisory) -> str:
    return f"/dashboard/advisories/{advisory.reference}/"


def action_url(advisory, action) -> str:
    return f"/dashboard/advisories/{advisory.reference}/{action}/"


def post(client, advisory, action, **data):
    advisory.refresh_from_db()
    return client.post(action_url(advisory, action), {"version": advisory.version, **data})


def offered(response) -> set[str]:
    text = response.content.decode()
    return {name for name, button in BUTTONS.items() if button in text}


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def state(advisory) -> tuple:
    """What a refused action must leave as it was."""
    advisory.refresh_from_db()
    return (advisory.status, advisory.version, advisory.current_revision_id,
            sorted(AdvisoryRevision.objects.filter(advisory=advisory)
                   .values_list("pk", "state", "number", "title", "returned_reason")))


# --- Who sees it ---------------------------------------------------------------------------------


def test_a_draft_is_seen_by_its_cert_only(certs, member, outsider):
    advisory = draft(certs, member("national", "handler"), title="Secret draft", tlp="TLP:CLEAR")

    own = client_for(member("national", "liaison")).get(page_url(advisory))
    assert own.status_code == 200
    assert "Secret draft" in own.content.decode() and "Draft revision" in own.content.decode()
    for slug, role in (("punjab", "head"), ("banking", "analyst"), ("lahore", "handler")):
        assert client_for(member(slug, role)).get(page_url(advisory)).status_code == 404, slug
    # The same answer as for an advisory that does not exist.
    missing = client_for(member("punjab", "head")).get("/dashboard/advisories/PK-ADV-2026-9999/")
    assert missing.status_code == 404
    assert client_for(outsider).get(page_url(advisory)).status_code == 403
    anonymous = Client().get(page_url(advisory))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_an_amber_advisory_is_seen_by_its_audience_and_a_red_one_by_its_named_readers(
        certs, member, make_advisory):
    reader = member("banking", "analyst")
    amber = make_advisory(title="For the banks", tlp="TLP:AMBER", audience_ids=[certs["banking"].pk])
    red = make_advisory(title="For one person", tlp="TLP:RED", reader_ids=[reader.pk])

    banking_head = client_for(member("banking", "head"))
    assert banking_head.get(page_url(amber)).status_code == 200
    assert banking_head.get(page_url(red)).status_code == 404  # named readers only
    named = client_for(reader).get(page_url(red))
    assert named.status_code == 200 and "For one person" in named.content.decode()
    telecom = client_for(member("telecom", "head"))
    assert telecom.get(page_url(amber)).status_code == 404
    assert telecom.get(page_url(red)).status_code == 404
    # Their published revisions likewise.
    assert banking_head.get(page_url(amber) + "revisions/1/").status_code == 200
    assert banking_head.get(page_url(red) + "revisions/1/").status_code == 404
    assert telecom.get(page_url(amber) + "revisions/1/").status_code == 404
    anonymous = Client().get(page_url(amber) + "revisions/1/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_the_audience_and_readers_are_shown_to_the_author_cert_only(certs, member, make_advisory):
    amber = make_advisory(title="For the banks", tlp="TLP:AMBER",
                          audience_ids=[certs["banking"].pk, certs["telecom"].pk])

    own = client_for(member("national", "analyst")).get(page_url(amber)).content.decode()
    audience = client_for(member("banking", "analyst")).get(page_url(amber)).content.decode()
    assert "Who receives it" in own
    assert certs["banking"].name in own and certs["telecom"].name in own
    assert "Who receives it" not in audience
    assert certs["telecom"].name not in audience
    assert "TLP:AMBER" in audience  # the label is always shown


def test_the_source_incident_is_linked_only_for_those_who_may_see_it(certs, member, make_advisory):
    incident = make_incident(owner_cert=certs["national"], title="Gateway exploitation",
                             tlp="TLP:GREEN")
    advisory = make_advisory(title="Patch the gateway", tlp="TLP:GREEN", source_incident=incident)

    own = client_for(member("national", "analyst")).get(page_url(advisory)).content.decode()
    other = client_for(member("sindh", "analyst")).get(page_url(advisory))
    assert f'href="/dashboard/incidents/{incident.reference}/"' in own
    assert other.status_code == 200 and "Patch the gateway" in other.content.decode()
    assert incident.reference not in other.content.decode()
    assert "Drawn from" not in other.content.decode()


# --- What is offered -----------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "expected"), [
    ("head", {"edit", "submit"}), ("handler", {"edit", "submit"}), ("analyst", {"edit", "submit"}),
    ("liaison", set()),
])
def test_a_draft_offers_what_each_role_may_do(certs, member, role, expected):
    advisory = draft(certs, member("national", "handler"), title="Draft")

    assert offered(client_for(member("national", role)).get(page_url(advisory))) == expected


@pytest.mark.parametrize(("role", "expected"), [
    ("head", {"revise", "withdraw"}), ("handler", {"revise"}), ("analyst", {"revise"}),
    ("liaison", set()),
])
def test_a_published_advisory_offers_revise_and_withdraw_never_edit(certs, member, make_advisory,
                                                                    role, expected):
    advisory = make_advisory(title="Published", tlp="TLP:GREEN")

    assert offered(client_for(member("national", role)).get(page_url(advisory))) == expected
    assert offered(client_for(member("punjab", "head")).get(page_url(advisory))) == set()


# --- The workflow through the pages --------------------------------------------------------------


def test_create_submit_approve_publishes(certs, member, django_capture_on_commit_callbacks):
    handler, head = member("national", "handler"), member("national", "head")
    writer = client_for(handler)

    created = writer.post("/dashboard/advisories/new/", {
        "step": "save", "title": "Patch the gateway now", "severity": "4", "tlp": "TLP:GREEN",
        "summary": "A remote code execution flaw in the gateway is exploited.",
        "body_markdown": "## Steps\n\n1. Patch.", "cve_ids": "CVE-2026-1234, cve-2026-5678",
        "cvss_v3_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "products": "Example Networks | Gateway OS | before 7.2.4",
        "references": "https://vendor.example/psirt/1"})
    advisory = Advisory.objects.get()
    assert created.status_code == 302 and created["Location"] == page_url(advisory)
    assert advisory.status == AdvisoryStatus.DRAFT and advisory.author_cert == certs["national"]
    revision = advisory.revisions.get()
    assert revision.cve_ids == ["CVE-2026-1234", "CVE-2026-5678"]
    assert revision.products == [{"vendor": "Example Networks", "product": "Gateway OS",
                                  "versions": "before 7.2.4"}]
    assert str(revision.cvss_v3_score) == "9.8" and revision.author == handler

    submitted = post(writer, advisory, "submit")
    assert submitted.status_code == 302
    assert "was sent for review" in message_texts(submitted)[-1]
    assert state(advisory)[0] == AdvisoryStatus.IN_REVIEW

    reviewer = client_for(head)
    assert offered(reviewer.get(page_url(advisory))) == {"return", "approve"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approved = post(reviewer, advisory, "approve")
    assert approved.status_code == 302
    advisory.refresh_from_db()
    assert advisory.status == AdvisoryStatus.PUBLISHED
    assert advisory.current_revision.number == 1 and advisory.current_revision.approved_by == head
    assert len(callbacks) == 1  # the distribution, queued on commit
    page = reviewer.get(page_url(advisory)).content.decode()
    assert "Published revision 1" in page and "9.8" in page
    # Readers of another CERT read it now (TLP:GREEN).
    assert client_for(member("sindh", "analyst")).get(page_url(advisory)).status_code == 200


def test_a_head_who_wrote_the_draft_cannot_approve_it(certs, member):
    head = member("national", "head")
    advisory = draft(certs, head, submit=True, title="My own")
    client = client_for(head)
    before = state(advisory)

    page = client.get(page_url(advisory))
    assert "approve" not in offered(page)
    assert "You wrote this revision: another head of the CERT approves it (four eyes)." in (
        page.content.decode())
    refused = post(client, advisory, "approve")
    assert refused.status_code == 403
    assert "neither wrote nor edited it (four eyes)" in refused.content.decode()
    assert state(advisory) == before

    # Another head of the same CERT approves it.
    second = client_for(another_member(certs, "national", "head", "second.head"))
    assert "approve" in offered(second.get(page_url(advisory)))
    assert post(second, advisory, "approve").status_code == 302
    assert state(advisory)[0] == AdvisoryStatus.PUBLISHED


def test_a_head_who_edited_a_handlers_draft_cannot_approve_it(certs, member):
    head, handler = member("national", "head"), member("national", "handler")
    advisory = draft(certs, handler, title="Handler's")
    advisory_edit(actor=head, advisory=advisory, content=content(title="Handler's, improved"))
    advisory_submit(actor=handler, advisory=advisory)
    client = client_for(head)

    assert "You edited this revision" in client.get(page_url(advisory)).content.decode()
    before = state(advisory)
    assert post(client, advisory, "approve").status_code == 403
    assert state(advisory) == before


def test_return_to_the_author_needs_a_reason_from_the_reviewer(certs, member):
    handler, head = member("national", "handler"), member("national", "head")
    advisory = draft(certs, handler, submit=True, title="Needs work")
    reviewer = client_for(head)
    before = state(advisory)

    missing = post(reviewer, advisory, "return", reason="  ")
    assert missing.status_code == 400
    assert "Say what the author should change." in missing.content.decode()
    assert state(advisory) == before

    returned = post(reviewer, advisory, "return", reason="Name the affected versions.")
    assert returned.status_code == 302
    advisory.refresh_from_db()
    assert advisory.status == AdvisoryStatus.DRAFT
    assert advisory.revisions.get().returned_reason == "Name the affected versions."
    author_page = client_for(handler).get(page_url(advisory))
    assert "Returned by the reviewer:" in author_page.content.decode()
    assert "Name the affected versions." in author_page.content.decode()
    assert offered(author_page) == {"edit", "submit"}


def test_revise_edit_submit_approve_makes_revision_2_current_and_keeps_revision_1(
        certs, member, make_advisory):
    handler, head = member("national", "handler"), member("national", "head")
    advisory = make_advisory(title="Version one", tlp="TLP:GREEN", author=handler, approver=head)
    writer = client_for(handler)

    revised = post(writer, advisory, "revise")
    assert revised.status_code == 302 and revised["Location"] == page_url(advisory) + "edit/"
    edit_page = writer.get(revised["Location"])
    assert edit_page.status_code == 200 and "Version one" in edit_page.content.decode()
    advisory.refresh_from_db()
    form = re.search(r'name="version" value="(\d+)"', edit_page.content.decode()).group(1)
    saved = writer.post(page_url(advisory) + "edit/", {
        "step": "save", "version": form, "title": "Version two", "severity": "3", "tlp": "TLP:GREEN",
        "summary": "Now with the fixed versions.", "change_summary": "Fixed versions named."})
    assert saved.status_code == 302
    page = writer.get(page_url(advisory)).content.decode()
    assert "Changed from the published revision" in page
    changed = re.search(r'<ul class="changed-fields">(.*?)</ul>', page, re.S).group(1)
    assert "<li>Title</li>" in changed and "<li>Summary</li>" in changed
    assert "<li>TLP</li>" not in changed
    # Readers still see revision 1.
    reader = client_for(member("sindh", "analyst"))
    assert "Version one" in reader.get(page_url(advisory)).content.decode()
    assert "Version two" not in reader.get(page_url(advisory)).content.decode()

    assert post(writer, advisory, "submit").status_code == 302
    assert post(client_for(head), advisory, "approve").status_code == 302
    advisory.refresh_from_db()
    assert advisory.current_revision.number == 2 and advisory.current_revision.title == "Version two"
    assert list(advisory.revisions.values_list("number", flat=True).order_by("number")) == [1, 2]

    page = reader.get(page_url(advisory)).content.decode()
    assert "Published revision 2" in page and "Fixed versions named." in page
    first = reader.get(page_url(advisory) + "revisions/1/")
    assert first.status_code == 200 and "Version one" in first.content.decode()
    assert reader.get(page_url(advisory) + "revisions/3/").status_code == 404
    assert client_for(member("national", "analyst")).get(
        page_url(advisory) + "revisions/1/").status_code == 200


def test_a_revision_under_a_stricter_earlier_label_is_not_opened_by_a_wider_one(
        certs, member, make_advisory):
    handler, head = member("national", "handler"), member("national", "head")
    advisory = make_advisory(title="Banks only", tlp="TLP:AMBER", audience_ids=[certs["banking"].pk],
                             author=handler, approver=head)
    advisory_revise(actor=handler, advisory=advisory)
    advisory.refresh_from_db()
    advisory_edit(actor=handler, advisory=advisory, content=content(title="For all members",
                                                                    tlp="TLP:GREEN"))
    advisory_submit(actor=handler, advisory=advisory)
    from advisories.services import advisory_approve

    advisory_approve(actor=head, advisory=advisory)
    telecom, banking = client_for(member("telecom", "analyst")), client_for(member("banking", "analyst"))

    assert "For all members" in telecom.get(page_url(advisory)).content.decode()
    assert telecom.get(page_url(advisory) + "revisions/1/").status_code == 404
    assert "revisions/1/" not in telecom.get(page_url(advisory)).content.decode()
    assert banking.get(page_url(advisory) + "revisions/1/").status_code == 200


def test_withdraw_needs_a_head_and_a_reason(certs, member, make_advisory):
    advisory = make_advisory(title="To withdraw", tlp="TLP:GREEN")
    before = state(advisory)

    refused = post(client_for(member("national", "handler")), advisory, "withdraw", reason="Wrong.")
    assert refused.status_code == 403
    assert "Only a head of the author CERT can withdraw" in refused.content.decode()
    head = client_for(member("national", "head"))
    missing = post(head, advisory, "withdraw", reason="")
    assert missing.status_code == 400
    assert "Say why the advisory is withdrawn: readers see it." in missing.content.decode()
    assert state(advisory) == before

    assert post(head, advisory, "withdraw", reason="The vendor retracted the flaw.").status_code == 302
    advisory.refresh_from_db()
    assert advisory.status == AdvisoryStatus.WITHDRAWN
    page = client_for(member("sindh", "analyst")).get(page_url(advisory)).content.decode()
    assert "This advisory was withdrawn" in page and "The vendor retracted the flaw." in page


def test_a_published_revision_cannot_be_edited(certs, member, make_advisory):
    advisory = make_advisory(title="Final text", tlp="TLP:GREEN")
    client = client_for(member("national", "head"))
    before = state(advisory)

    assert "edit" not in offered(client.get(page_url(advisory)))
    shown = client.get(page_url(advisory) + "edit/")
    assert shown.status_code == 403
    assert "A published revision never changes: start a new revision." in shown.content.decode()
    posted = client.post(page_url(advisory) + "edit/", {
        "step": "save", "title": "Changed behind readers' backs", "summary": "x", "severity": "1",
        "tlp": "TLP:GREEN"})
    assert posted.status_code == 403
    assert state(advisory) == before
    # A reader of another CERT may read it, not edit it.
    other = client_for(member("punjab", "head"))
    assert other.get(page_url(advisory) + "edit/").status_code == 403
    assert other.post(page_url(advisory) + "edit/", {"title": "Mine"}).status_code == 403
    assert state(advisory) == before


def test_refusals_posted_by_hand_change_nothing(certs, member, make_advisory):
    in_review = draft(certs, member("national", "handler"), submit=True, title="In review")
    published = make_advisory(title="Published", tlp="TLP:GREEN")
    liaison = client_for(member("national", "liaison"))
    other = client_for(member("punjab", "head"))

    for advisory, action in ((in_review, "approve"), (in_review, "return"), (published, "revise"),
                             (published, "withdraw"), (published, "submit")):
        before = state(advisory)
        response = post(liaison, advisory, action, reason="Because.")
        assert response.status_code == 403, action
        assert state(advisory) == before, action
    # Another CERT: the draft is a 404 whatever the action; the published one is refused.
    assert post(other, in_review, "approve").status_code == 404
    assert post(other, in_review, "no-such-action").status_code == 404
    before = state(published)
    assert post(other, published, "withdraw", reason="Mine now.").status_code == 403
    assert state(published) == before
    assert post(liaison, published, "no-such-action").status_code == 404


def test_a_stale_page_is_a_conflict_not_an_overwrite(certs, member):
    handler, head = member("national", "handler"), member("national", "head")
    advisory = draft(certs, handler, submit=True, title="Raced")
    stale = advisory.version
    advisory_return_reason = "Fix the title."
    from advisories.services import advisory_return

    advisory_return(actor=head, advisory=advisory, reason=advisory_return_reason)
    advisory_submit(actor=handler, advisory=advisory)
    before = state(advisory)

    response = client_for(head).post(action_url(advisory, "approve"), {"version": stale})
    assert response.status_code == 302
    assert "was changed by someone else since you opened it" in message_texts(response)[0]
    assert state(advisory) == before
    assert AdvisoryRevision.objects.get(advisory=advisory).state == RevisionState.IN_REVIEW


def test_the_detail_page_costs_the_same_queries_with_one_or_many_revisions(
        certs, member, make_advisory, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from advisories.services import advisory_approve

    handler, head = member("national", "handler"), member("national", "head")
    client = client_for(member("national", "analyst"))

    def publish_revisions(advisory, count):
        for number in range(count):
            advisory.refresh_from_db()
            advisory_revise(actor=handler, advisory=advisory)
            advisory.refresh_from_db()
            advisory_edit(actor=handler, advisory=advisory, content=content(title=f"Text {number}"))
            advisory_submit(actor=handler, advisory=advisory)
            advisory_approve(actor=head, advisory=advisory)

    few = make_advisory(title="Few", tlp="TLP:GREEN", author=handler, approver=head)
    many = make_advisory(title="Many", tlp="TLP:GREEN", author=handler, approver=head)
    publish_revisions(few, 1)
    publish_revisions(many, 12)
    client.get(page_url(few))
    with CaptureQueriesContext(connection) as queries:
        client.get(page_url(few))
    with django_assert_num_queries(len(queries)):
        response = client.get(page_url(many))
    assert response.content.decode().count("/revisions/") == 13


def test_the_pages_label_every_control_and_lead_from_errors_to_fields(certs, member):
    from tests.dashboard.test_look import Page

    advisory = draft(certs, member("national", "handler"), submit=True, title="Labelled")
    head = client_for(member("national", "head"))
    for url in (page_url(advisory), "/dashboard/advisories/", "/dashboard/advisories/review/",
                action_url(advisory, "return")):
        response = head.get(url)
        assert response.status_code == 200, url
        page = Page(response.content.decode())
        assert page.unlabelled() == [] and page.duplicate_ids() == [], url
        assert page.broken_descriptions() == [], url
    missing = post(head, advisory, "return", reason="")
    page = Page(missing.content.decode())
    assert missing.status_code == 400
    assert 'href="#action-reason"' in missing.content.decode() and "action-reason" in page.ids
    assert page.broken_descriptions() == [] and missing.content.decode().count(" autofocus") == 1


def test_the_pages_speak_urdu(certs, member, make_advisory):
    from django.conf import settings
    from django.utils import translation

    advisory = make_advisory(title="Urdu check", tlp="TLP:GREEN")
    client = client_for(member("national", "head"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    with translation.override("ur"):
        words = {text: translation.gettext(text) for text in (
            "Advisories", "Review", "Drafts and reviews of my CERTs", "Revision history", "Withdraw",
            "Published")}
    assert all(word != text for text, word in words.items()), words

    listing = client.get("/dashboard/advisories/").content.decode()
    detail = client.get(page_url(advisory)).content.decode()
    assert '<html lang="ur" dir="rtl">' in listing
    for text in ("Advisories", "Review", "Drafts and reviews of my CERTs", "Published"):
        assert words[text] in listing and f">{text}<" not in listing, text
    for text in ("Revision history", "Withdraw"):
        assert words[text] in detail, text
