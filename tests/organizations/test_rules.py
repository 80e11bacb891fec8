"""The composition rules of DOMAIN.md §1, through the registry service.

Every allowed case saves; every forbidden case is refused with the rule's message and leaves the
database exactly as it was.
"""

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from organizations.models import Cert
from organizations.rules import RULES
from organizations.services import RegistryRuleError, cert_create, cert_update
from tests.factories import CertFactory, SectorFactory

# DOMAIN.md §1 retyped as the specification, so that a wrong edit of RULES fails here.
SPEC = {
    "national": ((), 1, None),
    "government": (("national",), 1, None),
    "cii": (("national",), 1, None),
    "federal": (("government",), 1, None),
    "provincial": (("government",), 1, "region"),
    "local": (("provincial",), None, None),
    "sectoral": (("cii",), 1, "sector"),
    "organizational": (("sectoral", "federal", "provincial", "local"), None, None),
}


def test_rules_table_matches_the_domain_specification():
    assert {kind: (tuple(rule.parent_kinds), rule.limit, rule.limit_per)
            for kind, rule in RULES.items()} == SPEC
    assert RULES["local"].region_from_parent and RULES["local"].region_required
    assert RULES["provincial"].region_required
    assert RULES["sectoral"].sector_required


def snapshot():
    """Everything a registry write could change."""
    return (
        list(Cert.objects.order_by("pk").values()),
        list(Group.objects.order_by("pk").values_list("pk", "name")),
    )


def refused(codes, call):
    """Run `call`, expect RegistryRuleError carrying each of `codes`, and an unchanged database."""
    before = snapshot()
    with pytest.raises(RegistryRuleError) as caught:
        call()
    found = {violation.code for violation in caught.value.violations}
    assert set(codes) <= found, f"expected {codes}, got {found}: {caught.value}"
    assert snapshot() == before
    return caught.value


@pytest.fixture
def tree(empty_registry):
    """A small tree with one CERT of every kind, made through the service (the allowed cases)."""
    banking = SectorFactory(slug="banking", name="Banking")
    telecom = SectorFactory(slug="telecom", name="Telecom")
    national = CertFactory(kind="national", slug="national")
    government = CertFactory(kind="government", slug="government", parent=national)
    cii = CertFactory(kind="cii", slug="cii", parent=national)
    federal = CertFactory(kind="federal", slug="federal", parent=government)
    punjab = CertFactory(kind="provincial", slug="punjab", parent=government, region="PK-PB")
    sindh = CertFactory(kind="provincial", slug="sindh", parent=government, region="PK-SD")
    lahore = CertFactory(kind="local", slug="lahore", parent=punjab, region="PK-PB")
    bank = CertFactory(kind="sectoral", slug="bank-cert", parent=cii, sector=banking)
    org = CertFactory(kind="organizational", slug="org", parent=lahore)
    return dict(national=national, government=government, cii=cii, federal=federal,
                punjab=punjab, sindh=sindh, lahore=lahore, bank=bank, org=org,
                banking=banking, telecom=telecom)


def test_allowed_cases_save_with_group_and_path(tree):
    assert Cert.objects.count() == 9
    for cert in Cert.objects.select_related("group", "parent"):
        assert cert.group.name == f"CERT: {cert.slug}"
        expected_parent_path = cert.parent.path if cert.parent else "/"
        assert cert.path == f"{expected_parent_path}{cert.pk}/"
        assert cert.depth == (cert.parent.depth + 1 if cert.parent else 0)


@pytest.mark.parametrize("parent_slug", ["bank", "federal", "punjab", "lahore"])
def test_organizational_cert_under_each_allowed_parent(tree, parent_slug):
    cert = CertFactory(kind="organizational", parent=tree[parent_slug])
    assert cert.parent == tree[parent_slug]


def test_second_provincial_cert_in_another_region_and_sectoral_in_another_sector_save(tree):
    CertFactory(kind="provincial", parent=tree["government"], region="PK-KP")
    CertFactory(kind="sectoral", parent=tree["cii"], sector=tree["telecom"])
    CertFactory(kind="local", parent=tree["punjab"], region="PK-PB")


@pytest.mark.parametrize("kind, parent_slug, extra", [
    ("national", None, {}),
    ("government", "national", {}),
    ("cii", "national", {}),
    ("federal", "government", {}),
])
def test_second_cert_of_a_single_kind_is_refused(tree, kind, parent_slug, extra):
    parent = tree[parent_slug] if parent_slug else None
    error = refused([f"{kind}.limit"], lambda: cert_create(
        actor=None, kind=kind, name="Second", short_name="2ND", slug="second", parent=parent,
        **extra))
    assert f"at most one active {RULES[kind].label}" in str(error)


def test_second_provincial_cert_in_the_same_region_is_refused(tree):
    error = refused(["provincial.limit"], lambda: cert_create(
        actor=None, kind="provincial", name="Punjab 2", short_name="PB2", slug="punjab-2",
        parent=tree["government"], region="PK-PB"))
    assert "per region" in str(error) and tree["punjab"].name in str(error)


def test_second_sectoral_cert_in_the_same_sector_is_refused(tree):
    refused(["sectoral.limit"], lambda: cert_create(
        actor=None, kind="sectoral", name="Banking 2", short_name="BNK2", slug="bank-2",
        parent=tree["cii"], sector=tree["banking"]))


WRONG_PARENTS = [
    (kind, parent_kind)
    for kind, (parents, _, _) in SPEC.items() if parents
    for parent_kind in ["national", "government", "cii", "federal", "provincial", "local",
                        "sectoral", "organizational"]
    if parent_kind not in parents
]
KIND_TO_SLUG = {"national": "national", "government": "government", "cii": "cii",
                "federal": "federal", "provincial": "punjab", "local": "lahore",
                "sectoral": "bank", "organizational": "org"}


@pytest.mark.parametrize("kind, parent_kind", WRONG_PARENTS)
def test_wrong_parent_kind_is_refused(tree, kind, parent_kind):
    parent = tree[KIND_TO_SLUG[parent_kind]]
    fields = {"region": parent.region or "PK-PB"} if RULES[kind].region_required else {}
    if RULES[kind].sector_required:
        fields["sector"] = tree["telecom"]
    error = refused([f"{kind}.parent"], lambda: cert_create(
        actor=None, kind=kind, name="Misplaced", short_name="MIS", slug="misplaced",
        parent=parent, **fields))
    assert "parent must be" in str(error)


@pytest.mark.parametrize("kind", [kind for kind, (parents, _, _) in SPEC.items() if parents])
def test_only_the_national_cert_has_no_parent(tree, kind):
    fields = {"region": "PK-BA"} if RULES[kind].region_required else {}
    if RULES[kind].sector_required:
        fields["sector"] = tree["telecom"]
    refused([f"{kind}.parent"], lambda: cert_create(
        actor=None, kind=kind, name="Orphan", short_name="ORP", slug="orphan", **fields))


def test_national_cert_with_a_parent_is_refused(tree):
    refused(["national.root"], lambda: cert_update(cert=tree["national"], actor=None,
                                                   parent=tree["government"]))


def test_local_cert_in_another_region_than_its_province_is_refused(tree):
    error = refused(["local.region"], lambda: cert_create(
        actor=None, kind="local", name="Karachi", short_name="KHI", slug="karachi",
        parent=tree["punjab"], region="PK-SD"))
    assert "Punjab" in str(error) and "Sindh" in str(error)


def test_moving_a_local_cert_to_another_province_keeping_its_region_is_refused(tree):
    refused(["local.region"], lambda: cert_update(cert=tree["lahore"], actor=None,
                                                  parent=tree["sindh"]))


def test_changing_a_province_region_under_its_local_certs_is_refused(tree):
    refused(["local.region"], lambda: cert_update(cert=tree["punjab"], actor=None,
                                                  region="PK-KP"))


def test_region_and_sector_are_required_where_the_rules_say(tree):
    refused(["provincial.region"], lambda: cert_create(
        actor=None, kind="provincial", name="No region", short_name="NR", slug="no-region",
        parent=tree["government"]))
    refused(["local.region"], lambda: cert_create(
        actor=None, kind="local", name="No region", short_name="NR", slug="no-region",
        parent=tree["punjab"]))
    refused(["sectoral.sector"], lambda: cert_create(
        actor=None, kind="sectoral", name="No sector", short_name="NS", slug="no-sector",
        parent=tree["cii"]))


def test_moving_a_cert_under_its_own_descendant_is_refused(tree):
    error = refused(["tree.cycle"], lambda: cert_update(cert=tree["punjab"], actor=None,
                                                        parent=tree["lahore"]))
    assert "cycle" in str(error)
    refused(["tree.cycle"], lambda: cert_update(cert=tree["government"], actor=None,
                                                parent=tree["punjab"]))


def test_a_cert_cannot_be_its_own_parent(tree):
    refused(["tree.cycle"], lambda: cert_update(cert=tree["lahore"], actor=None,
                                                parent=tree["lahore"]))


def test_deactivating_a_cert_with_active_children_is_refused(tree):
    error = refused(["tree.active_children"], lambda: cert_update(
        cert=tree["lahore"], actor=None, is_active=False))
    assert tree["org"].name in str(error)


def test_deactivating_bottom_up_is_allowed_and_frees_the_slot(tree):
    cert_update(cert=tree["org"], actor=None, is_active=False)
    cert_update(cert=tree["lahore"], actor=None, is_active=False)
    assert not Cert.objects.get(pk=tree["lahore"].pk).is_active
    # An inactive CERT no longer counts against "one per region".
    for child in [tree["lahore"]]:
        assert child.parent_id == tree["punjab"].pk
    cert_update(cert=tree["federal"], actor=None, is_active=False)
    replacement = CertFactory(kind="federal", parent=tree["government"])
    assert replacement.is_active


def test_an_active_cert_needs_an_active_parent(tree):
    cert_update(cert=tree["org"], actor=None, is_active=False)
    cert_update(cert=tree["lahore"], actor=None, is_active=False)
    refused(["tree.inactive_parent"], lambda: cert_create(
        actor=None, kind="organizational", name="Late", short_name="LATE", slug="late",
        parent=tree["lahore"]))
    refused(["tree.inactive_parent"], lambda: cert_update(cert=tree["org"], actor=None,
                                                          is_active=True))


def test_changing_kind_under_existing_children_is_refused(tree):
    refused(["local.parent"], lambda: cert_update(cert=tree["punjab"], actor=None, kind="federal"))


def test_every_broken_rule_is_reported_at_once(tree):
    error = refused(["federal.limit", "federal.parent"], lambda: cert_create(
        actor=None, kind="federal", name="Twice wrong", short_name="TW", slug="twice-wrong",
        parent=tree["cii"]))
    assert len(error.violations) >= 2


def test_field_errors_are_reported_before_saving_anything(tree):
    before = snapshot()
    with pytest.raises(Exception) as caught:
        cert_create(actor=None, kind="organizational", name="Bad contact", short_name="BAD",
                    slug="bad contact", parent=tree["lahore"], email="not-an-email",
                    pgp_fingerprint="1234", time_zone="Mars/Olympus")
    messages = caught.value.message_dict
    assert set(messages) >= {"slug", "email", "pgp_fingerprint", "time_zone"}
    assert snapshot() == before


def test_profile_fields_are_normalised(tree):
    cert = CertFactory(kind="organizational", parent=tree["lahore"],
                       pgp_fingerprint="abcd" * 10, languages="English,  Urdu ,Punjabi")
    assert cert.pgp_fingerprint == " ".join(["ABCD"] * 10)
    assert cert.languages == "English, Urdu, Punjabi"


def test_moving_a_subtree_rewrites_every_path_in_constant_queries(tree):
    # A local CERT moves, with its organizational children, to another province and its region;
    # and back again with ten times as many children: the same number of queries.
    grandchild = CertFactory(kind="organizational", parent=tree["lahore"])
    with CaptureQueriesContext(connection) as small_move:
        moved = cert_update(cert=tree["lahore"], actor=None, parent=tree["sindh"], region="PK-SD")
    assert moved.path == f"{tree['sindh'].path}{moved.pk}/"
    for cert in [tree["org"], grandchild]:
        cert.refresh_from_db()
        assert cert.path == f"{moved.path}{cert.pk}/"
        assert cert.depth == moved.depth + 1
    assert set(tree["sindh"].descendants()) == {moved, tree["org"], grandchild}
    assert not tree["punjab"].descendants().exists()

    CertFactory.create_batch(20, kind="organizational", parent=moved)
    with CaptureQueriesContext(connection) as large_move:
        back = cert_update(cert=moved, actor=None, parent=tree["punjab"], region="PK-PB")
    assert len(large_move) == len(small_move)
    assert tree["punjab"].descendants().count() == 23
    assert all(cert.path.startswith(back.path) for cert in back.descendants())


def test_database_constraints_hold_when_the_service_is_bypassed(tree):
    group = Group.objects.create(name="bypass")
    for fields in [
        dict(kind="national"),  # a second national CERT
        dict(kind="provincial", parent=tree["government"], region="PK-PB"),  # same region
        dict(kind="sectoral", parent=tree["cii"], sector=tree["banking"]),  # same sector
        dict(kind="organizational"),  # no parent
        dict(kind="provincial", parent=tree["government"]),  # no region
        dict(kind="sectoral", parent=tree["cii"]),  # no sector
        dict(kind="galactic", parent=tree["national"]),  # unknown kind
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Cert.objects.create(name="Bypass", short_name="BY", slug="bypass", group=group,
                                **fields)
    assert not Cert.objects.filter(slug="bypass").exists()
