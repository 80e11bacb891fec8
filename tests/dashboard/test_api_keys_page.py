"""The API keys page (issue 11, points 1 and 9): heads issue keys (the secret shown once, stored
hashed) and revoke them at once; nobody else manages them."""

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from organizations.api_keys import api_key_issue
from organizations.dashboard.api_keys import NEW_SECRET_SESSION_KEY
from organizations.models import ApiKey

PAGE = "/dashboard/registry/api-keys/"


def issue(client, **fields):
    data = {"name": "SOAR at the SOC", "scope": "read", "expires_days": "30", **fields}
    return client.post(PAGE, data)


def test_a_head_issues_a_key_and_sees_its_secret_once(member, staff_client, clock):
    head = member("lahore", "head")
    client = staff_client(head)
    response = issue(client)
    assert response.status_code == 302 and response["Location"] == PAGE

    key = ApiKey.objects.get(cert__slug="lahore")
    assert (key.name, key.scope, key.created_by) == ("SOAR at the SOC", "read", head)
    assert key.expires_at == clock.now + timedelta(days=30)
    shown = client.get(PAGE)
    page = shown.content.decode()
    secret = shown.context["new_secret"]
    assert secret.startswith(f"cpk_{key.prefix}_") and secret in page
    assert "shown this once" in page
    # Stored hashed, and gone from the session with the page that showed it.
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (key.prefix, key.name)
    assert NEW_SECRET_SESSION_KEY not in client.session
    again = client.get(PAGE).content.decode()
    assert secret not in again and "SOAR at the SOC" in again
    # The key works as Lahore.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/schema/").status_code == 200


def test_bad_input_is_named_and_issues_nothing(member, staff_client):
    client = staff_client(member("lahore", "head"))
    response = issue(client, name="  ", expires_days="9999", scope="admin")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Name the key after what uses it" in page
    assert "A key expires after 1 to 3650 days." in page
    assert "Choose one of the scopes in the list." in page
    assert not ApiKey.objects.exists()


def test_a_head_revokes_a_key_and_the_api_refuses_it_at_once(member, certs, staff_client):
    head = member("lahore", "head")
    key, secret = api_key_issue(actor=head, cert=certs["lahore"], name="MISP", scope="read")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/schema/").status_code == 200

    response = staff_client(head).post(f"{PAGE}{key.pk}/revoke/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == head
    assert api.get("/api/schema/").status_code == 401


def test_another_certs_key_cannot_be_revoked(member, certs, staff_client):
    key, _ = api_key_issue(actor=None, cert=certs["karachi"], name="Karachi SOAR", scope="read")
    client = staff_client(member("lahore", "head"))
    assert client.post(f"{PAGE}{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert "Karachi SOAR" not in client.get(PAGE).content.decode()


@pytest.mark.parametrize("role", ["handler", "analyst", "liaison"])
def test_non_heads_get_the_refused_page(member, certs, staff_client, role):
    key, _ = api_key_issue(actor=None, cert=certs["lahore"], name="Lahore SOAR", scope="read")
    client = staff_client(member("lahore", role))
    listing = client.get(PAGE)
    assert listing.status_code == 403
    assert "Only a head of Lahore Metropolitan CERT manages its API keys." in listing.content.decode()
    assert "Lahore SOAR" not in listing.content.decode()
    assert issue(client).status_code == 403
    assert client.post(f"{PAGE}{key.pk}/revoke/").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None and ApiKey.objects.count() == 1


def test_someone_signed_out_is_sent_to_sign_in(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={PAGE}"


def test_the_empty_page_says_so(member, staff_client):
    page = staff_client(member("lahore", "head")).get(PAGE).content.decode()
    assert "This CERT has no API keys yet." in page


@pytest.mark.parametrize("count", [2, 30])
def test_the_list_costs_the_same_queries_whatever_its_length(member, certs, staff_client, count,
                                                             django_assert_num_queries):
    head = member("lahore", "head")
    for number in range(count):
        api_key_issue(actor=head, cert=certs["lahore"], name=f"system {number}", scope="read")
    client = staff_client(head)
    client.get(PAGE)
    # Session, user, OTP device, memberships, role check, keys, unread count.
    with django_assert_num_queries(7):
        response = client.get(PAGE)
    assert response.content.decode().count("<tr>") == count + 1


@pytest.fixture
def admin_client(client, db):
    from tests.factories import UserFactory
    from tests.twofactor import sign_in

    return sign_in(client, UserFactory(is_staff=True, is_superuser=True))


def test_the_admin_issues_through_the_service_and_shows_the_secret_once(admin_client, certs):
    response = admin_client.post("/admin/organizations/apikey/add/", {
        "cert": certs["banking"].pk, "name": "Bank SOAR", "scope": "read-write",
        "expires_days": "10"}, follow=True)
    assert response.status_code == 200
    key = ApiKey.objects.get(cert=certs["banking"])
    shown = [str(message) for message in response.context["messages"]]
    [secret] = [text.split(" is ", 1)[1].split(" ", 1)[0] for text in shown if "secret" in text]
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.service_user.api_key == key and key.scope == "read-write"
    assert secret not in admin_client.get(f"/admin/organizations/apikey/{key.pk}/change/").content.decode()


def test_the_admin_names_a_bad_field(admin_client, certs):
    response = admin_client.post("/admin/organizations/apikey/add/", {
        "cert": certs["banking"].pk, "name": "Bank SOAR", "scope": "read",
        "expires_days": "5000"})
    assert response.status_code == 200
    assert "A key expires after 1 to 3650 days." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_the_admin_revokes_through_the_service(admin_client, certs):
    key, _ = api_key_issue(actor=None, cert=certs["banking"], name="Bank SOAR", scope="read")
    response = admin_client.post("/admin/organizations/apikey/", {
        "action": "revoke_selected", "_selected_action": [key.pk]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
