"""Who may read an advisory (DOMAIN.md §2 "TLP 2.0 in the portal", issue 10 point 3): every TLP
label against every persona, through every entrance of advisories.access.

The rule is retyped below from DOMAIN.md, never read from advisories.access or
advisories.grants: CLEAR is public; GREEN goes to every CERT member; AMBER and AMBER+STRICT to
the audience CERTs chosen by the author (plus the author CERT); RED to named users only (plus the
author CERT, the originator). Drafts are the author CERT's alone.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from advisories import access
from advisories.models import Advisory
from advisories.services import (
    advisory_approve,
    advisory_create,
    advisory_edit,
    advisory_revise,
    advisory_submit,
    advisory_withdraw,
    content_of,
)
from organizations.services import cert_update, membership_add
from tests.advisories.support import content
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TLPS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
AUTHOR, AUDIENCE = "lahore", "banking"

# Persona -> (how it stands to the advisories, its CERT and role, or None for the public).
PUBLIC, AUTHOR_CERT, AUDIENCE_CERT, ANCESTOR, UNRELATED, NAMED, COLLEAGUE = (
    "public", "author CERT", "audience CERT", "ancestor of the author", "unrelated CERT",
    "named reader", "member of the named reader's CERT, not named")
PERSONAS = {
    "anonymous": (PUBLIC, None),
    "outsider": (PUBLIC, None),  # portal staff without membership
    "lahore head": (AUTHOR_CERT, (AUTHOR, "head")),
    "lahore handler": (AUTHOR_CERT, (AUTHOR, "handler")),
    "lahore analyst": (AUTHOR_CERT, (AUTHOR, "analyst")),
    "lahore liaison": (AUTHOR_CERT, (AUTHOR, "liaison")),
    "banking analyst": (AUDIENCE_CERT, (AUDIENCE, "analyst")),
    "banking liaison": (AUDIENCE_CERT, (AUDIENCE, "liaison")),
    "punjab head": (ANCESTOR, ("punjab", "head")),  # the author CERT's parent
    "national head": (ANCESTOR, ("national", "head")),  # the root
    "sindh handler": (UNRELATED, ("sindh", "handler")),
    "telecom analyst": (NAMED, ("telecom", "analyst")),
    "telecom handler": (COLLEAGUE, ("telecom", "handler")),
}


def may_read_expected(relation: str, tlp: str) -> bool:
    """DOMAIN.md §2, for a published (or withdrawn) advisory."""
    if tlp == "TLP:CLEAR":
        return True
    if relation == PUBLIC:
        return False
    if tlp == "TLP:GREEN":
        return True
    if tlp in ("TLP:AMBER", "TLP:AMBER+STRICT"):
        return relation in (AUTHOR_CERT, AUDIENCE_CERT)
    return relation in (AUTHOR_CERT, NAMED)  # TLP:RED


@pytest.fixture
def people(member, outsider):
    users = {}
    for persona, (_, target) in PERSONAS.items():
        if persona == "anonymous":
            users[persona] = AnonymousUser()
        elif persona == "outsider":
            users[persona] = outsider
        else:
            users[persona] = member(*target)
    return users


@pytest.fixture
def world(certs, member, people):
    """name -> advisory of the Lahore CERT. Each is written for the same people (audience: the
    banking CERT; named reader: the telecom analyst): the services keep the audience only for
    AMBER labels and the readers only for RED, which the matrix checks too."""
    handler, head = member(AUTHOR, "handler"), member(AUTHOR, "head")
    made = {}

    def write(tlp, *, submit=True, approve=True):
        advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content(
            tlp=tlp, audience_ids=[certs[AUDIENCE].pk], reader_ids=[people["telecom analyst"].pk]))
        if submit:
            advisory_submit(actor=handler, advisory=advisory)
        if approve:
            advisory_approve(actor=head, advisory=Advisory.objects.get(pk=advisory.pk))
        return Advisory.objects.get(pk=advisory.pk)

    for tlp in TLPS:
        made[f"published {tlp}"] = write(tlp)
    withdrawn = write("TLP:AMBER")
    advisory_withdraw(actor=head, advisory=withdrawn, reason="Superseded.")
    made["withdrawn TLP:AMBER"] = Advisory.objects.get(pk=withdrawn.pk)
    # Never published: nobody outside the author CERT sees these, whatever the label.
    made["draft TLP:CLEAR"] = write("TLP:CLEAR", submit=False, approve=False)
    made["in review TLP:CLEAR"] = write("TLP:CLEAR", approve=False)
    made["draft TLP:GREEN"] = write("TLP:GREEN", submit=False, approve=False)
    return made


def _label(name: str) -> str:
    return name.rsplit(" ", 1)[1]


def _published(name: str) -> bool:
    return name.startswith(("published", "withdrawn"))


def expected_readable(world, persona) -> set[str]:
    relation = PERSONAS[persona][0]
    return {name for name in world if _published(name)
            and may_read_expected(relation, _label(name))}


def expected_visible(world, persona) -> set[str]:
    """The staff list: what they may read, and their own CERT's drafts; nothing for the public."""
    relation = PERSONAS[persona][0]
    if relation == PUBLIC:
        return set()
    drafts = {name for name in world if not _published(name)} if relation == AUTHOR_CERT else set()
    return expected_readable(world, persona) | drafts


def names(world, advisories) -> set[str]:
    by_pk = {advisory.pk: name for name, advisory in world.items()}
    return {by_pk.get(advisory.pk, f"unexpected {advisory.reference}") for advisory in advisories}


def test_the_matrix_is_not_trivial(world):
    for persona in PERSONAS:
        readable = expected_readable(world, persona)
        assert "published TLP:CLEAR" in readable
        assert len(readable) < len(world)
    assert {persona for persona in PERSONAS
            if "published TLP:RED" in expected_readable(world, persona)} == {
        "lahore head", "lahore handler", "lahore analyst", "lahore liaison", "telecom analyst"}


def test_may_read(world, people):
    wrong = [f"{persona} on {name}: expected {name in expected_readable(world, persona)}"
             for persona, user in people.items() for name, advisory in world.items()
             if access.may_read(user, advisory) != (name in expected_readable(world, persona))]
    assert wrong == []


def test_readable_advisories(world, people):
    for persona, user in people.items():
        assert names(world, access.readable_advisories(user)) == expected_readable(world, persona), persona


def test_visible_advisories(world, people):
    for persona, user in people.items():
        assert names(world, access.visible_advisories(user)) == expected_visible(world, persona), persona


def test_get_visible_advisory_answers_404_for_forbidden_and_missing_alike(world, people):
    for persona, user in people.items():
        with pytest.raises(Http404) as missing:
            access.get_visible_advisory(user, public_id=uuid.uuid4())
        visible = expected_visible(world, persona)
        for name, advisory in world.items():
            if name in visible:
                assert access.get_visible_advisory(user, reference=advisory.reference) == advisory
                continue
            with pytest.raises(Http404) as forbidden:
                access.get_visible_advisory(user, reference=advisory.reference)
            assert str(forbidden.value) == str(missing.value), (persona, name)


def test_get_public_advisory_serves_published_clear_only(world):
    public = {"published TLP:CLEAR"}
    for name, advisory in world.items():
        if name in public:
            assert access.get_public_advisory(public_id=advisory.public_id) == advisory
        else:
            with pytest.raises(Http404):
                access.get_public_advisory(public_id=advisory.public_id)
    assert names(world, access.public_advisories()) == public


def test_readers_of(world, people):
    everybody = {user.pk for user in people.values() if user.is_authenticated}
    # Nobody but the personas exists, so the recipient lists are exactly the expected personas.
    assert set(get_user_model().objects.values_list("pk", flat=True)) == everybody
    for name, advisory in world.items():
        expected = ({people[persona].pk for persona in PERSONAS
                     if PERSONAS[persona][0] != PUBLIC
                     and may_read_expected(PERSONAS[persona][0], _label(name))}
                    if _published(name) else set())
        assert set(access.readers_of(advisory).values_list("pk", flat=True)) == expected, name


def test_the_named_reader_reads_red_by_a_user_grant_not_their_cert(world, people):
    red = world["published TLP:RED"]
    assert list(red.readers.all()) == [people["telecom analyst"]]
    assert list(red.audience.all()) == []  # the banking CERT named in the draft is dropped
    amber = world["published TLP:AMBER"]
    assert list(amber.readers.all()) == []
    assert [cert.slug for cert in amber.audience.all()] == [AUDIENCE]


# --- people who are not (or no longer) members --------------------------------------------------

def test_a_deactivated_user_sees_what_the_public_sees_and_no_staff_list(world, member):
    head = member(AUTHOR, "head")
    head.is_active = False
    head.save(update_fields=["is_active"])
    head = get_user_model().objects.get(pk=head.pk)

    assert names(world, access.readable_advisories(head)) == {"published TLP:CLEAR"}
    assert list(access.visible_advisories(head)) == []
    for name, advisory in world.items():
        assert access.may_read(head, advisory) == (name == "published TLP:CLEAR"), name
        with pytest.raises(Http404):
            access.get_visible_advisory(head, pk=advisory.pk)
        assert head not in access.readers_of(advisory)


def test_a_superuser_without_membership_sees_only_public_advisories(world):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    assert names(world, access.readable_advisories(root)) == {"published TLP:CLEAR"}
    assert list(access.visible_advisories(root)) == []
    for advisory in world.values():
        assert root not in access.readers_of(advisory)


def test_members_of_a_deactivated_cert_lose_what_it_gave_them(certs, member, make_advisory):
    # Karachi is in the audience of an AMBER advisory, and its analyst a named reader of a RED one.
    analyst = member("karachi", "analyst")
    amber = make_advisory(cert=AUTHOR, tlp="TLP:AMBER", audience_ids=[certs["karachi"].pk])
    red = make_advisory(cert=AUTHOR, tlp="TLP:RED", reader_ids=[analyst.pk])
    green = make_advisory(cert=AUTHOR, tlp="TLP:GREEN")
    assert {access.may_read(analyst, advisory) for advisory in (amber, red, green)} == {True}

    cert_update(cert=certs["karachi"], actor=None, is_active=False)
    analyst = get_user_model().objects.get(pk=analyst.pk)

    for advisory in (amber, red, green):
        assert not access.may_read(analyst, Advisory.objects.get(pk=advisory.pk))
        assert analyst not in access.readers_of(advisory)
    assert list(access.readable_advisories(analyst)) == []
    assert list(access.visible_advisories(analyst)) == []


def test_a_deactivated_author_cert_keeps_its_public_advisories_public(certs, member, make_advisory):
    head = member("rawalpindi", "head")
    clear = make_advisory(cert="rawalpindi", tlp="TLP:CLEAR")
    draft = make_advisory(cert="rawalpindi", tlp="TLP:CLEAR", published=False)
    cert_update(cert=certs["rawalpindi"], actor=None, is_active=False)
    head = get_user_model().objects.get(pk=head.pk)

    assert list(access.visible_advisories(head)) == []  # not even its own drafts
    with pytest.raises(Http404):
        access.get_visible_advisory(head, pk=draft.pk)
    assert access.get_public_advisory(pk=clear.pk) == clear


def test_a_role_counts_only_in_its_own_cert(certs, member, make_advisory):
    # A head of the banking CERT who is a liaison in Lahore reads Lahore's drafts but acts there as
    # a liaison.
    user = member(AUDIENCE, "head")
    membership_add(cert=certs[AUTHOR], user=user, role="liaison", actor=None)
    user = get_user_model().objects.get(pk=user.pk)
    draft = make_advisory(cert=AUTHOR, published=False, tlp="TLP:RED",
                          reader_ids=[member("telecom", "analyst").pk])
    assert access.get_visible_advisory(user, pk=draft.pk) == draft
    assert access.allowed_actions(user, draft, access.open_revision(draft)) == {
        access.Action.SEE_DRAFTS}


def test_visibility_follows_the_current_revision(certs, member, make_advisory):
    # Revision 2 moves the audience from banking to telecom: banking loses it at once.
    banker, telco = member(AUDIENCE, "analyst"), member("telecom", "analyst")
    advisory = make_advisory(cert=AUTHOR, tlp="TLP:AMBER", audience_ids=[certs[AUDIENCE].pk])
    handler = member(AUTHOR, "handler")
    revision = advisory_revise(actor=handler, advisory=advisory)
    changed = content_of(revision)
    changed.audience_ids = [certs["telecom"].pk]
    advisory_edit(actor=handler, advisory=Advisory.objects.get(pk=advisory.pk), content=changed)
    assert access.may_read(banker, advisory) and not access.may_read(telco, advisory)  # meanwhile

    advisory_submit(actor=handler, advisory=Advisory.objects.get(pk=advisory.pk))
    advisory_approve(actor=member(AUTHOR, "head"), advisory=Advisory.objects.get(pk=advisory.pk))
    advisory = Advisory.objects.get(pk=advisory.pk)
    assert not access.may_read(get_user_model().objects.get(pk=banker.pk), advisory)
    assert access.may_read(get_user_model().objects.get(pk=telco.pk), advisory)
    assert set(access.readers_of(advisory)) == {
        member(AUTHOR, "handler"), member(AUTHOR, "head"), telco}


# --- queries ----------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["anonymous", "lahore liaison", "banking analyst",
                                     "telecom analyst", "outsider"])
def test_the_selectors_are_one_query_each(world, people, persona, django_assert_num_queries):
    user = people[persona]
    access.member_group_roles(user)  # one query per request, cached on the user
    with django_assert_num_queries(1):
        readable = list(access.readable_advisories(user))
    assert len(readable) == len(expected_readable(world, persona))
    # The public's staff list is empty without asking the database.
    with django_assert_num_queries(0 if PERSONAS[persona][0] == PUBLIC else 1):
        visible = list(access.visible_advisories(user))
    assert len(visible) == len(expected_visible(world, persona))
