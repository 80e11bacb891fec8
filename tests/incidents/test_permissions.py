"""The permission matrix of DOMAIN.md §2: who may see and do what with an incident.

Personas are a member in each role of a national, government, provincial, local, CII, sectoral and
organizational CERT, and of CERTs unrelated to the incident. Incidents are built through the
services so that each persona's CERT stands in each relation to one of them (owner, earlier owner,
ancestor, shared with, none), under every TLP label. What each persona should be allowed is
computed here from DOMAIN.md's tables, retyped below, and never from incidents.access or
incidents.grants: a wrong rule in the code must not be able to agree with itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from incidents.access import (
    Action,
    ActionNotAllowed,
    actions_for_list,
    allowed_actions,
    get_visible_incident,
    visible_incidents,
)
from incidents.grants import derive_grants, sync_grants
from incidents.models import (
    Attachment,
    Comment,
    Incident,
    IncidentGroupObjectPermission,
    IncidentShare,
    IncidentUserObjectPermission,
    Observable,
    OwnershipPeriod,
    TimelineEvent,
)
from incidents.services import (
    incident_add_observable,
    incident_assign,
    incident_attach,
    incident_change_severity,
    incident_change_tlp,
    incident_comment,
    incident_escalate,
    incident_refer,
    incident_share,
    incident_transition,
)
from organizations.services import cert_update, membership_add
from tests.factories import CertFactory, UserFactory, make_incident

# --- DOMAIN.md's tables, retyped ------------------------------------------------------------

TLPS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
ROLES = ("head", "handler", "analyst", "liaison")

OWNER, EARLIER_OWNER, ANCESTOR, SHARED = "owner", "earlier owner", "ancestor", "shared with"

NO = frozenset()
V = frozenset({"view"})
VC = frozenset({"view", "comment"})
VCW = frozenset({"view", "comment", "work"})

# §2 "Access of a CERT to an incident", one column per TLP label. Any other CERT: none (404).
ACCESS = {
    #               CLEAR GREEN AMBER AMBER+STRICT RED
    OWNER:         (VCW,  VCW,  VCW,  VCW,         VCW),
    EARLIER_OWNER: (VC,   VC,   VC,   VC,          VC),
    ANCESTOR:      (V,    V,    V,    NO,          NO),
    SHARED:        (V,    V,    V,    NO,          NO),
}

# The access the CERT needs for each action: everything beyond reading and commenting is working
# the incident, which only its current owner does.
NEEDS = {
    Action.VIEW: "view",
    Action.COMMENT: "comment",
    Action.ADD_OBSERVABLE: "work",
    Action.ATTACH: "work",
    Action.TRANSITION: "work",
    Action.ASSIGN: "work",
    Action.CHANGE_SEVERITY: "work",
    Action.RAISE_TLP: "work",
    Action.LOWER_TLP: "work",
    Action.ESCALATE: "work",
    Action.REFER: "work",
    Action.SHARE: "work",
    Action.REOPEN_FINAL: "work",
    Action.MERGE: "work",
    Action.MANAGE_TASKS: "work",
    Action.LINK: "work",
}

# §1 "People and roles", with §2 (only a head lowers a TLP) and §3 (only a head re-opens a closed
# or rejected incident). Read as a ladder: a handler may also do what an analyst may.
LIAISON_MAY = {Action.VIEW, Action.COMMENT}
ANALYST_MAY = LIAISON_MAY | {Action.ADD_OBSERVABLE, Action.ATTACH}
ANALYST_MAY |= {Action.MANAGE_TASKS, Action.LINK}  # issue 9: the checklist and related incidents
HANDLER_MAY = ANALYST_MAY | {Action.TRANSITION, Action.ASSIGN, Action.CHANGE_SEVERITY,
                             Action.RAISE_TLP, Action.ESCALATE, Action.REFER, Action.SHARE}
HANDLER_MAY |= {Action.MERGE}  # issue 9: merging a duplicate works it
HEAD_MAY = HANDLER_MAY | {Action.LOWER_TLP, Action.REOPEN_FINAL}
ROLE_MAY = {"head": HEAD_MAY, "handler": HANDLER_MAY, "analyst": ANALYST_MAY,
            "liaison": LIAISON_MAY}

CODENAME = {"view": "view_incident", "comment": "comment_incident", "work": "work_incident"}


def access_of(relations, tlp: str) -> frozenset[str]:
    """The access a CERT standing in `relations` to an incident labelled `tlp` has."""
    return frozenset().union(*(ACCESS[relation][TLPS.index(tlp)] for relation in relations))


def expected_actions(relations, tlp: str, role: str) -> set[Action]:
    access = access_of(relations, tlp)
    return {action for action in ROLE_MAY[role] if NEEDS[action] in access}


def expected_grant_rows(relations_by_slug: dict, tlp: str) -> dict[str, set[str]]:
    rows = {slug: {CODENAME[a] for a in access_of(relations, tlp)}
            for slug, relations in relations_by_slug.items()}
    return {slug: codenames for slug, codenames in rows.items() if codenames}


def grant_rows(incident) -> dict[str, set[str]]:
    """The group object permissions of an incident: CERT slug -> codenames."""
    rows: dict[str, set[str]] = {}
    for slug, codename in (IncidentGroupObjectPermission.objects.filter(content_object=incident)
                           .values_list("group__cert__slug", "permission__codename")):
        rows.setdefault(slug, set()).add(codename)
    return rows


VIEW_ROW = {"view_incident"}
VC_ROWS = {"view_incident", "comment_incident"}
VCW_ROWS = {"view_incident", "comment_incident", "work_incident"}


def test_the_tables_above_cover_every_action_the_code_knows():
    # A new action in incidents.access must be placed in these tables before this file passes.
    assert set(NEEDS) == set(Action)
    assert HEAD_MAY == set(Action)


# --- Personas and incidents -----------------------------------------------------------------

# The persona CERTs: one of each kind, plus CERTs that stand in no relation to the incidents.
PERSONA_CERTS = {
    "national": "national",
    "government": "government",
    "punjab": "provincial",
    "lahore": "local",
    "cii": "CII",
    "banking": "sectoral",
    "example-bank-soc": "organizational, a bank's own SOC below banking",
    "rawalpindi": "local, sibling of lahore (unrelated)",
    "sindh": "provincial (unrelated)",
    "telecom": "sectoral (unrelated)",
}


@pytest.fixture
def personas(member) -> dict[tuple[str, str], object]:
    """(cert slug, role) -> a member of that CERT in that role, for every persona CERT."""
    return {(slug, role): member(slug, role) for slug in PERSONA_CERTS for role in ROLES}


@dataclass(frozen=True)
class Scenario:
    name: str
    # Persona CERT slug -> its relations to the incident; every other persona CERT has none.
    relations: dict[str, frozenset[str]]
    build: Callable  # (certs, member, tlp) -> Incident, through the services


def _owned_by_lahore(certs, member, tlp):
    return make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"), tlp=tlp)


def _escalated_to_punjab(certs, member, tlp):
    incident = _owned_by_lahore(certs, member, tlp)
    return incident_escalate(incident=incident, actor=member("lahore", "handler"))


def _escalated_past_punjab_to_national(certs, member, tlp):
    incident = _owned_by_lahore(certs, member, tlp)
    return incident_escalate(incident=incident, actor=member("lahore", "handler"),
                             to_cert=certs["national"])


def _handed_back_to_lahore(certs, member, tlp):
    incident = _escalated_to_punjab(certs, member, tlp)
    return incident_refer(incident=incident, actor=member("punjab", "handler"),
                          to_cert=certs["lahore"])


def _shared_with_banking(certs, member, tlp):
    # Only CLEAR, GREEN and AMBER incidents can be shared; share while AMBER, then let the head
    # relabel it, which is how a share comes to exist under a stricter label.
    incident = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"),
                             tlp="TLP:AMBER")
    incident_share(incident=incident, actor=member("lahore", "handler"), cert=certs["banking"])
    if tlp != "TLP:AMBER":
        incident_change_tlp(incident=incident, actor=member("lahore", "head"), tlp=tlp)
    return incident


def _referred_by_national_to_banking(certs, member, tlp):
    incident = make_incident(owner_cert=certs["national"], actor=member("national", "handler"),
                             tlp=tlp)
    return incident_refer(incident=incident, actor=member("national", "handler"),
                          to_cert=certs["banking"])


def _escalated_by_a_bank_to_its_sector(certs, member, tlp):
    soc = member("example-bank-soc", "handler")
    incident = make_incident(owner_cert=certs["example-bank-soc"], actor=soc, tlp=tlp)
    return incident_escalate(incident=incident, actor=soc)


def _relations(**by_slug):
    return {slug.replace("_", "-"): frozenset(relations) for slug, relations in by_slug.items()}


SCENARIOS = [
    Scenario("owned by lahore", _relations(
        lahore={OWNER}, punjab={ANCESTOR}, government={ANCESTOR}, national={ANCESTOR},
    ), _owned_by_lahore),
    Scenario("escalated from lahore to punjab", _relations(
        lahore={EARLIER_OWNER}, punjab={OWNER}, government={ANCESTOR}, national={ANCESTOR},
    ), _escalated_to_punjab),
    # Escalation may skip levels; the CERTs skipped are then below the owner and see nothing.
    Scenario("escalated from lahore straight to national", _relations(
        lahore={EARLIER_OWNER}, national={OWNER},
    ), _escalated_past_punjab_to_national),
    Scenario("escalated to punjab and referred back to lahore", _relations(
        lahore={OWNER, EARLIER_OWNER}, punjab={EARLIER_OWNER, ANCESTOR}, government={ANCESTOR},
        national={ANCESTOR},
    ), _handed_back_to_lahore),
    Scenario("owned by lahore, shared with banking", _relations(
        lahore={OWNER}, punjab={ANCESTOR}, government={ANCESTOR}, national={ANCESTOR},
        banking={SHARED},
    ), _shared_with_banking),
    Scenario("referred by national to banking", _relations(
        national={EARLIER_OWNER, ANCESTOR}, cii={ANCESTOR}, banking={OWNER},
    ), _referred_by_national_to_banking),
    Scenario("escalated from example-bank-soc to banking", _relations(
        example_bank_soc={EARLIER_OWNER}, banking={OWNER}, cii={ANCESTOR}, national={ANCESTOR},
    ), _escalated_by_a_bank_to_its_sector),
]
SCENARIO_BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}


# --- The matrix -------------------------------------------------------------------------------

@pytest.fixture
def world(certs, member, personas) -> dict[tuple[str, str], Incident]:
    """(scenario name, TLP) -> its incident, for every scenario under every label."""
    return {(scenario.name, tlp): scenario.build(certs, member, tlp)
            for scenario in SCENARIOS for tlp in TLPS}


def _relations_in(name: str, slug: str) -> frozenset[str]:
    return SCENARIO_BY_NAME[name].relations.get(slug, frozenset())


def _expected_visible(world, slug: str) -> set[int]:
    return {incident.pk for (name, tlp), incident in world.items()
            if "view" in access_of(_relations_in(name, slug), tlp)}


def _difference(expected: set, actual: set) -> str:
    return (f"missing {sorted(map(str, expected - actual))}, "
            f"unexpected {sorted(map(str, actual - expected))}")


def test_the_scenarios_give_every_related_cert_visible_and_invisible_incidents():
    # Guards the matrix against passing on a world where a CERT sees everything or nothing.
    cells = [(scenario.name, tlp) for scenario in SCENARIOS for tlp in TLPS]
    for slug in ("national", "government", "punjab", "lahore", "cii", "banking",
                 "example-bank-soc"):
        seen = [cell for cell in cells if "view" in access_of(_relations_in(cell[0], slug),
                                                              cell[1])]
        assert 0 < len(seen) < len(cells), slug
    for slug in ("rawalpindi", "sindh", "telecom"):
        assert not any(slug in scenario.relations for scenario in SCENARIOS), slug


def test_every_persona_may_do_exactly_what_the_tables_say(world, personas):
    wrong = []
    for (name, tlp), incident in world.items():
        assert incident.tlp == tlp
        for (slug, role), user in personas.items():
            expected = expected_actions(_relations_in(name, slug), tlp, role)
            actual = allowed_actions(user, incident)
            if actual != expected:
                wrong.append(f"{name} / {tlp} / {slug} {role} "
                             f"({', '.join(sorted(_relations_in(name, slug))) or 'no relation'}): "
                             f"{_difference(expected, actual)}")
    assert wrong == []


def test_actions_for_a_page_agree_with_the_tables(world, personas):
    page = list(world.values())
    wrong = []
    for (slug, role), user in personas.items():
        expected = {incident.pk: expected_actions(_relations_in(name, slug), tlp, role)
                    for (name, tlp), incident in world.items()}
        actual = actions_for_list(user, page)
        wrong.extend(f"{slug} {role} on {incident.reference}: "
                     f"{_difference(expected[incident.pk], actual[incident.pk])}"
                     for incident in page if actual[incident.pk] != expected[incident.pk])
    assert wrong == []


def test_grant_rows_are_exactly_those_of_the_table(world):
    wrong = []
    for (name, tlp), incident in world.items():
        expected = expected_grant_rows(SCENARIO_BY_NAME[name].relations, tlp)
        actual = grant_rows(incident)
        if actual != expected:
            wrong.append(f"{name} / {tlp}: expected {expected}, got {actual}")
    assert wrong == []
    assert not IncidentUserObjectPermission.objects.exists()  # grants go to CERT groups only


def test_the_list_selector_returns_exactly_the_visible_set(world, personas):
    names = {incident.pk: f"{name} / {tlp}" for (name, tlp), incident in world.items()}
    wrong = []
    for (slug, role), user in personas.items():
        expected = _expected_visible(world, slug)
        actual = set(visible_incidents(user).values_list("pk", flat=True))
        if actual != expected:
            wrong.append(f"{slug} {role}: missing {sorted(names[pk] for pk in expected - actual)},"
                         f" extra {sorted(names[pk] for pk in actual - expected)}")
    assert wrong == []


def test_get_visible_incident_answers_404_for_forbidden_and_missing_alike(world, personas):
    # Seeing does not depend on the role (the list test above checks every role), so the most and
    # the least senior role of each CERT stand for all four here.
    for (slug, role), user in personas.items():
        if role not in ("head", "liaison"):
            continue
        visible = _expected_visible(world, slug)
        with pytest.raises(Http404) as missing:
            get_visible_incident(user, public_id=uuid.uuid4())
        for incident in world.values():
            if incident.pk in visible:
                assert get_visible_incident(user, public_id=incident.public_id) == incident
                continue
            with pytest.raises(Http404) as forbidden:
                get_visible_incident(user, public_id=incident.public_id)
            assert str(forbidden.value) == str(missing.value), (slug, role)


# --- People who are not (only) members -------------------------------------------------------

@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def amber_and_clear(certs):
    """An AMBER and a CLEAR incident of the Lahore CERT."""
    return [make_incident(owner_cert=certs["lahore"], tlp=tlp) for tlp in ("TLP:AMBER", "TLP:CLEAR")]


@pytest.mark.parametrize("who", ["outsider", "superuser", "anonymous"])
def test_staff_and_superusers_without_membership_see_nothing(request, amber_and_clear, who):
    user = AnonymousUser() if who == "anonymous" else request.getfixturevalue(who)

    assert list(visible_incidents(user)) == []
    for incident in amber_and_clear:
        assert allowed_actions(user, incident) == set()
        with pytest.raises(Http404):
            get_visible_incident(user, pk=incident.pk)
    assert actions_for_list(user, amber_and_clear) == {i.pk: set() for i in amber_and_clear}
    if who != "anonymous":
        with pytest.raises(Http404):
            incident_comment(incident=amber_and_clear[1], actor=user, body="Hello?")


def test_a_superuser_gets_only_what_their_membership_gives(certs, superuser, amber_and_clear):
    membership_add(cert=certs["lahore"], user=superuser, role="liaison", actor=None)

    assert set(visible_incidents(superuser)) == set(amber_and_clear)
    for incident in amber_and_clear:
        assert allowed_actions(superuser, incident) == LIAISON_MAY
    with pytest.raises(ActionNotAllowed):
        incident_transition(incident=amber_and_clear[0], actor=superuser, to_status="acknowledged")


def test_a_deactivated_user_sees_nothing(member, amber_and_clear):
    user = member("lahore", "head")
    user.is_active = False
    user.save(update_fields=["is_active"])
    user = get_user_model().objects.get(pk=user.pk)

    assert list(visible_incidents(user)) == []
    assert allowed_actions(user, amber_and_clear[0]) == set()


def test_a_role_counts_only_in_the_cert_it_was_given_in(certs, member):
    # Head of the banking CERT and liaison of the Lahore CERT: on a Lahore incident the person is
    # a liaison, however senior they are elsewhere.
    user = member("banking", "head")
    membership_add(cert=certs["lahore"], user=user, role="liaison", actor=None)
    user = get_user_model().objects.get(pk=user.pk)
    lahores = make_incident(owner_cert=certs["lahore"])
    banks = make_incident(owner_cert=certs["banking"])
    incident_share(incident=lahores, actor=None, cert=certs["banking"])

    assert allowed_actions(user, lahores) == LIAISON_MAY
    assert allowed_actions(user, banks) == HEAD_MAY
    assert actions_for_list(user, [lahores, banks]) == {lahores.pk: LIAISON_MAY,
                                                        banks.pk: HEAD_MAY}
    with pytest.raises(ActionNotAllowed):
        incident_transition(incident=lahores, actor=user, to_status="acknowledged")


def test_members_of_a_deactivated_cert_lose_its_incidents_in_the_list_too(certs, member):
    # allowed_actions ignores memberships of inactive CERTs; the list selector must agree, or a
    # person who also belongs to an active CERT is listed (and get_visible_incident returns)
    # incidents they are told they may not view.
    # Here: Multan escalated its only incident to Punjab (so owns nothing open) and was then
    # wound up; its handler also works as a liaison in Lahore, which has no part in the incident.
    multan = CertFactory(kind="local", parent=certs["punjab"], region="PK-PB", slug="multan",
                         name="Multan District CERT")
    user = member("lahore", "liaison")
    membership_add(cert=multan, user=user, role="handler", actor=None)
    incident = make_incident(owner_cert=multan, actor=user)
    incident_escalate(incident=incident, actor=user)
    cert_update(cert=multan, actor=None, is_active=False)
    user = get_user_model().objects.get(pk=user.pk)

    assert allowed_actions(user, incident) == set()
    assert incident.pk not in set(visible_incidents(user).values_list("pk", flat=True))
    with pytest.raises(Http404):
        get_visible_incident(user, pk=incident.pk)


# --- Grants as rows ---------------------------------------------------------------------------

def test_grant_rows_follow_create_escalate_share_and_tlp_changes(certs, member):
    handler, head = member("lahore", "handler"), member("lahore", "head")

    incident = make_incident(owner_cert=certs["lahore"], actor=handler, tlp="TLP:GREEN")
    assert grant_rows(incident) == {"lahore": VCW_ROWS, "punjab": VIEW_ROW,
                                    "government": VIEW_ROW, "national": VIEW_ROW}

    incident_escalate(incident=incident, actor=handler)
    assert grant_rows(incident) == {"lahore": VC_ROWS, "punjab": VCW_ROWS,
                                    "government": VIEW_ROW, "national": VIEW_ROW}

    incident_share(incident=incident, actor=member("punjab", "handler"), cert=certs["telecom"])
    assert grant_rows(incident) == {"lahore": VC_ROWS, "punjab": VCW_ROWS,
                                    "government": VIEW_ROW, "national": VIEW_ROW,
                                    "telecom": VIEW_ROW}

    incident_change_tlp(incident=incident, actor=member("punjab", "handler"), tlp="TLP:RED")
    assert grant_rows(incident) == {"lahore": VC_ROWS, "punjab": VCW_ROWS}

    incident_change_tlp(incident=incident, actor=member("punjab", "head"), tlp="TLP:AMBER")
    assert grant_rows(incident) == {"lahore": VC_ROWS, "punjab": VCW_ROWS,
                                    "government": VIEW_ROW, "national": VIEW_ROW,
                                    "telecom": VIEW_ROW}
    # The Lahore head, an earlier owner now, reads and comments like anyone there.
    assert allowed_actions(head, incident) == LIAISON_MAY


# --- derive_grants: the pure rule, on plain ids ------------------------------------------------

# A tree path root -> owner, as ids: 1 national, 2 government, 3 punjab, 4 lahore (the owner).
PATH = [1, 2, 3, 4]


def _as_codenames(access) -> frozenset[str]:
    return frozenset(CODENAME[a] for a in access)


@pytest.mark.parametrize("tlp", TLPS)
def test_derive_grants_owner_and_ancestors(tlp):
    column = TLPS.index(tlp)
    ancestors = _as_codenames(ACCESS[ANCESTOR][column])
    expected = {1: ancestors, 2: ancestors, 3: ancestors} if ancestors else {}
    expected[4] = _as_codenames(ACCESS[OWNER][column])

    assert derive_grants(owner_path_ids=PATH, earlier_owner_ids=[], shared_cert_ids=[],
                         tlp=tlp) == expected


@pytest.mark.parametrize("tlp", TLPS)
def test_derive_grants_the_root_owns_alone(tlp):
    assert derive_grants(owner_path_ids=[1], earlier_owner_ids=(), shared_cert_ids=(),
                         tlp=tlp) == {1: _as_codenames(VCW)}


@pytest.mark.parametrize("tlp", TLPS)
def test_derive_grants_earlier_owners(tlp):
    grants = derive_grants(owner_path_ids=[1], earlier_owner_ids=[7, 8], shared_cert_ids=[],
                           tlp=tlp)
    earlier = _as_codenames(ACCESS[EARLIER_OWNER][TLPS.index(tlp)])
    assert grants == {1: _as_codenames(VCW), 7: earlier, 8: earlier}


@pytest.mark.parametrize("tlp", TLPS)
def test_derive_grants_shares(tlp):
    grants = derive_grants(owner_path_ids=[1], earlier_owner_ids=[], shared_cert_ids=[9],
                           tlp=tlp)
    shared = _as_codenames(ACCESS[SHARED][TLPS.index(tlp)])
    assert grants == ({1: _as_codenames(VCW), 9: shared} if shared else {1: _as_codenames(VCW)})


@pytest.mark.parametrize("tlp", TLPS)
def test_derive_grants_relations_add_up(tlp):
    # 3 is an earlier owner and an ancestor (it referred the incident down); 4 owned it before
    # and owns it again; 2 is an ancestor that was also shared with.
    grants = derive_grants(owner_path_ids=PATH, earlier_owner_ids=[3, 4], shared_cert_ids=[2],
                           tlp=tlp)
    expected = {
        1: _as_codenames(access_of({ANCESTOR}, tlp)),
        2: _as_codenames(access_of({ANCESTOR, SHARED}, tlp)),
        3: _as_codenames(access_of({ANCESTOR, EARLIER_OWNER}, tlp)),
        4: _as_codenames(access_of({OWNER, EARLIER_OWNER}, tlp)),
    }
    assert grants == {cert: codenames for cert, codenames in expected.items() if codenames}


def test_derive_grants_fails_closed_on_an_unknown_label():
    with pytest.raises(ValidationError):
        derive_grants(owner_path_ids=PATH, earlier_owner_ids=[], shared_cert_ids=[9],
                      tlp="TLP:WHITE")


# --- sync_grants: idempotent, and repairs -----------------------------------------------------

@pytest.fixture
def synced(certs, member):
    """A Lahore incident escalated to Punjab and shared with telecom, its grants in place."""
    incident = make_incident(owner_cert=certs["lahore"])
    incident_escalate(incident=incident, actor=None)
    incident_share(incident=incident, actor=None, cert=certs["telecom"])
    return incident


SYNCED_ROWS = {"lahore": VC_ROWS, "punjab": VCW_ROWS, "government": VIEW_ROW,
               "national": VIEW_ROW, "telecom": VIEW_ROW}


def test_sync_grants_is_idempotent(synced):
    assert grant_rows(synced) == SYNCED_ROWS
    assert sync_grants([synced.pk]) == (0, 0)
    assert sync_grants([synced.pk]) == (0, 0)
    assert sync_grants([]) == (0, 0)
    assert grant_rows(synced) == SYNCED_ROWS


def test_sync_grants_restores_a_deleted_row(synced):
    IncidentGroupObjectPermission.objects.filter(
        content_object=synced, group__cert__slug="punjab", permission__codename="work_incident",
    ).delete()
    assert grant_rows(synced)["punjab"] == VC_ROWS

    assert sync_grants([synced.pk]) == (1, 0)
    assert grant_rows(synced) == SYNCED_ROWS
    assert sync_grants([synced.pk]) == (0, 0)


def test_sync_grants_removes_an_extra_row(certs, member, synced):
    IncidentGroupObjectPermission.objects.create(
        content_object=synced, group=certs["sindh"].group,
        permission=Permission.objects.get(content_type__app_label="incidents",
                                          codename="work_incident"))
    sindh_handler = member("sindh", "handler")
    assert Action.TRANSITION in allowed_actions(sindh_handler, synced)

    assert sync_grants([synced.pk]) == (0, 1)
    assert grant_rows(synced) == SYNCED_ROWS
    assert allowed_actions(sindh_handler, synced) == set()


def test_sync_grants_follows_a_change_made_behind_the_services_back(synced):
    Incident.objects.filter(pk=synced.pk).update(tlp="TLP:RED")

    assert sync_grants([synced.pk]) == (0, 3)  # government, national and telecom lose view
    assert grant_rows(synced) == {"lahore": VC_ROWS, "punjab": VCW_ROWS}


def test_sync_grants_repairs_many_incidents_in_one_call(certs, synced):
    other = make_incident(owner_cert=certs["banking"])
    IncidentGroupObjectPermission.objects.filter(content_object__in=[synced, other]).delete()

    assert sync_grants([synced.pk, other.pk]) == (8 + 5, 0)
    assert grant_rows(synced) == SYNCED_ROWS
    assert grant_rows(other) == {"banking": VCW_ROWS, "cii": VIEW_ROW, "national": VIEW_ROW}


# --- Query counts -----------------------------------------------------------------------------

def _bulk_copies(template: Incident, count: int, tag: str) -> list[int]:
    """Write `count` copies of `template` in a few statements, without incident_create (too slow
    for a thousand); the caller applies their grants with sync_grants, the code path of the
    management command that re-derives all grants."""
    Incident.objects.bulk_create([
        Incident(reference=f"BULK-{tag}-{n:06d}", title=template.title,
                 classification=template.classification, incident_type=template.incident_type,
                 severity=template.severity, tlp=template.tlp, owner_cert_id=template.owner_cert_id,
                 reported_at=template.reported_at, owner_since=template.owner_since,
                 ack_due_at=template.ack_due_at, resolve_due_at=template.resolve_due_at)
        for n in range(count)
    ], batch_size=500)
    return list(Incident.objects.filter(reference__startswith=f"BULK-{tag}-")
                .values_list("pk", flat=True))


def _fresh(user):
    # A new user object: nothing cached from an earlier call, so each count includes the
    # lookup of the user's memberships.
    return get_user_model().objects.get(pk=user.pk)


def _queries(function) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        result = function()
    return len(captured.captured_queries), result


def test_visible_incidents_costs_the_same_for_10_and_1000_incidents(certs, member):
    viewer = member("national", "analyst")  # sees Lahore's AMBER incidents through oversight
    template = make_incident(owner_cert=certs["lahore"])
    for _ in range(9):
        make_incident(owner_cert=certs["lahore"])

    list(visible_incidents(viewer))  # warms the process-wide content type cache
    fresh = _fresh(viewer)
    few_queries, few = _queries(lambda: list(visible_incidents(fresh)))
    assert len(few) == 10

    ids = _bulk_copies(template, 1000, "list")
    assert sync_grants(ids) == (1000 * 6, 0)  # lahore view, comment, work; three ancestors view
    fresh = _fresh(viewer)
    many_queries, many = _queries(lambda: list(visible_incidents(fresh)))
    assert len(many) == 1010

    assert many_queries == few_queries <= 2  # the viewer's memberships, the incidents


def test_actions_for_list_costs_the_same_for_a_page_of_10_and_of_100(certs, member):
    handler = member("lahore", "handler")
    _bulk_copies(make_incident(owner_cert=certs["lahore"]), 120, "page")
    assert sync_grants(Incident.objects.values_list("pk", flat=True)) == (120 * 6, 0)
    everything = list(visible_incidents(handler))

    fresh = _fresh(handler)
    small_queries, small = _queries(lambda: actions_for_list(fresh, everything[:10]))
    fresh = _fresh(handler)
    large_queries, large = _queries(lambda: actions_for_list(fresh, everything[:100]))

    assert len(small) == 10 and len(large) == 100
    assert set(map(frozenset, large.values())) == {frozenset(HANDLER_MAY)}
    assert large_queries == small_queries <= 2


def test_sync_grants_costs_the_same_for_10_and_1000_synced_incidents(certs):
    ids = _bulk_copies(make_incident(owner_cert=certs["lahore"]), 1000, "sync")
    assert sync_grants(ids) == (1000 * 6, 0)

    few_queries, few = _queries(lambda: sync_grants(ids[:10]))
    many_queries, many = _queries(lambda: sync_grants(ids))

    assert few == many == (0, 0)
    assert many_queries == few_queries


# --- The services refuse what the tables forbid -----------------------------------------------

def snapshot(incident) -> dict:
    """Everything a refused call could have changed."""
    return {
        "row": Incident.objects.filter(pk=incident.pk).values().get(),
        "events": list(TimelineEvent.objects.filter(incident=incident).values_list("pk", flat=True)),
        "comments": Comment.objects.filter(incident=incident).count(),
        "observables": Observable.objects.filter(incident=incident).count(),
        "attachments": Attachment.objects.filter(incident=incident).count(),
        "shares": set(IncidentShare.objects.filter(incident=incident).values_list("cert_id",
                                                                                  flat=True)),
        "ownerships": list(OwnershipPeriod.objects.filter(incident=incident).values()),
        "grants": grant_rows(incident),
    }


@contextmanager
def undone():
    """Run the block in a savepoint and roll it back, so each persona meets the same incident."""

    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            yield
            raise Undo
    except Undo:
        pass


# Each service call and the action it needs, with arguments that are valid for the incident of
# `handed_over` below, so that only the actor's rights decide.
SERVICE_CALLS = {
    "acknowledge": (Action.TRANSITION, lambda i, actor, certs, member: incident_transition(
        incident=i, actor=actor, to_status="acknowledged")),
    "assign": (Action.ASSIGN, lambda i, actor, certs, member: incident_assign(
        incident=i, actor=actor, assignee=member("punjab", "analyst"))),
    "change severity": (Action.CHANGE_SEVERITY, lambda i, actor, certs, member:
                        incident_change_severity(incident=i, actor=actor, severity=4)),
    "raise TLP": (Action.RAISE_TLP, lambda i, actor, certs, member: incident_change_tlp(
        incident=i, actor=actor, tlp="TLP:AMBER+STRICT")),
    "lower TLP": (Action.LOWER_TLP, lambda i, actor, certs, member: incident_change_tlp(
        incident=i, actor=actor, tlp="TLP:GREEN")),
    "comment": (Action.COMMENT, lambda i, actor, certs, member: incident_comment(
        incident=i, actor=actor, body="Seen on our side too.")),
    "add observable": (Action.ADD_OBSERVABLE, lambda i, actor, certs, member:
                       incident_add_observable(incident=i, actor=actor, type="ipv4",
                                               value="198.51.100.7")),
    "attach": (Action.ATTACH, lambda i, actor, certs, member: incident_attach(
        incident=i, actor=actor, uploaded_file=SimpleUploadedFile("log.txt", b"GET /login\n"))),
    "escalate": (Action.ESCALATE, lambda i, actor, certs, member: incident_escalate(
        incident=i, actor=actor)),
    "refer": (Action.REFER, lambda i, actor, certs, member: incident_refer(
        incident=i, actor=actor, to_cert=certs["rawalpindi"])),
    "share": (Action.SHARE, lambda i, actor, certs, member: incident_share(
        incident=i, actor=actor, cert=certs["sindh"])),
}

# The incident of `handed_over`, and how each persona CERT stands to it.
HANDED_OVER = _relations(lahore={EARLIER_OWNER}, punjab={OWNER}, government={ANCESTOR},
                         national={ANCESTOR}, banking={SHARED})


@pytest.fixture
def handed_over(certs, member):
    """AMBER, opened by Lahore, escalated to Punjab, shared by Punjab with banking."""
    incident = _escalated_to_punjab(certs, member, "TLP:AMBER")
    incident_share(incident=incident, actor=member("punjab", "handler"), cert=certs["banking"])
    return incident


@pytest.mark.parametrize("call_name", SERVICE_CALLS)
def test_each_service_call_by_each_persona(certs, member, personas, handed_over, media, call_name):
    """Every persona, on the same incident (each call is rolled back): who may not see it gets
    404 (unrelated CERTs, a CERT below the owner), who may see it but not act gets
    ActionNotAllowed, and neither changes anything; who may act leaves one timeline event."""
    action, call = SERVICE_CALLS[call_name]
    before = snapshot(handed_over)
    outcomes = {"done": 0, "404": 0, "not allowed": 0}
    for (slug, role), user in personas.items():
        allowed = expected_actions(HANDED_OVER.get(slug, ()), "TLP:AMBER", role)
        who = f"{call_name} by {slug} {role}"
        with undone():
            incident = Incident.objects.get(pk=handed_over.pk)
            if Action.VIEW not in allowed:
                with pytest.raises(Http404):
                    call(incident, user, certs, member)
                outcomes["404"] += 1
            elif action not in allowed:
                with pytest.raises(ActionNotAllowed):
                    call(incident, user, certs, member)
                outcomes["not allowed"] += 1
            else:
                call(incident, user, certs, member)
                new_events = TimelineEvent.objects.filter(incident=incident).exclude(
                    pk__in=before["events"])
                assert [event.actor for event in new_events] == [user], who
                outcomes["done"] += 1
                continue
            assert snapshot(handed_over) == before, who
    assert snapshot(handed_over) == before
    assert all(outcomes.values()), outcomes  # every call met each of the three outcomes


def test_a_liaison_of_the_owner_cannot_transition_and_nothing_changes(certs, member):
    incident = make_incident(owner_cert=certs["lahore"])
    before = snapshot(incident)

    with pytest.raises(ActionNotAllowed):
        incident_transition(incident=incident, actor=member("lahore", "liaison"),
                            to_status="acknowledged")

    incident.refresh_from_db()
    assert incident.status == "new"
    assert snapshot(incident) == before


def test_an_analyst_may_add_an_observable_but_not_assign(certs, member):
    analyst = member("lahore", "analyst")
    incident = make_incident(owner_cert=certs["lahore"])

    incident_add_observable(incident=incident, actor=analyst, type="domain", value="evil.example")
    assert list(incident.observables.values_list("value", "added_by")) == [
        ("evil.example", analyst.pk)]
    before = snapshot(incident)
    with pytest.raises(ActionNotAllowed):
        incident_assign(incident=Incident.objects.get(pk=incident.pk), actor=analyst,
                        assignee=analyst)
    assert snapshot(incident) == before


def test_a_handler_may_raise_the_tlp_but_only_a_head_may_lower_it(certs, member):
    incident = make_incident(owner_cert=certs["lahore"], tlp="TLP:AMBER")

    incident_change_tlp(incident=incident, actor=member("lahore", "handler"), tlp="TLP:RED")
    incident.refresh_from_db()
    assert incident.tlp == "TLP:RED"
    assert grant_rows(incident) == {"lahore": VCW_ROWS}

    before = snapshot(incident)
    with pytest.raises(ActionNotAllowed):
        incident_change_tlp(incident=incident, actor=member("lahore", "handler"), tlp="TLP:AMBER")
    assert snapshot(incident) == before

    incident_change_tlp(incident=incident, actor=member("lahore", "head"), tlp="TLP:GREEN")
    incident.refresh_from_db()
    assert incident.tlp == "TLP:GREEN"
    assert grant_rows(incident)["national"] == VIEW_ROW
    assert list(incident.events.filter(kind="tlp").values_list("old_value", "new_value")) == [
        ("TLP:AMBER", "TLP:RED"), ("TLP:RED", "TLP:GREEN")]


@pytest.mark.parametrize(("final", "reopened"), [("closed", "in_progress"), ("rejected", "new")])
def test_only_a_head_may_reopen_a_final_decision(certs, member, final, reopened):
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"])
    path = {"closed": ["acknowledged", "resolved", "closed"], "rejected": ["rejected"]}[final]
    for status in path:
        incident_transition(incident=incident, actor=handler, to_status=status)

    before = snapshot(incident)
    with pytest.raises(ActionNotAllowed):
        incident_transition(incident=incident, actor=handler, to_status=reopened)
    assert snapshot(incident) == before

    incident_transition(incident=incident, actor=member("lahore", "head"), to_status=reopened)
    incident.refresh_from_db()
    assert incident.status == reopened


def test_an_earlier_owner_may_comment_but_not_transition(certs, member):
    handler = member("lahore", "handler")
    incident = _escalated_to_punjab(certs, member, "TLP:RED")

    comment = incident_comment(incident=incident, actor=handler, body="We saw it first.")
    assert comment.author == handler
    before = snapshot(incident)
    with pytest.raises(ActionNotAllowed):
        incident_transition(incident=incident, actor=handler, to_status="acknowledged")
    assert snapshot(incident) == before


def test_an_ancestor_may_view_but_not_comment(certs, member):
    head = member("punjab", "head")
    incident = make_incident(owner_cert=certs["lahore"], tlp="TLP:AMBER")
    assert get_visible_incident(head, pk=incident.pk) == incident
    before = snapshot(incident)

    with pytest.raises(ActionNotAllowed):
        incident_comment(incident=incident, actor=head, body="Oversight remark.")
    assert snapshot(incident) == before


def test_an_ancestor_does_not_even_see_an_amber_strict_incident(certs, member):
    head = member("punjab", "head")
    incident = make_incident(owner_cert=certs["lahore"], tlp="TLP:AMBER+STRICT")
    before = snapshot(incident)

    with pytest.raises(Http404):
        get_visible_incident(head, pk=incident.pk)
    with pytest.raises(Http404):
        incident_comment(incident=incident, actor=head, body="Oversight remark.")
    assert snapshot(incident) == before


# Arguments that are invalid for the incident: to someone who may not see it, the reply must
# still be the 404 of an incident that does not exist, not a validation message that reveals its
# status, owner, label or shares (DOMAIN.md §2). Only calls whose validation looks at the incident
# are listed; an empty comment or a bad severity reveals nothing.
REVEALING_CALLS = {
    "transition to a status not allowed next": lambda i, actor, certs: incident_transition(
        incident=i, actor=actor, to_status="closed"),
    "assign to a non-member": lambda i, actor, certs: incident_assign(
        incident=i, actor=actor, assignee=actor),
    "set the label it already has": lambda i, actor, certs: incident_change_tlp(
        incident=i, actor=actor, tlp="TLP:AMBER"),
    "escalate sideways": lambda i, actor, certs: incident_escalate(
        incident=i, actor=actor, to_cert=certs["sindh"]),
    "refer sideways": lambda i, actor, certs: incident_refer(
        incident=i, actor=actor, to_cert=certs["sindh"]),
    "share with the owner": lambda i, actor, certs: incident_share(
        incident=i, actor=actor, cert=certs["lahore"]),
}


@pytest.mark.parametrize("call_name", REVEALING_CALLS)
def test_services_answer_404_before_validating_for_who_may_not_see(certs, member, call_name):
    incident = make_incident(owner_cert=certs["lahore"], tlp="TLP:AMBER")
    before = snapshot(incident)

    with pytest.raises(Http404):
        REVEALING_CALLS[call_name](incident, member("sindh", "handler"), certs)
    assert snapshot(incident) == before
