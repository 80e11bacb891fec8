"""Every operation of /api/v1/, as the OpenAPI schema lists them, refuses a revoked and an
expired key (401) and, for writes, a read key (403), and answers each with a problem document
(issue 11, "What it must show"). Reading the operations from the schema means a new endpoint is
covered the day it is added."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from organizations.api_keys import api_key_revoke
from organizations.models import ApiKey
from tests.factories import make_incident

PROBLEM = "application/problem+json"


@pytest.fixture
def operations(key_client, certs):
    """(method, url) of every operation, with its path parameters filled by a real object."""
    incident = make_incident(owner_cert=certs["banking"], title="Phishing of bank customers")
    schema = key_client("banking", scope="read").get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    values = {"reference": incident.reference, "slug": "banking"}
    found = []
    for path, methods in schema["paths"].items():
        url = path
        for name, value in values.items():
            url = url.replace("{" + name + "}", value)
        assert "{" not in url, f"no value for a parameter of {path}"
        found.extend((method.upper(), url) for method in methods)
    assert len(found) >= 20
    return found


def _call(client, method: str, url: str):
    return getattr(client, method.lower())(url, {}, format="json")


def test_a_revoked_and_an_expired_key_are_refused_by_every_operation(key_client, operations):
    revoked = key_client("banking")
    api_key_revoke(actor=None, key=revoked.api_key)
    expired = key_client("banking")
    ApiKey.objects.filter(pk=expired.api_key.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    before = Incident.objects.count()

    for method, url in operations:
        for client in (revoked, expired):
            response = _call(client, method, url)
            assert response.status_code == 401, (method, url)
            assert response["Content-Type"] == PROBLEM, (method, url)
    assert Incident.objects.count() == before


def test_a_read_key_is_refused_by_every_write(key_client, operations):
    read = key_client("banking", scope="read")
    writes = [(method, url) for method, url in operations if method not in ("GET", "HEAD")]
    assert writes

    for method, url in writes:
        response = _call(read, method, url)
        assert response.status_code == 403, (method, url)
        assert response.json()["detail"].startswith("This API key may only read"), (method, url)
