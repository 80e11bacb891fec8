"""The Django admin goes through the same composition rules as the service."""

import pytest
from django.contrib.auth.models import Group

from organizations.models import Cert
from tests.factories import CertFactory, SectorFactory, UserFactory
from tests.twofactor import sign_in


@pytest.fixture
def admin_client(client, db):
    # The admin asks for both factors (cert_portal/accounts/admin_site.py).
    return sign_in(client, UserFactory(is_staff=True, is_superuser=True))


@pytest.fixture
def tree(empty_registry):
    national = CertFactory(kind="national", slug="national", name="National CERT")
    government = CertFactory(kind="government", slug="government", parent=national)
    punjab = CertFactory(kind="provincial", slug="punjab", name="Punjab CERT",
                         parent=government, region="PK-PB")
    sindh = CertFactory(kind="provincial", slug="sindh", name="Sindh CERT", parent=government,
                        region="PK-SD")
    lahore = CertFactory(kind="local", slug="lahore", parent=punjab, region="PK-PB")
    return dict(national=national, government=government, punjab=punjab, sindh=sindh,
                lahore=lahore)


def form_data(cert=None, **changes):
    data = {
        "kind": "organizational", "name": "New CERT", "short_name": "NEW", "slug": "new",
        "parent": "", "region": "", "sector": "", "is_active": "on", "constituency": "",
        "description": "", "hotline": "", "email": "", "website": "", "pgp_fingerprint": "",
        "time_zone": "Asia/Karachi", "languages": "English, Urdu",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "0",
    }
    if cert is not None:
        data.update({field: getattr(cert, field) or "" for field in
                     ["kind", "name", "short_name", "slug", "region", "constituency",
                      "description", "hotline", "email", "website", "pgp_fingerprint",
                      "time_zone", "languages"]})
        data["parent"] = cert.parent_id or ""
        data["sector"] = cert.sector_id or ""
        data["is_active"] = "on" if cert.is_active else ""
    data.update({key: ("" if value is None else value) for key, value in changes.items()})
    if data.get("is_active") is False:
        data.pop("is_active")
    return data


def snapshot():
    return (list(Cert.objects.order_by("pk").values()),
            list(Group.objects.order_by("pk").values_list("pk", "name")))


def assert_refused(response, message, before):
    assert response.status_code == 200, "the form is shown again with its errors"
    assert "Please correct the error" in response.content.decode()
    assert message in response.content.decode()
    assert snapshot() == before


def test_admin_creates_an_allowed_cert_through_the_service(admin_client, tree):
    response = admin_client.post("/admin/organizations/cert/add/",
                                 form_data(kind="local", parent=tree["punjab"].pk,
                                           region="PK-PB", slug="rawalpindi",
                                           name="Rawalpindi CERT"))
    assert response.status_code == 302, response.content.decode()[:2000]
    cert = Cert.objects.get(slug="rawalpindi")
    assert cert.path == f"{tree['punjab'].path}{cert.pk}/"
    assert cert.group.name == "CERT: rawalpindi"


def test_admin_refuses_a_second_national_cert(admin_client, tree):
    before = snapshot()
    response = admin_client.post("/admin/organizations/cert/add/",
                                 form_data(kind="national", slug="national-2",
                                           name="Another national"))
    assert_refused(response, "There may be at most one active National CERT", before)


def test_admin_refuses_a_wrong_parent_kind(admin_client, tree):
    before = snapshot()
    response = admin_client.post("/admin/organizations/cert/add/",
                                 form_data(kind="local", parent=tree["government"].pk,
                                           region="PK-PB"))
    assert_refused(response, "parent must be a Provincial government CERT", before)


def test_admin_refuses_a_local_cert_outside_its_province_region(admin_client, tree):
    before = snapshot()
    response = admin_client.post("/admin/organizations/cert/add/",
                                 form_data(kind="local", parent=tree["punjab"].pk,
                                           region="PK-SD"))
    assert_refused(response, "must be in its parent&#x27;s region", before)


def test_admin_refuses_moving_a_cert_under_its_own_descendant(admin_client, tree):
    before = snapshot()
    punjab = tree["punjab"]
    response = admin_client.post(f"/admin/organizations/cert/{punjab.pk}/change/",
                                 form_data(punjab, parent=tree["lahore"].pk))
    assert_refused(response, "which would make a cycle", before)


def test_admin_refuses_deactivating_a_cert_with_active_children(admin_client, tree):
    before = snapshot()
    punjab = tree["punjab"]
    response = admin_client.post(f"/admin/organizations/cert/{punjab.pk}/change/",
                                 form_data(punjab, is_active=False))
    assert_refused(response, "has active children", before)


def test_admin_moves_a_subtree_through_the_service(admin_client, tree):
    lahore = tree["lahore"]
    child = CertFactory(kind="organizational", parent=lahore)
    response = admin_client.post(f"/admin/organizations/cert/{lahore.pk}/change/",
                                 form_data(lahore, parent=tree["sindh"].pk, region="PK-SD"))
    assert response.status_code == 302
    child.refresh_from_db()
    assert child.path == f"{tree['sindh'].path}{lahore.pk}/{child.pk}/"


def test_admin_renames_the_group_when_the_slug_changes(admin_client, tree):
    lahore = tree["lahore"]
    response = admin_client.post(f"/admin/organizations/cert/{lahore.pk}/change/",
                                 form_data(lahore, slug="lahore-metro"))
    assert response.status_code == 302
    assert Group.objects.get(pk=lahore.group_id).name == "CERT: lahore-metro"


def test_admin_offers_no_deletion_of_certs(admin_client, tree):
    response = admin_client.get(f"/admin/organizations/cert/{tree['lahore'].pk}/delete/")
    assert response.status_code == 403
    assert Cert.objects.filter(pk=tree["lahore"].pk).exists()


def test_admin_lists_certs_in_constant_queries(admin_client, tree, django_assert_max_num_queries):
    with django_assert_max_num_queries(12) as few:
        admin_client.get("/admin/organizations/cert/")
    sector = SectorFactory()
    cii = CertFactory(kind="cii", parent=tree["national"])
    CertFactory(kind="sectoral", parent=cii, sector=sector)
    CertFactory.create_batch(15, kind="organizational", parent=tree["lahore"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get("/admin/organizations/cert/")
    assert response.status_code == 200


def test_staff_without_registry_permissions_cannot_edit(client, tree):
    sign_in(client, UserFactory(is_staff=True))
    response = client.post("/admin/organizations/cert/add/", form_data())
    assert response.status_code == 403
    assert not Cert.objects.filter(slug="new").exists()
