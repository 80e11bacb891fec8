"""The advisory workflow of issue 10 (DOMAIN.md §1 roles, §5): draft -> in review -> published,
revised or withdrawn, each step by each persona, four eyes, version conflicts and immutability.

What each persona may do is retyped below from DOMAIN.md and the issue, never read from
advisories.access: a wrong rule in the code must not be able to agree with itself.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django_q.models import OrmQ

from advisories.access import ActionNotAllowed, open_revision
from advisories.models import (
    Advisory,
    AdvisoryCve,
    AdvisoryGroupObjectPermission,
    AdvisoryProduct,
    AdvisoryRevision,
    AdvisoryUserObjectPermission,
    PublishedRevisionError,
)
from advisories.services import (
    AdvisoryConflictError,
    advisory_approve,
    advisory_create,
    advisory_edit,
    advisory_return,
    advisory_revise,
    advisory_submit,
    advisory_withdraw,
    content_of,
)
from advisories.tasks import DISTRIBUTE_TASK
from organizations.models import Sector
from organizations.services import cert_update, membership_add
from tests.advisories.support import VALID_CVSS_V3, VALID_CVSS_V4, content
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db

AUTHOR = "lahore"  # the author CERT of every advisory here; punjab is its parent

# --- DOMAIN.md §1 and §5, retyped -----------------------------------------------------------

WRITERS = {"head", "handler", "analyst"}  # they write a CERT's advisories; a liaison reads
HEADS = {"head"}  # approve (four eyes) and withdraw
OK, REFUSED, NOT_FOUND = "done", "ActionNotAllowed", "404"

# Persona -> (CERT slug, role), or a special persona.
PERSONAS = {
    "lahore head": (AUTHOR, "head"),
    "lahore handler": (AUTHOR, "handler"),  # writes the advisories of the matrix
    "lahore analyst": (AUTHOR, "analyst"),
    "lahore liaison": (AUTHOR, "liaison"),
    "punjab head": ("punjab", "head"),  # head of the author CERT's parent
    "sindh head": ("sindh", "head"),  # head of an unrelated CERT
    "outsider": "outsider",  # portal staff without membership
    "anonymous": "anonymous",
}


def expected(step: str, persona: str) -> str:
    """What happens when `persona` takes `step` (see STEPS)."""
    target = PERSONAS[persona]
    role = target[1] if isinstance(target, tuple) and target[0] == AUTHOR else None
    needs = HEADS if step.startswith(("approve", "withdraw")) else WRITERS
    if role in needs:
        return OK
    if role is not None:  # a member of the author CERT without the role for it
        return REFUSED
    if step == "create":  # no advisory to hide yet
        return REFUSED
    # Outside the author CERT: who may read the advisory is told it may not act; drafts and
    # TLP:AMBER are invisible to them, so they get 404 like for one that does not exist.
    return REFUSED if step.endswith("(CLEAR)") else NOT_FOUND


@pytest.fixture
def people(member, outsider):
    users = {}
    for persona, target in PERSONAS.items():
        if target == "outsider":
            users[persona] = outsider
        elif target == "anonymous":
            users[persona] = AnonymousUser()
        else:
            users[persona] = member(*target)
    return users


# --- helpers --------------------------------------------------------------------------------

@contextmanager
def undone():
    """Run the block in a savepoint and roll it back, so each persona meets the same advisory."""

    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            yield
            raise Undo
    except Undo:
        pass


def snapshot(advisory) -> dict:
    """Every row a workflow step may write about `advisory`."""
    revisions = AdvisoryRevision.objects.filter(advisory_id=advisory.pk)
    return {
        "advisories": Advisory.objects.count(),
        "advisory": list(Advisory.objects.filter(pk=advisory.pk).values()),
        "revisions": list(revisions.order_by("pk").values()),
        "sectors": sorted(AdvisoryRevision.sectors.through.objects.filter(
            advisoryrevision__advisory_id=advisory.pk).values_list("advisoryrevision_id", "sector_id")),
        "audience": sorted(Advisory.audience.through.objects.filter(advisory_id=advisory.pk)
                           .values_list("cert_id", flat=True)),
        "readers": sorted(Advisory.readers.through.objects.filter(advisory_id=advisory.pk)
                          .values_list("user_id", flat=True)),
        "group grants": group_grants(advisory),
        "user grants": user_grants(advisory),
        "cves": cve_rows(advisory),
        "products": product_rows(advisory),
        "queued": OrmQ.objects.count(),
    }


def group_grants(advisory) -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    for slug, codename in (AdvisoryGroupObjectPermission.objects.filter(content_object_id=advisory.pk)
                           .values_list("group__cert__slug", "permission__codename")):
        rows.setdefault(slug, set()).add(codename)
    return rows


def user_grants(advisory) -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    for username, codename in (AdvisoryUserObjectPermission.objects.filter(
            content_object_id=advisory.pk).values_list("user__username", "permission__codename")):
        rows.setdefault(username, set()).add(codename)
    return rows


def cve_rows(advisory) -> list[str]:
    return sorted(AdvisoryCve.objects.filter(advisory_id=advisory.pk).values_list("cve_id", flat=True))


def product_rows(advisory) -> list[tuple[str, str]]:
    return sorted(AdvisoryProduct.objects.filter(advisory_id=advisory.pk)
                  .values_list("vendor", "product"))


def queued_distributions() -> list[tuple]:
    """The distribution tasks waiting in django-q2's ORM broker: (function, args)."""
    return [(task.func(), task.args()) for task in OrmQ.objects.order_by("pk")]


def fresh(advisory) -> Advisory:
    return Advisory.objects.select_related("author_cert", "current_revision").get(pk=advisory.pk)


def second_head(certs, slug=AUTHOR):
    """Another head of the CERT, for the four-eyes cases."""
    user = UserFactory(username=f"{slug}.head2.test")
    membership_add(cert=certs[slug], user=user, role="head", actor=None)
    return user


WORK_AND_VIEW = {"view_advisory", "work_advisory"}
VIEW = {"view_advisory"}


# --- every step by every persona ------------------------------------------------------------

def _draft(certs, member, tlp="TLP:AMBER"):
    return advisory_create(actor=member(AUTHOR, "handler"), cert=certs[AUTHOR],
                           content=content(tlp=tlp, audience_ids=[certs["banking"].pk]))


def _in_review(certs, member):
    advisory = _draft(certs, member)
    advisory_submit(actor=member(AUTHOR, "handler"), advisory=advisory)
    return advisory


def _published(tlp):
    def build(certs, member):
        advisory = _in_review_with(certs, member, tlp)
        advisory_approve(actor=member(AUTHOR, "head"), advisory=fresh(advisory))
        return advisory
    return build


def _in_review_with(certs, member, tlp):
    advisory = _draft(certs, member, tlp)
    advisory_submit(actor=member(AUTHOR, "handler"), advisory=advisory)
    return advisory


# step -> (what to build, the call, its visible effect when done)
STEPS = {
    "edit draft": (_draft, lambda a, user, certs: advisory_edit(
        actor=user, advisory=a, content=content(title="Patch the gateway today", tlp="TLP:AMBER"))),
    "submit draft": (_draft, lambda a, user, certs: advisory_submit(actor=user, advisory=a)),
    "return in review": (_in_review, lambda a, user, certs: advisory_return(
        actor=user, advisory=a, reason="Name the fixed versions.")),
    "approve in review": (_in_review, lambda a, user, certs: advisory_approve(actor=user, advisory=a)),
    "revise published (CLEAR)": (_published("TLP:CLEAR"), lambda a, user, certs: advisory_revise(
        actor=user, advisory=a)),
    "revise published (AMBER)": (_published("TLP:AMBER"), lambda a, user, certs: advisory_revise(
        actor=user, advisory=a)),
    "withdraw published (CLEAR)": (_published("TLP:CLEAR"), lambda a, user, certs: advisory_withdraw(
        actor=user, advisory=a, reason="Issued in error.")),
    "withdraw published (AMBER)": (_published("TLP:AMBER"), lambda a, user, certs: advisory_withdraw(
        actor=user, advisory=a, reason="Issued in error.")),
}

# The state each step leaves when done: (advisory status, [(revision state, number), ...]).
DONE = {
    "edit draft": ("draft", [("draft", None)]),
    "submit draft": ("in_review", [("in_review", None)]),
    "return in review": ("draft", [("draft", None)]),
    "approve in review": ("published", [("published", 1)]),
    "revise published (CLEAR)": ("published", [("published", 1), ("draft", None)]),
    "revise published (AMBER)": ("published", [("published", 1), ("draft", None)]),
    "withdraw published (CLEAR)": ("withdrawn", [("published", 1), ("published", 2)]),
    "withdraw published (AMBER)": ("withdrawn", [("published", 1), ("published", 2)]),
}


def test_the_expected_table_has_every_outcome():
    outcomes = {expected(step, persona) for step in STEPS for persona in PERSONAS}
    assert outcomes == {OK, REFUSED, NOT_FOUND}
    assert {persona for persona in PERSONAS if expected("approve in review", persona) == OK} == {
        "lahore head"}


@pytest.mark.parametrize("step", STEPS)
def test_each_step_by_each_persona(certs, member, people, step,
                                   django_capture_on_commit_callbacks):
    """Every persona on the same advisory (each call rolled back): who may not see it gets 404,
    who may see it but not act gets ActionNotAllowed; neither changes anything nor queues a task;
    who may act leaves the state of DONE, and a publication queues its distribution."""
    build, call = STEPS[step]
    advisory = build(certs, member)
    before = snapshot(advisory)
    seen = set()
    for persona, user in people.items():
        outcome = expected(step, persona)
        seen.add(outcome)
        who = f"{step} by {persona}"
        with undone():
            current = fresh(advisory)
            with django_capture_on_commit_callbacks() as callbacks:
                if outcome == NOT_FOUND:
                    with pytest.raises(Http404):
                        call(current, user, certs)
                elif outcome == REFUSED:
                    with pytest.raises(ActionNotAllowed):
                        call(current, user, certs)
                else:
                    call(current, user, certs)
            if outcome != OK:
                assert callbacks == [], who
                assert snapshot(advisory) == before, who
                continue
            status, revisions = DONE[step]
            assert fresh(advisory).status == status, who
            assert list(AdvisoryRevision.objects.filter(advisory=advisory).order_by("pk")
                        .values_list("state", "number")) == revisions, who
            # A publication (approval or withdrawal) queues its distribution on commit.
            publishes = step.startswith(("approve", "withdraw"))
            assert len(callbacks) == (1 if publishes else 0), who
        assert snapshot(advisory) == before, who
    assert len(seen) >= 2


def test_creation_by_each_persona(certs, people, clock):
    for persona, user in people.items():
        outcome = expected("create", persona)
        with undone():
            if outcome == REFUSED:
                with pytest.raises(ActionNotAllowed, match="You may not write advisories for LHR-CERT"):
                    advisory_create(actor=user, cert=certs[AUTHOR], content=content())
                assert not Advisory.objects.exists(), persona
                assert not AdvisoryRevision.objects.exists(), persona
                continue
            advisory = advisory_create(actor=user, cert=certs[AUTHOR], content=content())
            revision = advisory.revisions.get()
            assert (advisory.status, revision.state, revision.number) == ("draft", "draft", None)
            assert (revision.author, revision.last_edited_by) == (user, user)
            assert advisory.created_by == user and advisory.created_at == clock.now
            assert advisory.reference == "PK-ADV-2026-0001"
            assert advisory.current_revision is None and advisory.first_published_at is None
            # A draft is the author CERT's alone, whatever its label.
            assert group_grants(advisory) == {AUTHOR: WORK_AND_VIEW}
            assert user_grants(advisory) == {}


def test_a_member_writes_only_for_the_cert_they_belong_to(certs, member):
    with pytest.raises(ActionNotAllowed):
        advisory_create(actor=member("punjab", "head"), cert=certs[AUTHOR], content=content())
    with pytest.raises(ActionNotAllowed):
        advisory_create(actor=member("lahore", "head"), cert=certs["punjab"], content=content())
    assert not Advisory.objects.exists()


# --- the whole life of one advisory ---------------------------------------------------------

def test_draft_review_publish_revise_withdraw(certs, member, clock,
                                              django_capture_on_commit_callbacks):
    handler, analyst, head = member(AUTHOR, "handler"), member(AUTHOR, "analyst"), member(AUTHOR, "head")
    banking = certs["banking"]
    banking_sector = Sector.objects.get(slug="banking")

    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content(
        tlp="TLP:AMBER", audience_ids=[banking.pk], cve_ids=["cve-2026-10101", "CVE-2026-10102"],
        cvss_v3_vector=VALID_CVSS_V3, cvss_v4_vector=VALID_CVSS_V4, cwe_id="CWE-78",
        cwe_name="OS Command Injection", sector_ids=[banking_sector.pk],
        products=[{"vendor": "Example Networks", "product": "EdgeGate VPN", "versions": "< 9.2.1"}]))
    draft = advisory.revisions.get()
    assert draft.cve_ids == ["CVE-2026-10101", "CVE-2026-10102"]
    assert (str(draft.cvss_v3_score), str(draft.cvss_v4_score)) == ("9.8", "9.3")
    assert list(draft.sectors.all()) == [banking_sector]
    # Nothing is for readers yet: no search rows, no audience, only the author CERT's grants.
    assert (cve_rows(advisory), product_rows(advisory)) == ([], [])
    assert list(advisory.audience.all()) == []
    assert group_grants(advisory) == {AUTHOR: WORK_AND_VIEW}

    # The analyst edits, at the version they read.
    advisory_edit(actor=analyst, advisory=advisory, version=advisory.version,
                  content=content(**{**_content_fields(draft), "title": "Patch EdgeGate VPN now"}))
    draft.refresh_from_db()
    assert (draft.title, draft.author, draft.last_edited_by) == ("Patch EdgeGate VPN now", handler,
                                                                 analyst)

    clock.advance(minutes=5)
    advisory_submit(actor=handler, advisory=fresh(advisory))
    draft.refresh_from_db()
    assert (fresh(advisory).status, draft.state, draft.submitted_at) == ("in_review", "in_review",
                                                                         clock.now)

    # The head sends it back with a reason; the handler changes it and submits again.
    advisory_return(actor=head, advisory=fresh(advisory), reason="Say which versions are fixed.")
    draft.refresh_from_db()
    assert (fresh(advisory).status, draft.state) == ("draft", "draft")
    assert draft.returned_reason == "Say which versions are fixed."
    advisory_edit(actor=handler, advisory=fresh(advisory), content=content(
        **{**_content_fields(draft), "remedies": "Upgrade to 9.2.1 or later."}))
    advisory_submit(actor=handler, advisory=fresh(advisory))
    draft.refresh_from_db()
    assert draft.returned_reason == ""

    clock.advance(minutes=30)
    published_at = clock.now
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        advisory_approve(actor=head, advisory=fresh(advisory))
    assert len(callbacks) == 1
    advisory, draft = fresh(advisory), AdvisoryRevision.objects.get(pk=draft.pk)
    assert (advisory.status, advisory.tlp) == ("published", "TLP:AMBER")
    assert (draft.state, draft.number, draft.approved_by, draft.published_at) == (
        "published", 1, head, published_at)
    assert advisory.current_revision == draft
    assert advisory.first_published_at == advisory.last_published_at == published_at
    assert list(advisory.audience.all()) == [banking]
    assert cve_rows(advisory) == ["CVE-2026-10101", "CVE-2026-10102"]
    assert product_rows(advisory) == [("example networks", "edgegate vpn")]
    assert group_grants(advisory) == {AUTHOR: WORK_AND_VIEW, "banking": VIEW}
    assert queued_distributions() == [(DISTRIBUTE_TASK, (draft.pk,))]

    # Revision 2: a draft with the current text; readers keep revision 1 meanwhile.
    clock.advance(days=1)
    second = advisory_revise(actor=handler, advisory=advisory)
    assert (second.state, second.number, second.author, second.title) == (
        "draft", None, handler, "Patch EdgeGate VPN now")
    assert second.change_summary == "" and second.cve_ids == draft.cve_ids
    assert list(second.sectors.all()) == [banking_sector]
    assert fresh(advisory).current_revision == draft
    with pytest.raises(ActionNotAllowed, match="only when no other revision is open"):
        advisory_revise(actor=analyst, advisory=fresh(advisory))
    assert advisory.revisions.count() == 2

    advisory_edit(actor=handler, advisory=fresh(advisory), content=content(
        **{**_content_fields(second), "tlp": "TLP:CLEAR", "audience_ids": [],
           "cve_ids": ["CVE-2026-10101"], "products": [{"vendor": "Example Networks",
                                                         "product": "EdgeGate VPN"},
                                                        {"vendor": "Example Networks",
                                                         "product": "EdgeGate Manager"}],
           "change_summary": "Exploited widely: now public."}))
    advisory_submit(actor=handler, advisory=fresh(advisory))
    with django_capture_on_commit_callbacks(execute=True):
        advisory_approve(actor=head, advisory=fresh(advisory))
    advisory, second = fresh(advisory), AdvisoryRevision.objects.get(pk=second.pk)
    assert (second.state, second.number, second.published_at) == ("published", 2, clock.now)
    assert advisory.current_revision == second
    assert (advisory.first_published_at, advisory.last_published_at) == (published_at, clock.now)
    assert (advisory.tlp, list(advisory.audience.all())) == ("TLP:CLEAR", [])
    assert group_grants(advisory) == {AUTHOR: WORK_AND_VIEW}  # banking's grant is gone
    assert cve_rows(advisory) == ["CVE-2026-10101"]
    assert product_rows(advisory) == [("example networks", "edgegate manager"),
                                      ("example networks", "edgegate vpn")]
    # Revision 1 is kept as it was published.
    first = AdvisoryRevision.objects.get(pk=draft.pk)
    assert (first.state, first.number, first.tlp, first.title) == (
        "published", 1, "TLP:AMBER", "Patch EdgeGate VPN now")
    assert [args for _, args in queued_distributions()] == [(first.pk,), (second.pk,)]

    # A head withdraws it, with a reason that readers see; it stays readable, marked withdrawn.
    clock.advance(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        last = advisory_withdraw(actor=head, advisory=advisory, reason="  Superseded by\n PK-ADV-2026-0009. ")
    advisory = fresh(advisory)
    assert (advisory.status, advisory.withdrawn_at, advisory.current_revision) == (
        "withdrawn", clock.now, last)
    assert (last.state, last.number, last.withdraws, last.approved_by, last.author) == (
        "published", 3, True, head, head)
    assert last.change_summary == "Withdrawn: Superseded by PK-ADV-2026-0009."
    assert last.title == second.title and last.tlp == "TLP:CLEAR"
    assert len(queued_distributions()) == 3
    with pytest.raises(ActionNotAllowed, match="Only a published advisory can be revised"):
        advisory_revise(actor=handler, advisory=advisory)
    with pytest.raises(ActionNotAllowed, match="withdraw a published advisory"):
        advisory_withdraw(actor=head, advisory=advisory, reason="Again.")
    assert advisory.revisions.count() == 3


def _content_fields(revision) -> dict:
    """A stored revision's content as keyword arguments of support.content."""
    return vars(content_of(revision))


# --- four eyes ------------------------------------------------------------------------------

def test_a_head_never_approves_what_they_wrote(certs, member):
    head = member(AUTHOR, "head")
    advisory = advisory_create(actor=head, cert=certs[AUTHOR], content=content())
    advisory_submit(actor=head, advisory=advisory)
    before = snapshot(advisory)

    with pytest.raises(ActionNotAllowed, match="four eyes"):
        advisory_approve(actor=head, advisory=fresh(advisory))
    assert snapshot(advisory) == before

    other = second_head(certs)
    advisory_approve(actor=other, advisory=fresh(advisory))
    revision = AdvisoryRevision.objects.get(advisory=advisory)
    assert (revision.state, revision.author, revision.approved_by) == ("published", head, other)


def test_a_head_who_edited_a_handlers_draft_does_not_approve_it(certs, member):
    handler, head = member(AUTHOR, "handler"), member(AUTHOR, "head")
    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content())
    advisory_edit(actor=head, advisory=advisory, content=content(title="A better title"))
    advisory_submit(actor=handler, advisory=fresh(advisory))
    before = snapshot(advisory)

    with pytest.raises(ActionNotAllowed, match="neither wrote nor edited"):
        advisory_approve(actor=head, advisory=fresh(advisory))
    assert snapshot(advisory) == before

    advisory_approve(actor=second_head(certs), advisory=fresh(advisory))
    assert fresh(advisory).status == "published"


def test_a_head_whose_edit_was_edited_again_still_does_not_approve_it(certs, member):
    """Every editor counts, not only the last: a head's edit followed by a handler's."""
    handler, head = member(AUTHOR, "handler"), member(AUTHOR, "head")
    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content())
    advisory_edit(actor=head, advisory=advisory, content=content(title="A better title"))
    advisory_edit(actor=handler, advisory=fresh(advisory), content=content(title="Best title"))
    advisory_submit(actor=handler, advisory=fresh(advisory))
    revision = AdvisoryRevision.objects.get(advisory=advisory)
    assert revision.editor_ids == [handler.pk, head.pk]

    with pytest.raises(ActionNotAllowed, match="neither wrote nor edited"):
        advisory_approve(actor=head, advisory=fresh(advisory))
    revision.refresh_from_db()
    assert revision.state == "in_review"


def test_the_head_who_started_a_revision_does_not_approve_it(certs, member, make_advisory):
    head = member(AUTHOR, "head")
    advisory = make_advisory(cert=AUTHOR)  # written by the handler, approved by this head
    revision = advisory_revise(actor=head, advisory=advisory)
    advisory_submit(actor=member(AUTHOR, "handler"), advisory=fresh(advisory))

    with pytest.raises(ActionNotAllowed, match="four eyes"):
        advisory_approve(actor=head, advisory=fresh(advisory))
    revision.refresh_from_db()
    assert revision.state == "in_review"


def test_only_a_head_approves_even_when_they_did_not_write_it(certs, member):
    advisory = _in_review(certs, member)
    for role in ("analyst", "liaison"):
        with pytest.raises(ActionNotAllowed):
            advisory_approve(actor=member(AUTHOR, role), advisory=fresh(advisory))
    # A head elsewhere in the tree, even the parent CERT's, never approves (and here cannot see
    # the draft at all).
    for slug in ("punjab", "national"):
        with pytest.raises(Http404):
            advisory_approve(actor=member(slug, "head"), advisory=fresh(advisory))
    assert fresh(advisory).status == "in_review"


def test_approval_checks_the_registry_again(certs, member):
    # Karachi, in the audience when the draft was written, is wound up before the approval.
    handler = member(AUTHOR, "handler")
    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content(
        tlp="TLP:AMBER", audience_ids=[certs["karachi"].pk]))
    advisory_submit(actor=handler, advisory=advisory)
    cert_update(cert=certs["karachi"], actor=None, is_active=False)
    before = snapshot(advisory)

    with pytest.raises(ValidationError) as refused:
        advisory_approve(actor=member(AUTHOR, "head"), advisory=fresh(advisory))
    assert "audience_ids" in refused.value.message_dict
    assert snapshot(advisory) == before


def test_approval_checks_the_named_readers_again(certs, member):
    reader = member("telecom", "analyst")
    handler = member(AUTHOR, "handler")
    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content(
        tlp="TLP:RED", reader_ids=[reader.pk]))
    advisory_submit(actor=handler, advisory=advisory)
    reader.is_active = False
    reader.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as refused:
        advisory_approve(actor=member(AUTHOR, "head"), advisory=fresh(advisory))
    assert refused.value.message_dict["reader_ids"] == [
        "Named readers must be active members of an active CERT."]
    assert fresh(advisory).status == "in_review"


# --- review steps in the wrong state --------------------------------------------------------

def test_a_reviewer_returns_a_revision_only_with_a_reason(certs, member):
    advisory = _in_review(certs, member)
    before = snapshot(advisory)
    for reason in ("", "   \n "):
        with pytest.raises(ValidationError) as refused:
            advisory_return(actor=member(AUTHOR, "head"), advisory=fresh(advisory), reason=reason)
        assert refused.value.message_dict == {"reason": ["Say what the author should change."]}
    assert snapshot(advisory) == before


def test_the_author_recalls_a_revision_without_a_reason(certs, member):
    advisory = _in_review(certs, member)
    advisory_return(actor=member(AUTHOR, "handler"), advisory=fresh(advisory))
    assert fresh(advisory).status == "draft"
    assert open_revision(advisory).state == "draft"


def test_steps_out_of_order_are_refused(certs, member):
    handler, head = member(AUTHOR, "handler"), member(AUTHOR, "head")
    draft = _draft(certs, member)
    before = snapshot(draft)
    with pytest.raises(ActionNotAllowed, match="Only a revision in review can be sent back"):
        advisory_return(actor=head, advisory=fresh(draft), reason="Why?")
    with pytest.raises(ActionNotAllowed, match="four eyes"):
        advisory_approve(actor=head, advisory=fresh(draft))  # never submitted
    with pytest.raises(ActionNotAllowed, match="Only a published advisory can be revised"):
        advisory_revise(actor=handler, advisory=fresh(draft))
    with pytest.raises(ActionNotAllowed, match="withdraw a published advisory"):
        advisory_withdraw(actor=head, advisory=fresh(draft), reason="Never mind.")
    assert snapshot(draft) == before

    advisory_submit(actor=handler, advisory=fresh(draft))
    in_review = snapshot(draft)
    with pytest.raises(ActionNotAllowed, match="Only a draft can be sent for review"):
        advisory_submit(actor=handler, advisory=fresh(draft))
    with pytest.raises(ActionNotAllowed, match="Only a draft can be edited"):
        advisory_edit(actor=handler, advisory=fresh(draft), content=content(title="Sneaky"))
    assert snapshot(draft) == in_review


# --- revise and withdraw --------------------------------------------------------------------

def test_a_published_advisory_has_one_open_revision_at_a_time(certs, member, make_advisory):
    advisory = make_advisory(cert=AUTHOR)
    advisory_revise(actor=member(AUTHOR, "analyst"), advisory=advisory)
    before = snapshot(advisory)
    for role in ("head", "handler", "analyst"):
        with pytest.raises(ActionNotAllowed):
            advisory_revise(actor=member(AUTHOR, role), advisory=fresh(advisory))
    assert snapshot(advisory) == before


def test_a_revision_in_review_keeps_the_advisory_published(certs, member, make_advisory):
    advisory = make_advisory(cert=AUTHOR)
    first = advisory.current_revision
    advisory_revise(actor=member(AUTHOR, "handler"), advisory=advisory)
    advisory_submit(actor=member(AUTHOR, "handler"), advisory=fresh(advisory))
    assert (fresh(advisory).status, fresh(advisory).current_revision) == ("published", first)
    advisory_return(actor=member(AUTHOR, "head"), advisory=fresh(advisory), reason="Not yet.")
    assert (fresh(advisory).status, fresh(advisory).current_revision) == ("published", first)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 481])
def test_a_withdrawal_needs_a_reason_readers_can_read(make_advisory, member, reason):
    advisory = make_advisory(cert=AUTHOR)
    before = snapshot(advisory)
    with pytest.raises(ValidationError) as refused:
        advisory_withdraw(actor=member(AUTHOR, "head"), advisory=advisory, reason=reason)
    assert list(refused.value.message_dict) == ["reason"]
    assert snapshot(advisory) == before


def test_withdrawing_discards_an_open_revision(make_advisory, member):
    advisory = make_advisory(cert=AUTHOR)
    draft = advisory_revise(actor=member(AUTHOR, "handler"), advisory=advisory)
    advisory_withdraw(actor=member(AUTHOR, "head"), advisory=fresh(advisory), reason="Obsolete.")
    assert not AdvisoryRevision.objects.filter(pk=draft.pk).exists()
    assert list(advisory.revisions.order_by("number").values_list("number", "withdraws")) == [
        (1, False), (2, True)]


# --- version conflicts ----------------------------------------------------------------------

def _bump_elsewhere(advisory):
    """Someone else changes the advisory meanwhile: its version moves on."""
    Advisory.objects.filter(pk=advisory.pk).update(version=advisory.version + 1)


CONFLICTING = {
    "edit": (_draft, lambda a, member, v: advisory_edit(
        actor=member(AUTHOR, "analyst"), advisory=a, content=content(title="Mine"), version=v)),
    "submit": (_draft, lambda a, member, v: advisory_submit(
        actor=member(AUTHOR, "analyst"), advisory=a, version=v)),
    "return": (_in_review, lambda a, member, v: advisory_return(
        actor=member(AUTHOR, "head"), advisory=a, reason="Needs work.", version=v)),
    "approve": (_in_review, lambda a, member, v: advisory_approve(
        actor=member(AUTHOR, "head"), advisory=a, version=v)),
    "revise": (_published("TLP:CLEAR"), lambda a, member, v: advisory_revise(
        actor=member(AUTHOR, "analyst"), advisory=a, version=v)),
    "withdraw": (_published("TLP:CLEAR"), lambda a, member, v: advisory_withdraw(
        actor=member(AUTHOR, "head"), advisory=a, reason="Wrong.", version=v)),
}


@pytest.mark.parametrize("step", CONFLICTING)
def test_a_stale_version_is_a_conflict_and_writes_nothing(certs, member, step,
                                                          django_capture_on_commit_callbacks):
    build, call = CONFLICTING[step]
    advisory = build(certs, member)
    if step == "withdraw":  # a draft revision the withdrawal would discard
        advisory_revise(actor=member(AUTHOR, "handler"), advisory=fresh(advisory))
    read = fresh(advisory)
    _bump_elsewhere(read)
    before = snapshot(advisory)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(
            AdvisoryConflictError, match="changed by someone else since you opened it"):
        call(read, member, read.version)
    assert snapshot(advisory) == before
    assert callbacks == []

    # At the version it has now, the same step goes through.
    call(fresh(advisory), member, fresh(advisory).version)
    assert fresh(advisory).version == read.version + 2


# --- immutability ---------------------------------------------------------------------------

def test_a_published_revision_is_never_saved_again(make_advisory):
    revision = make_advisory(cert=AUTHOR).current_revision
    revision.title = "Quietly changed"
    with pytest.raises(PublishedRevisionError, match="start a new revision"):
        revision.save()
    with pytest.raises(PublishedRevisionError):
        revision.save(update_fields=["title"])
    assert AdvisoryRevision.objects.get(pk=revision.pk).title == "Patch the example gateway now"


def test_a_copy_read_before_publication_cannot_change_it_either(certs, member):
    advisory = _in_review(certs, member)
    stale = open_revision(advisory)
    advisory_approve(actor=member(AUTHOR, "head"), advisory=fresh(advisory))
    # Revision 2 replaces it as the current one, which no longer protects it from deletion.
    advisory_revise(actor=member(AUTHOR, "handler"), advisory=fresh(advisory))
    advisory_submit(actor=member(AUTHOR, "handler"), advisory=fresh(advisory))
    advisory_approve(actor=member(AUTHOR, "head"), advisory=fresh(advisory))
    assert stale.state == "in_review"  # as it was read
    stale.summary = "Nothing to see here."
    with pytest.raises(PublishedRevisionError):
        stale.save()
    with pytest.raises(PublishedRevisionError):
        stale.delete()
    stored = AdvisoryRevision.objects.get(pk=stale.pk)
    assert (stored.state, stored.summary) == ("published", content().summary)


def test_a_published_revision_is_never_deleted(make_advisory, member):
    advisory = make_advisory(cert=AUTHOR)
    first = advisory.current_revision
    advisory_revise(actor=member(AUTHOR, "handler"), advisory=advisory)
    advisory_submit(actor=member(AUTHOR, "handler"), advisory=fresh(advisory))
    advisory_approve(actor=member(AUTHOR, "head"), advisory=fresh(advisory))
    first = AdvisoryRevision.objects.get(pk=first.pk)  # no longer current: nothing protects it but the rule
    with pytest.raises(PublishedRevisionError, match="never deleted"):
        first.delete()
    assert AdvisoryRevision.objects.filter(pk=first.pk).exists()


def test_editing_after_publication_is_refused_with_the_way_forward(make_advisory, member):
    advisory = make_advisory(cert=AUTHOR)
    before = snapshot(advisory)
    with pytest.raises(ActionNotAllowed) as refused:
        advisory_edit(actor=member(AUTHOR, "head"), advisory=advisory,
                      content=content(title="Changed after the fact"))
    assert str(refused.value) == (
        "Only a draft can be edited, by a head, handler or analyst of the author CERT. "
        "A published revision never changes: start a new revision.")
    assert snapshot(advisory) == before


# --- drawn from an incident -----------------------------------------------------------------

def test_an_advisory_is_drawn_from_an_incident_its_author_works(certs, member, make_advisory):
    handler = member(AUTHOR, "handler")
    incident = make_incident(owner_cert=certs[AUTHOR], actor=handler, tlp="TLP:GREEN")
    advisory = make_advisory(cert=AUTHOR, source_incident=incident, tlp="TLP:GREEN")
    assert advisory.source_incident == incident
    assert list(incident.advisories.all()) == [advisory]

    elsewhere = make_incident(owner_cert=certs["sindh"], tlp="TLP:GREEN")
    with pytest.raises(ActionNotAllowed, match=f"{elsewhere.reference} is not one"):
        advisory_create(actor=handler, cert=certs[AUTHOR], content=content(tlp="TLP:GREEN"),
                        source_incident=elsewhere)
    assert Advisory.objects.count() == 1


def test_time_moves_references_into_the_new_year(certs, member, clock):
    first = _draft(certs, member)
    clock.advance(days=365)
    second = _draft(certs, member)
    assert (first.reference, second.reference) == ("PK-ADV-2026-0001", "PK-ADV-2027-0001")
    assert second.created_at - first.created_at == timedelta(days=365)
