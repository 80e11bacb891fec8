"""Memberships: a person's place in a CERT, kept in step with the CERT's Django group."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from organizations.models import Cert, Membership, Role
from organizations.services import (
    cert_update,
    group_name_for,
    membership_add,
    membership_change_role,
    membership_remove,
    sync_cert_groups,
)
from tests.factories import MembershipFactory, UserFactory
from tests.twofactor import sign_in


def in_group(user, cert: Cert) -> bool:
    return user.groups.filter(pk=cert.group_id).exists()


# --- The services ----------------------------------------------------------------------------

def test_membership_add_makes_a_member_and_puts_them_in_the_certs_group(registry):
    user = UserFactory()
    lahore = registry["lahore"]

    membership = membership_add(cert=lahore, user=user, role=Role.HANDLER, actor=None)

    membership.refresh_from_db()
    assert (membership.user, membership.cert, membership.role) == (user, lahore, "handler")
    assert list(user.groups.values_list("name", flat=True)) == ["CERT: lahore"]
    assert not in_group(user, registry["punjab"])  # no inherited group membership


def test_a_person_may_belong_to_several_certs(registry):
    user = UserFactory()

    membership_add(cert=registry["lahore"], user=user, role=Role.ANALYST, actor=None)
    membership_add(cert=registry["punjab"], user=user, role=Role.HEAD, actor=None)

    assert set(user.groups.values_list("name", flat=True)) == {"CERT: lahore", "CERT: punjab"}
    assert dict(user.memberships.values_list("cert__slug", "role")) == {
        "lahore": "analyst", "punjab": "head"}


def test_membership_add_refuses_an_unknown_role(registry):
    user = UserFactory()

    with pytest.raises(ValidationError) as error:
        membership_add(cert=registry["lahore"], user=user, role="boss", actor=None)

    assert error.value.message_dict == {
        "role": ["Unknown role 'boss': choose one of head, handler, analyst, liaison."]}
    assert not Membership.objects.filter(user=user).exists()
    assert not user.groups.exists()


def test_membership_add_refuses_an_inactive_cert(registry):
    soc = cert_update(cert=registry["example-bank-soc"], actor=None, is_active=False)
    user = UserFactory()

    with pytest.raises(ValidationError) as error:
        membership_add(cert=soc, user=user, role=Role.HANDLER, actor=None)

    assert error.value.message_dict == {
        "cert": ["Example Bank SOC is not active: it takes no new members."]}
    assert not Membership.objects.filter(user=user).exists()
    assert not user.groups.exists()


def test_membership_add_refuses_a_second_membership_in_the_same_cert(registry):
    membership = MembershipFactory(cert=registry["lahore"], role=Role.ANALYST)

    with pytest.raises(ValidationError) as error:
        membership_add(cert=registry["lahore"], user=membership.user, role=Role.HEAD,
                       actor=None)

    assert "is already a member of Lahore Metropolitan CERT" in error.value.message_dict["user"][0]
    assert list(Membership.objects.filter(user=membership.user).values_list("role", flat=True)) \
        == ["analyst"]


def test_membership_remove_ends_the_membership_and_the_group_membership(registry):
    user = UserFactory()
    kept = membership_add(cert=registry["punjab"], user=user, role=Role.HEAD, actor=None)
    ended = membership_add(cert=registry["lahore"], user=user, role=Role.HANDLER, actor=None)

    membership_remove(membership=ended, actor=None)

    assert list(Membership.objects.filter(user=user)) == [kept]
    assert not in_group(user, registry["lahore"])
    assert in_group(user, registry["punjab"])


def test_membership_change_role_changes_only_the_role(registry):
    membership = MembershipFactory(cert=registry["lahore"], role=Role.ANALYST)

    returned = membership_change_role(membership=membership, role=Role.HEAD, actor=None)

    assert returned.role == "head"
    membership.refresh_from_db()
    assert membership.role == "head"
    assert in_group(membership.user, registry["lahore"])


def test_membership_change_role_refuses_an_unknown_role(registry):
    membership = MembershipFactory(cert=registry["lahore"], role=Role.ANALYST)

    with pytest.raises(ValidationError, match="Unknown role 'owner'"):
        membership_change_role(membership=membership, role="owner", actor=None)

    membership.refresh_from_db()
    assert membership.role == "analyst"


def test_a_new_slug_renames_the_certs_group_and_keeps_its_members(registry):
    membership = MembershipFactory(cert=registry["lahore"])
    group_id = registry["lahore"].group_id

    cert = cert_update(cert=registry["lahore"], actor=None, slug="lahore-metropolitan")

    assert cert.group_id == group_id
    assert Group.objects.get(pk=group_id).name == group_name_for("lahore-metropolitan") \
        == "CERT: lahore-metropolitan"
    assert not Group.objects.filter(name="CERT: lahore").exists()
    assert in_group(membership.user, cert)


def test_sync_cert_groups_repairs_groups_changed_by_hand(registry):
    member = MembershipFactory(cert=registry["lahore"]).user
    stranger = UserFactory()
    other_group = Group.objects.create(name="Newsletter editors")
    stranger.groups.add(other_group)
    assert sync_cert_groups() == 0
    member.groups.remove(registry["lahore"].group)  # a member taken out of the group by hand
    stranger.groups.add(registry["punjab"].group)  # a non-member put in a CERT's group by hand

    changes = sync_cert_groups()

    assert changes == 2
    assert in_group(member, registry["lahore"])
    assert not in_group(stranger, registry["punjab"])
    assert list(stranger.groups.all()) == [other_group]  # groups of no CERT are left alone
    assert sync_cert_groups() == 0


# --- Through the Django admin ----------------------------------------------------------------

@pytest.fixture
def admin_client_for_registry(client, registry):
    admin = UserFactory(username="registry-admin", is_staff=True, is_superuser=True)
    # The admin asks for both factors (issue 9).
    return sign_in(client, admin)


def test_admin_add_membership_goes_through_the_service(admin_client_for_registry, registry):
    user = UserFactory()

    response = admin_client_for_registry.post("/admin/organizations/membership/add/", {
        "user": user.pk, "cert": registry["banking"].pk, "role": "liaison",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    membership = Membership.objects.get(user=user)
    assert (membership.cert, membership.role) == (registry["banking"], "liaison")
    assert in_group(user, registry["banking"])


def test_admin_add_membership_refuses_a_duplicate_and_an_inactive_cert(
        admin_client_for_registry, registry):
    existing = MembershipFactory(cert=registry["lahore"])
    cert_update(cert=registry["example-bank-soc"], actor=None, is_active=False)
    newcomer = UserFactory()

    duplicate = admin_client_for_registry.post("/admin/organizations/membership/add/", {
        "user": existing.user.pk, "cert": registry["lahore"].pk, "role": "head"})
    inactive = admin_client_for_registry.post("/admin/organizations/membership/add/", {
        "user": newcomer.pk, "cert": registry["example-bank-soc"].pk, "role": "head"})

    assert duplicate.status_code == 200
    assert "This person is already a member of this CERT." in duplicate.content.decode()
    assert inactive.status_code == 200
    assert "Select a valid choice" in inactive.content.decode()
    assert Membership.objects.count() == 1
    assert not newcomer.groups.exists()


def test_admin_change_membership_changes_the_role(admin_client_for_registry, registry):
    membership = MembershipFactory(cert=registry["lahore"], role=Role.ANALYST)

    response = admin_client_for_registry.post(
        f"/admin/organizations/membership/{membership.pk}/change/", {"role": "head"})

    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.role, membership.cert) == ("head", registry["lahore"])
    assert in_group(membership.user, registry["lahore"])


def test_admin_delete_membership_takes_the_person_out_of_the_group(
        admin_client_for_registry, registry):
    membership = MembershipFactory(cert=registry["lahore"])
    user = membership.user

    response = admin_client_for_registry.post(
        f"/admin/organizations/membership/{membership.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert not in_group(user, registry["lahore"])


def test_admin_bulk_delete_takes_everyone_out_of_their_groups(admin_client_for_registry,
                                                              registry):
    memberships = [MembershipFactory(cert=registry[slug]) for slug in ("lahore", "banking")]
    kept = MembershipFactory(cert=registry["punjab"])

    response = admin_client_for_registry.post("/admin/organizations/membership/", {
        "action": "delete_selected",
        "_selected_action": [membership.pk for membership in memberships],
        "post": "yes",
    })

    assert response.status_code == 302
    assert list(Membership.objects.all()) == [kept]
    for membership in memberships:
        assert not in_group(membership.user, membership.cert)
    assert in_group(kept.user, registry["punjab"])
