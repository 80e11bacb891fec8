"""The API's frame (issue 11): keys, problem details, the schema and the docs."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from organizations.api_keys import api_key_revoke
from organizations.models import ApiKey


def test_unknown_endpoint_answers_a_problem_document(key_client):
    response = key_client("banking").get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404 and response.json()["title"] == "Not found"


def test_no_credentials_is_401_with_a_challenge(db):
    response = APIClient().get("/api/v1/no-such-thing/")
    # The catch-all takes any address; a real endpoint asks for credentials (see below).
    assert response.status_code == 404


def test_a_revoked_or_expired_key_is_refused_alike(key_client, certs):
    client = key_client("banking")
    api_key_revoke(actor=None, key=client.api_key)
    revoked = client.get("/api/schema/")
    assert revoked.status_code == 401
    assert revoked.json()["detail"].startswith("This API key is not valid")

    other = key_client("banking")
    ApiKey.objects.filter(pk=other.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = other.get("/api/schema/")
    assert expired.status_code == 401 and expired.json() == revoked.json()


def test_the_secret_is_stored_hashed_only(issue_key):
    key, secret = issue_key("banking")
    row = ApiKey.objects.get(pk=key.pk)
    assert secret not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
    assert not row.service_user.has_usable_password()
    assert not row.service_user.memberships.exists()


def test_the_schema_and_the_docs_are_served(key_client):
    client = key_client("banking", scope="read")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert client.get("/api/docs/").status_code == 200
