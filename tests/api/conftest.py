import pytest
from rest_framework.test import APIClient

from organizations.api_keys import api_key_issue
from tests.incidents.conftest import certs, clock, media, member, outsider  # noqa: F401


@pytest.fixture
def issue_key(certs):  # noqa: F811
    """issue_key("banking", scope="read-write", expires_days=90) -> (ApiKey, secret), issued by an
    operator (actor None) through organizations.api_keys."""

    def issue(slug: str, *, scope: str = "read-write", expires_days: int | None = 90,
              name: str = "test integration"):
        return api_key_issue(actor=None, cert=certs[slug], name=name, scope=scope,
                             expires_days=expires_days)

    return issue


@pytest.fixture
def key_client(issue_key):
    """key_client("banking", scope="read") -> an APIClient that sends a new key of that CERT."""

    def make(slug: str, **options) -> APIClient:
        key, secret = issue_key(slug, **options)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        client.api_key = key
        return client

    return make
