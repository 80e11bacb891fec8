"""/api/v1/certs/ (issue 11): the public registry and the caller's relation to each CERT."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.api_keys import api_key_revoke
from organizations.models import ApiKey, Cert
from tests.twofactor import sign_in


def results(response) -> dict[str, dict]:
    assert response.status_code == 200, response.content
    return {row["slug"]: row for row in response.json()["results"]}


def test_a_key_reads_every_active_cert_with_its_relation(key_client, certs):
    client = key_client("banking", scope="read")
    rows = results(client.get("/api/v1/certs/", {"page_size": 200}))
    assert set(rows) == set(Cert.objects.filter(is_active=True).values_list("slug", flat=True))
    assert rows["banking"]["relation"] == "own" and rows["banking"]["role"] == "liaison"
    assert rows["cii"]["relation"] == "ancestor" and rows["national"]["relation"] == "ancestor"
    assert rows["example-bank-soc"]["relation"] == "descendant"
    assert rows["telecom"]["relation"] == "unrelated" and rows["telecom"]["role"] is None
    assert rows["banking"]["parent"] == "cii" and rows["national"]["parent"] is None
    assert rows["banking"]["name"] == certs["banking"].name
    assert rows["banking"]["kind"] == "sectoral"


def test_a_read_write_key_acts_as_a_handler_of_its_cert(key_client):
    response = key_client("lahore").get("/api/v1/certs/lahore/")
    assert response.status_code == 200
    assert response.json()["relation"] == "own" and response.json()["role"] == "handler"
    assert key_client("lahore").get("/api/v1/certs/punjab/").json()["relation"] == "ancestor"
    assert key_client("punjab").get("/api/v1/certs/lahore/").json()["relation"] == "descendant"


def test_an_unknown_or_inactive_slug_is_404(key_client, certs):
    client = key_client("banking")
    missing = client.get("/api/v1/certs/no-such-cert/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    Cert.objects.filter(slug="federal-data-registry-soc").update(is_active=False)
    assert client.get("/api/v1/certs/federal-data-registry-soc/").status_code == 404
    listed = results(client.get("/api/v1/certs/", {"page_size": 200}))
    assert "federal-data-registry-soc" not in listed and "banking" in listed


def test_no_credentials_expired_or_revoked_keys_are_401(key_client):
    anonymous = APIClient().get("/api/v1/certs/")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert anonymous["Content-Type"] == "application/problem+json"

    revoked = key_client("banking")
    api_key_revoke(actor=None, key=revoked.api_key)
    assert revoked.get("/api/v1/certs/banking/").status_code == 401

    expired = key_client("banking")
    ApiKey.objects.filter(pk=expired.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert expired.get("/api/v1/certs/banking/").status_code == 401


def test_the_registry_is_read_only(key_client):
    assert key_client("banking", scope="read").post("/api/v1/certs/", {}).status_code == 403
    refused = key_client("banking").post("/api/v1/certs/", {})
    assert refused.status_code == 405 and "GET" in refused["Allow"]
    assert Cert.objects.filter(slug="").count() == 0


def test_a_signed_in_member_sees_relations_of_each_of_their_certs(client, member, certs):
    user = member("karachi", "analyst")
    sign_in(client, user)
    rows = results(client.get("/api/v1/certs/", {"page_size": 200}))
    assert rows["karachi"]["relation"] == "own" and rows["karachi"]["role"] == "analyst"
    assert rows["sindh"]["relation"] == "ancestor"
    assert rows["lahore"]["relation"] == "unrelated"


def test_a_session_without_the_second_factor_is_refused(client, member):
    client.force_login(member("karachi", "analyst"))
    assert client.get("/api/v1/certs/").status_code == 403


def test_pages_follow_the_cursor_without_repeats(key_client, certs):
    client = key_client("banking", scope="read")
    seen, url = [], "/api/v1/certs/?page_size=5"
    while url:
        page = client.get(url).json()
        seen += [row["slug"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted(Cert.objects.filter(is_active=True).values_list("slug", flat=True))


@pytest.mark.parametrize("size", [10, 100])
def test_the_list_costs_the_same_queries_whatever_the_page_size(key_client, certs, size):
    client = key_client("banking")
    client.get("/api/v1/certs/")  # records the key's first use (one write per minute)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/certs/", {"page_size": size})
    assert len(response.json()["results"]) == min(size, Cert.objects.filter(is_active=True).count())
    # The key (one), the audit trail's API_KEY_USED (one, issue 13), the caller's CERTs (one),
    # the page (one).
    assert len(queries) == 4, [q["sql"] for q in queries]
