"""The incidents API's lists cost a constant number of queries (issue 11): the same for a page of
10 and of 100, and the same with 10 and with 1,000 incidents in the database; keyset pages, never
a COUNT."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Observable
from tests.factories import make_incident
from tests.incidents.support import T0, bulk_incidents


def queries(client, path: str) -> tuple[int, dict, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.json()
    return len(captured), response.json(), [query["sql"] for query in captured.captured_queries]


def bulk(cert, count: int, tag: str) -> list[int]:
    return bulk_incidents(cert, count, tag=tag, reported=T0 - timedelta(days=1),
                          ack_due=T0 + timedelta(hours=4), resolve_due=T0 + timedelta(days=7))


@pytest.mark.parametrize("slug", ["lahore", "national"])
def test_list_pages_of_10_and_100_cost_the_same(slug, key_client, certs, clock):
    bulk(certs["lahore"], 120, "pages")
    client = key_client(slug, scope="read")
    client.get("/api/v1/incidents/")  # records the key's first use (one UPDATE a minute)

    small, small_page, _ = queries(client, "/api/v1/incidents/?page_size=10")
    large, large_page, sql = queries(client, "/api/v1/incidents/?page_size=100")
    assert (len(small_page["results"]), len(large_page["results"])) == (10, 100)
    assert small == large <= 3  # the key, the page, the audit trail's API_KEY_USED (issue 13)
    assert not any("COUNT(" in statement.upper() for statement in sql)

    # The next page by its cursor costs the same again.
    following, following_page, _ = queries(client, large_page["next"])
    assert following == large and len(following_page["results"]) == 20


@pytest.mark.parametrize("slug", ["lahore", "national"])
def test_the_list_costs_the_same_with_10_and_1000_incidents(slug, key_client, certs, clock):
    bulk(certs["lahore"], 10, "few")
    client = key_client(slug, scope="read")
    client.get("/api/v1/incidents/")

    few, few_page, _ = queries(client, "/api/v1/incidents/?page_size=50&status=new")
    assert len(few_page["results"]) == 10
    bulk(certs["lahore"], 990, "many")
    many, many_page, sql = queries(client, "/api/v1/incidents/?page_size=50&status=new")
    assert len(many_page["results"]) == 50 and many_page["next"]
    # The key, the page, and the audit trail's API_KEY_USED INSERT (issue 13).
    assert few == many <= 3
    assert not any("COUNT(" in statement.upper() for statement in sql)


def test_observable_search_and_timeline_pages_cost_the_same(key_client, certs, clock):
    ids = bulk(certs["lahore"], 120, "obs")
    Observable.objects.bulk_create([Observable(incident_id=pk, type="ipv4", value="203.0.113.7",
                                               created_at=T0) for pk in ids])
    client = key_client("national", scope="read")
    client.get("/api/v1/incidents/")

    small, small_page, _ = queries(client, "/api/v1/observables/?value=203.0.113.7&page_size=10")
    large, large_page, _ = queries(client, "/api/v1/observables/?value=203.0.113.7&page_size=100")
    assert (len(small_page["results"]), len(large_page["results"])) == (10, 100)
    # One more than before issue 13: the audit trail's API_KEY_USED INSERT.
    assert small == large <= 4

    incident = make_incident(owner_cert=certs["lahore"])
    owner = key_client("lahore")
    for n in range(30):
        owner.post(f"/api/v1/incidents/{incident.reference}/comments/", {"body": f"c{n}"},
                   format="json")
    path = f"/api/v1/incidents/{incident.reference}/timeline/"
    small, small_page, _ = queries(owner, path + "?page_size=5")
    large, large_page, _ = queries(owner, path + "?page_size=25")
    assert (len(small_page["results"]), len(large_page["results"])) == (5, 25)
    # The key, the incident, the events with their actors, and the API_KEY_USED INSERT.
    assert small == large <= 4
