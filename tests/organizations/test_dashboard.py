"""The registry in the staff dashboard (issue 9, item 7): the tree with its incident counts, CERT
profiles, member management by heads, and the registry health report, each for the personas who
may and may not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident, Status
from organizations.access import registry_access
from organizations.models import Membership
from organizations.selectors import subtree_totals
from organizations.services import membership_add, membership_change_role, membership_remove
from tests.dashboard import conftest as dashboard_fixtures
from tests.factories import UserFactory, make_incident
from tests.incidents.support import bulk_incidents

pytestmark = pytest.mark.django_db

# The personas and the two-factor client of the dashboard's tests (tests/dashboard/conftest.py).
certs = dashboard_fixtures.certs
clock = dashboard_fixtures.clock
member = dashboard_fixtures.member
outsider = dashboard_fixtures.outsider
staff_client = dashboard_fixtures.staff_client

TREE = "/dashboard/registry/"
HEALTH = "/dashboard/registry/health/"


def profile(slug: str) -> str:
    return f"/dashboard/registry/{slug}/"


def members_page(slug: str) -> str:
    return f"/dashboard/registry/{slug}/members/"


def numbers(response) -> dict[str, tuple[int, int] | None]:
    """{CERT slug: (open, overdue), or None where the page shows no numbers} of the tree page."""
    found = {}

    def walk(nodes):
        for node in nodes:
            found[node.cert.slug] = (node.open, node.overdue) if node.counted else None
            walk(node.children)

    walk(response.context["nodes"])
    return found


def text(response) -> str:
    return response.content.decode()


def is_member(user, cert) -> bool:
    return Membership.objects.filter(user=user, cert=cert).exists()


def in_group(user, cert) -> bool:
    return Group.objects.filter(pk=cert.group_id, user=user).exists()


# --- the tree and its counts ---------------------------------------------------------------------


@pytest.fixture
def workload(certs, clock):
    """Open incidents across the tree, of every TLP, some overdue, plus closed ones (not counted).

    At T0: Lahore AMBER and RED, Karachi AMBER+STRICT, Banking RED (all new: their acknowledgement
    deadlines, 24 hours for Medium, pass below). 25 hours later: Punjab CLEAR and Example Bank SOC
    GREEN (new, not overdue), and a closed Lahore incident (never counted)."""
    made = {
        "lahore_amber": make_incident(owner_cert=certs["lahore"], tlp="TLP:AMBER"),
        "lahore_red": make_incident(owner_cert=certs["lahore"], tlp="TLP:RED"),
        "karachi_strict": make_incident(owner_cert=certs["karachi"], tlp="TLP:AMBER+STRICT"),
        "banking_red": make_incident(owner_cert=certs["banking"], tlp="TLP:RED"),
    }
    clock.advance(hours=25)
    made["punjab_clear"] = make_incident(owner_cert=certs["punjab"], tlp="TLP:CLEAR")
    made["soc_green"] = make_incident(owner_cert=certs["example-bank-soc"], tlp="TLP:GREEN")
    closed = make_incident(owner_cert=certs["lahore"], tlp="TLP:AMBER")
    Incident.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    made["lahore_closed"] = closed
    return made


def test_a_national_member_sees_every_count_summed_up_the_tree_whatever_the_tlp(
        member, staff_client, workload):
    response = staff_client(member("national", "analyst")).get(TREE)
    assert response.status_code == 200
    seen = numbers(response)
    assert seen["lahore"] == (2, 2)            # AMBER and RED; the closed one is not counted
    assert seen["punjab"] == (3, 2)            # its own CLEAR one (not overdue) and Lahore's two
    assert seen["karachi"] == (1, 1) and seen["sindh"] == (1, 1)
    assert seen["government"] == (4, 3)
    assert seen["example-bank-soc"] == (1, 0)
    assert seen["banking"] == (2, 1) and seen["cii"] == (2, 1)
    assert seen["national"] == (6, 4)
    assert seen["rawalpindi"] == (0, 0)
    # Counts flow up, details do not: no reference or title of an incident on the page.
    page = text(response)
    assert all(incident.reference not in page for incident in workload.values())
    assert "Phishing campaign" not in page
    # A count opens the queue filtered by that owner.
    lahore = workload["lahore_amber"].owner_cert_id
    assert f"/dashboard/?tab=all&amp;owner={lahore}" in page
    assert f"/dashboard/?tab=all&amp;owner={lahore}&amp;overdue=1" in page
    assert "4 overdue" in page


def test_a_member_sees_the_counts_of_their_own_subtree_only(member, staff_client, workload):
    seen = numbers(staff_client(member("lahore", "liaison")).get(TREE))
    assert seen["lahore"] == (2, 2)            # RED counted too, for its own CERT
    assert seen["punjab"] is None and seen["government"] is None and seen["national"] is None
    assert seen["karachi"] is None and seen["rawalpindi"] is None

    seen = numbers(staff_client(member("punjab", "handler")).get(TREE))
    assert seen["punjab"] == (3, 2) and seen["lahore"] == (2, 2) and seen["rawalpindi"] == (0, 0)
    assert seen["sindh"] is None and seen["karachi"] is None and seen["government"] is None

    # Banking oversees the bank's SOC: its RED incident and the SOC's GREEN one.
    seen = numbers(staff_client(member("banking", "head")).get(TREE))
    assert seen["banking"] == (2, 1) and seen["example-bank-soc"] == (1, 0)
    assert seen["cii"] is None and seen["telecom"] is None and seen["lahore"] is None


def test_hidden_counts_are_not_on_the_page(member, staff_client, workload, certs):
    page = text(staff_client(member("sindh", "handler")).get(TREE))
    assert f"owner={certs['lahore'].pk}" not in page
    assert f"owner={certs['sindh'].pk}" in page
    assert "Lahore" in page                    # the name and kind are public
    assert HEALTH not in page                  # the health report is for heads


def test_heads_find_the_health_report_from_the_tree(member, staff_client):
    assert HEALTH in text(staff_client(member("karachi", "head")).get(TREE))


def test_a_member_of_two_certs_sees_both_subtrees(member, staff_client, workload, certs):
    user = member("lahore", "handler")
    membership_add(cert=certs["karachi"], user=user, role="analyst", actor=None)
    seen = numbers(staff_client(user).get(TREE))
    assert seen["lahore"] == (2, 2) and seen["karachi"] == (1, 1)
    assert seen["sindh"] is None and seen["punjab"] is None


def test_the_tree_needs_a_signed_in_member(outsider, staff_client, client):
    assert client.get(TREE).status_code == 302
    refused = staff_client(outsider).get(TREE)
    assert refused.status_code == 403 and "not a member of any active CERT" in text(refused)


def test_subtree_totals_add_each_number_to_every_cert_above():
    assert subtree_totals([("/1/2/5/", 3), ("/1/2/", 1), ("/1/7/", 2)]) == {1: 6, 2: 4, 5: 3, 7: 2}
    assert subtree_totals([]) == {}


def test_the_tree_costs_the_same_queries_at_10_and_1000_incidents(
        member, staff_client, certs, django_assert_num_queries):
    client = staff_client(member("national", "handler"))
    client.get(TREE)  # warm: permission ids, content types
    now = timezone.now()
    bulk_incidents(certs["lahore"], 10, tag="a", ack_due=now - timedelta(hours=1),
                   resolve_due=now + timedelta(days=3), reported=now - timedelta(days=1))
    with CaptureQueriesContext(connection) as at_10:
        small = client.get(TREE)
    assert numbers(small)["national"] == (10, 10)
    # The frame's (session, user, device, memberships, header) and the page's own: the member's
    # registry access, the tree, and the two GROUP BY counts.
    assert len(at_10) <= FRAME_QUERIES + 4
    assert sum("GROUP BY" in query["sql"] for query in at_10.captured_queries) == 2

    bulk_incidents(certs["karachi"], 990, tag="b", ack_due=now + timedelta(hours=1),
                   resolve_due=now + timedelta(days=3), reported=now - timedelta(days=1))
    with django_assert_num_queries(len(at_10)):
        large = client.get(TREE)
    assert numbers(large)["national"] == (1000, 10)
    assert numbers(large)["sindh"] == (990, 0)


# What every dashboard page costs before its own work (cert_portal.staff and the header), at most.
FRAME_QUERIES = 6


# --- profile pages -------------------------------------------------------------------------------


def test_a_profile_shows_the_public_fields_counts_and_members_to_a_member(
        member, staff_client, workload, certs):
    head = member("lahore", "head")
    handler = member("lahore", "handler")
    response = staff_client(handler).get(profile("lahore"))
    assert response.status_code == 200
    page = text(response)
    assert certs["lahore"].name in page and certs["punjab"].name in page   # parent link
    assert response.context["counts"] == {"own_open": 2, "own_overdue": 2, "open": 2, "overdue": 2}
    assert {row.membership.user for row in response.context["members"]} == {head, handler}
    assert head.get_username() in page and "Head" in page
    # Staffing gaps are for heads.
    assert response.context.get("findings") is None
    assert "Registry health" not in page


def test_a_head_above_sees_members_and_gaps_a_handler_above_sees_counts_only(
        member, staff_client, workload, certs):
    member("lahore", "handler")
    response = staff_client(member("punjab", "head")).get(profile("lahore"))
    assert response.context["counts"]["open"] == 2
    assert [row.membership.role for row in response.context["members"]] == ["handler"]
    codes = {finding.code for finding in response.context["findings"]}
    assert "staffing.head" in codes and "staffing.handler" not in codes
    assert f"{certs['lahore'].name} has no head." in text(response)

    response = staff_client(member("punjab", "handler")).get(profile("lahore"))
    assert response.context["counts"]["open"] == 2
    assert response.context.get("members") is None
    assert response.context.get("findings") is None
    assert member("lahore", "handler").get_username() not in text(response)

    response = staff_client(member("punjab", "handler")).get(profile("punjab"))
    assert response.context["counts"] == {"own_open": 1, "own_overdue": 0, "open": 3, "overdue": 2}
    lahore_child = next(node for node in response.context["children"] if node.cert.slug == "lahore")
    assert (lahore_child.counted, lahore_child.open, lahore_child.overdue) == (True, 2, 2)


def test_an_unrelated_member_sees_the_public_profile_only(member, staff_client, workload, certs):
    member("lahore", "handler")
    response = staff_client(member("sindh", "head")).get(profile("lahore"))
    assert response.status_code == 200
    assert response.context.get("counts") is None
    assert response.context.get("members") is None and response.context.get("findings") is None
    page = text(response)
    assert "lahore.handler.test" not in page and f"owner={certs['lahore'].pk}" not in page
    assert certs["lahore"].constituency in page


def test_unknown_and_inactive_certs_answer_404(member, staff_client, certs):
    client = staff_client(member("national", "head"))
    assert client.get(profile("no-such-cert")).status_code == 404
    assert client.get(members_page("no-such-cert")).status_code == 404
    Membership.objects.filter(cert=certs["rawalpindi"]).delete()
    type(certs["rawalpindi"]).objects.filter(pk=certs["rawalpindi"].pk).update(is_active=False)
    assert client.get(profile("rawalpindi")).status_code == 404
    assert client.get(members_page("rawalpindi")).status_code == 404


# --- member management ---------------------------------------------------------------------------


def test_a_head_adds_a_member_by_username_or_email(member, staff_client, certs):
    head = member("lahore", "head")
    client = staff_client(head)
    newcomer = UserFactory(username="ayesha", email="Ayesha.Khan@cert.example")
    response = client.post(members_page("lahore"), {"action": "add", "who": "AYESHA",
                                                    "role": "handler"})
    assert response.status_code == 302 and response["Location"] == members_page("lahore")
    membership = Membership.objects.get(user=newcomer, cert=certs["lahore"])
    assert membership.role == "handler" and in_group(newcomer, certs["lahore"])
    follow = client.get(members_page("lahore"))
    assert "ayesha is now a member of" in text(follow)

    second = UserFactory(username="bilal", email="bilal@cert.example")
    client.post(members_page("lahore"), {"action": "add", "who": " BILAL@cert.example ",
                                         "role": "liaison"})
    assert Membership.objects.get(user=second, cert=certs["lahore"]).role == "liaison"


def test_an_unknown_or_inactive_user_is_not_added_and_the_head_is_told_what_to_do(
        member, staff_client, certs):
    client = staff_client(member("lahore", "head"))
    UserFactory(username="gone", is_active=False)
    for who in ("nobody@cert.example", "gone"):
        response = client.post(members_page("lahore"), {"action": "add", "who": who,
                                                        "role": "analyst"})
        assert response.status_code == 400
        page = text(response)
        assert "ask a portal administrator to create the account" in page.lower()
        assert 'aria-describedby="add-who-error"' in page and 'href="#add-who"' in page
        assert 'class="error-summary"' in page
    assert Membership.objects.filter(cert=certs["lahore"]).count() == 1


def test_bad_add_input_is_explained_not_a_500(member, staff_client, certs):
    client = staff_client(member("lahore", "head"))
    handler = member("lahore", "handler")
    cases = [
        ({"action": "add", "who": "", "role": "analyst"}, "Give the username or e-mail"),
        ({"action": "add", "who": handler.username, "role": "overlord"}, "Choose one of the roles"),
        ({"action": "add", "who": handler.username, "role": "analyst"}, "already a member"),
        ({"action": "add", "who": "x" * 5000, "role": "analyst"}, "at most 254"),
        ({"action": "explode"}, "no action this page knows"),
        ({"action": "role", "membership": "abc", "role": "analyst"}, "not a member of"),
        ({"action": "remove", "membership": "", "confirm": "1"}, "not a member of"),
    ]
    for data, message in cases:
        response = client.post(members_page("lahore"), data)
        assert response.status_code == 400, data
        assert message in text(response), data
    assert Membership.objects.get(user=handler, cert=certs["lahore"]).role == "handler"


def test_two_accounts_with_one_email_ask_for_the_username(member, staff_client, certs):
    client = staff_client(member("lahore", "head"))
    UserFactory(username="twin1", email="shared@cert.example")
    UserFactory(username="twin2", email="shared@cert.example")
    response = client.post(members_page("lahore"), {"action": "add", "who": "shared@cert.example",
                                                    "role": "analyst"})
    assert response.status_code == 400 and "give the username instead" in text(response)


def test_a_head_changes_a_role(member, staff_client, certs):
    handler = member("lahore", "handler")
    client = staff_client(member("lahore", "head"))
    membership = Membership.objects.get(user=handler, cert=certs["lahore"])
    response = client.post(members_page("lahore"), {"action": "role", "membership": membership.pk,
                                                    "role": "analyst"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == "analyst"
    bad = client.post(members_page("lahore"), {"action": "role", "membership": membership.pk,
                                               "role": "king"})
    assert bad.status_code == 400 and "Choose one of the roles" in text(bad)
    assert f'aria-describedby="role-{membership.pk}-error"' in text(bad)
    membership.refresh_from_db()
    assert membership.role == "analyst"


def test_removal_asks_for_confirmation_first(member, staff_client, certs):
    analyst = member("lahore", "analyst")
    client = staff_client(member("lahore", "head"))
    membership = Membership.objects.get(user=analyst, cert=certs["lahore"])
    asked = client.post(members_page("lahore"), {"action": "remove", "membership": membership.pk})
    assert asked.status_code == 200 and "Yes, remove" in text(asked)
    assert is_member(analyst, certs["lahore"])
    done = client.post(members_page("lahore"), {"action": "remove", "membership": membership.pk,
                                                "confirm": "1"})
    assert done.status_code == 302
    assert not is_member(analyst, certs["lahore"]) and not in_group(analyst, certs["lahore"])
    assert "is no longer a member" in text(client.get(members_page("lahore")))


def test_the_only_head_cannot_step_down_or_leave(member, staff_client, certs):
    head = member("lahore", "head")
    client = staff_client(head)
    own = Membership.objects.get(user=head, cert=certs["lahore"])
    for data in ({"action": "role", "membership": own.pk, "role": "handler"},
                 {"action": "remove", "membership": own.pk, "confirm": "1"}):
        response = client.post(members_page("lahore"), data)
        assert response.status_code == 400
        assert "You are the only head of" in text(response)
        assert "Make another member head first" in text(response)
    own.refresh_from_db()
    assert own.role == "head" and in_group(head, certs["lahore"])

    # With a second head, the first may step down, and then manages no more.
    second = member("lahore", "handler")
    client.post(members_page("lahore"), {
        "action": "role", "role": "head",
        "membership": Membership.objects.get(user=second, cert=certs["lahore"]).pk})
    response = client.post(members_page("lahore"), {"action": "role", "membership": own.pk,
                                                    "role": "handler"})
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.role == "handler"
    assert "Add a member" not in text(client.get(members_page("lahore")))


def test_a_head_who_leaves_lands_on_the_profile(member, staff_client, certs):
    head = member("lahore", "head")
    membership_add(cert=certs["lahore"], user=UserFactory(), role="head", actor=None)
    membership_add(cert=certs["rawalpindi"], user=head, role="analyst", actor=None)
    own = Membership.objects.get(user=head, cert=certs["lahore"])
    client = staff_client(head)
    asked = client.post(members_page("lahore"), {"action": "remove", "membership": own.pk})
    assert "You are about to leave" in text(asked)
    assert is_member(head, certs["lahore"])
    response = client.post(members_page("lahore"), {"action": "remove", "membership": own.pk,
                                                    "confirm": "1"})
    # The members page is no longer theirs to see: they land on the CERT's profile.
    assert response.status_code == 302 and response["Location"] == profile("lahore")
    assert not is_member(head, certs["lahore"]) and not in_group(head, certs["lahore"])
    assert staff_client(head).get(members_page("lahore")).status_code == 404


def test_keep_a_head_names_the_last_head_to_anyone_else_and_sees_a_removed_membership(member,
                                                                                      certs):
    head = member("lahore", "head")
    own = Membership.objects.get(user=head, cert=certs["lahore"])
    with pytest.raises(ValidationError) as refused:
        membership_change_role(membership=own, role="analyst", actor=None, keep_a_head=True)
    assert refused.value.message_dict["role"] == [
        f"{head.username} is the only head of {certs['lahore'].name}: a CERT needs a head to "
        "manage its members. Make another member head first."]
    # Without keep_a_head (the admin's way) the service does as it is told.
    membership_change_role(membership=own, role="analyst", actor=None)
    assert Membership.objects.get(pk=own.pk).role == "analyst"

    analyst = Membership.objects.get(user=member("lahore", "analyst"), cert=certs["lahore"])
    stale = Membership.objects.select_related("user", "cert").get(pk=analyst.pk)
    membership_remove(membership=analyst, actor=None, keep_a_head=True)
    with pytest.raises(ValidationError, match="no longer a member"):
        membership_remove(membership=stale, actor=None, keep_a_head=True)


def test_non_heads_read_the_list_and_are_refused_when_posting_by_hand(member, staff_client, certs):
    handler = member("lahore", "handler")
    analyst = member("lahore", "analyst")
    newcomer = UserFactory(username="newcomer")
    target = Membership.objects.get(user=analyst, cert=certs["lahore"])
    posts = [{"action": "add", "who": "newcomer", "role": "head"},
             {"action": "role", "membership": target.pk, "role": "head"},
             {"action": "remove", "membership": target.pk, "confirm": "1"}]

    for persona in (handler, member("punjab", "head")):
        client = staff_client(persona)
        page = client.get(members_page("lahore"))
        assert page.status_code == 200
        assert analyst.username in text(page)
        assert "Add a member" not in text(page) and 'name="action"' not in text(page)
        for data in posts:
            refused = client.post(members_page("lahore"), data)
            assert refused.status_code == 403
            assert "Only a head of" in text(refused) and "Nothing was changed" in text(refused)

    assert not is_member(newcomer, certs["lahore"])
    target.refresh_from_db()
    assert target.role == "analyst"


def test_members_of_other_certs_get_404_and_outsiders_the_refusal(member, staff_client, outsider,
                                                                   certs):
    analyst = member("lahore", "analyst")
    target = Membership.objects.get(user=analyst, cert=certs["lahore"])
    for persona in (member("sindh", "head"), member("rawalpindi", "head"), member("punjab", "handler")):
        client = staff_client(persona)
        assert client.get(members_page("lahore")).status_code == 404
        assert client.post(members_page("lahore"), {"action": "remove", "membership": target.pk,
                                                    "confirm": "1"}).status_code == 404
    refused = staff_client(outsider).post(members_page("lahore"), {
        "action": "remove", "membership": target.pk, "confirm": "1"})
    assert refused.status_code == 403
    assert is_member(analyst, certs["lahore"])


def test_a_head_cannot_manage_another_certs_member_through_their_own_page(member, staff_client,
                                                                          certs):
    sindh_analyst = member("sindh", "analyst")
    target = Membership.objects.get(user=sindh_analyst, cert=certs["sindh"])
    client = staff_client(member("lahore", "head"))
    response = client.post(members_page("lahore"), {"action": "remove", "membership": target.pk,
                                                    "confirm": "1"})
    assert response.status_code == 400 and "not a member of" in text(response)
    response = client.post(members_page("lahore"), {"action": "role", "membership": target.pk,
                                                    "role": "head"})
    assert response.status_code == 400
    target.refresh_from_db()
    assert target.role == "analyst" and is_member(sindh_analyst, certs["sindh"])


def test_may_manage_members_is_for_heads_of_that_cert(member, certs):
    access = registry_access(member("punjab", "head"))
    assert access.may_manage_members(certs["punjab"])
    assert not access.may_manage_members(certs["lahore"])
    assert access.may_see_members(certs["lahore"]) and not access.may_see_members(certs["sindh"])
    assert not registry_access(member("punjab", "handler")).may_manage_members(certs["punjab"])


# --- the health report ---------------------------------------------------------------------------


def test_national_heads_see_the_whole_health_report(member, staff_client, certs):
    response = staff_client(member("national", "head")).get(HEALTH)
    assert response.status_code == 200
    about = {finding.cert.slug for finding in response.context["findings"] if finding.cert}
    assert {"karachi", "lahore", "banking", "national"} <= about
    assert certs["karachi"].name in text(response)


def test_other_heads_see_the_findings_of_their_subtree(member, staff_client, certs):
    response = staff_client(member("punjab", "head")).get(HEALTH)
    assert response.status_code == 200
    about = {finding.cert.slug for finding in response.context["findings"]}
    assert about <= {"punjab", "lahore", "rawalpindi", "punjab-it-board-cert"}
    assert "lahore" in about
    assert all(finding.cert is not None for finding in response.context["findings"])
    assert certs["karachi"].name not in text(response)


def test_the_health_report_is_refused_to_non_heads(member, staff_client, outsider):
    for persona in (member("national", "handler"), member("punjab", "analyst"), outsider):
        response = staff_client(persona).get(HEALTH)
        assert response.status_code == 403
        assert "findings" not in (response.context or {})


def test_the_dashboard_profile_links_back_to_public_and_registry(member, staff_client, certs):
    page = text(staff_client(member("lahore", "handler")).get(profile("lahore")))
    assert f'href="{certs["lahore"].get_absolute_url()}"' in page
    assert 'href="/dashboard/registry/"' in page
