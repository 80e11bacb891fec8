"""The TAXII server with the independent client taxii2-client (issue 11): discovery, collections,
paging through everything with a small limit, each filter, the inbox; every object validates with
stix2-validator. Requests go through a requests adapter onto the Django test client."""

import json

import pytest
from stix2validator import ValidationOptions, validate_instance
from taxii2client import common
from taxii2client.v21 import Server, as_pages

from incidents.models import Incident, Source
from tests.advisories.conftest import make_advisory  # noqa: F401
from tests.api.taxii_support import Bearer, DjangoTestAdapter, make_world
from tests.factories import make_incident

BASE = "http://testserver/taxii2/"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every connection the client makes (it makes one per API root) answers from Django."""
    original = common._HTTPConnection.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.session.mount("http://testserver/", DjangoTestAdapter())

    monkeypatch.setattr(common._HTTPConnection, "__init__", init)


@pytest.fixture
def world(certs, make_advisory, clock):  # noqa: F811
    return make_world(certs, make_incident, make_advisory, clock)


def connect(issue_key, slug, scope="read") -> Server:
    _, secret = issue_key(slug, scope=scope)
    return Server(BASE, auth=Bearer(secret))


def collections_of(server):
    return {c.title: c for c in server.default.collections}


def everything(collection, per_request, **filters):
    objects = []
    for envelope in as_pages(collection.get_objects, per_request=per_request, **filters):
        objects.extend(envelope.get("objects", []))
    return objects


def test_discovery_and_collections(issue_key, world):
    server = connect(issue_key, "banking")
    assert server.title and server.default.url == "http://testserver/taxii2/api/"
    assert server.default.versions == ["application/taxii+json;version=2.1"]
    found = collections_of(server)
    assert set(found) == {"Indicators", "Advisories", "Inbox"}
    assert found["Indicators"].can_read and not found["Inbox"].can_write


def test_paging_with_a_small_limit_gives_every_object_once_and_all_validate(issue_key, world):
    server = connect(issue_key, "cii")
    indicators = collections_of(server)["Indicators"]
    whole = indicators.get_objects()["objects"]
    paged = everything(indicators, 2)
    assert [o["id"] for o in paged] == [o["id"] for o in whole]  # same order, no repeats
    assert len(paged) > 10
    advisories = everything(collections_of(server)["Advisories"], 3)
    options = ValidationOptions(version="2.1")
    for obj in paged + advisories:
        result = validate_instance(obj, options)
        assert result.is_valid, (obj, [str(e) for e in result.errors])
    manifest = collections_of(server)["Indicators"].get_manifest(limit=4)
    assert manifest["more"] and len(manifest["objects"]) == 4
    assert {"id", "date_added", "version", "media_type"} <= set(manifest["objects"][0])


def test_each_filter(issue_key, world, clock):
    server = connect(issue_key, "cii")
    indicators = collections_of(server)["Indicators"]
    whole = indicators.get_objects()["objects"]
    by_type = everything(indicators, 2, type="vulnerability")
    assert [o["name"] for o in by_type] == ["CVE-2024-12345"]
    two = [o["id"] for o in whole if o["type"] == "indicator"][:2]
    assert {o["id"] for o in indicators.get_objects(id=two)["objects"]} == set(two)
    one = next(o for o in whole if o["type"] == "indicator")
    assert indicators.get_objects(id=one["id"], version=one["modified"])["objects"] == [one]
    assert indicators.get_objects(id=one["id"], version="2001-01-01T00:00:00.000Z") == {"more": False}
    for keyword in ("first", "last", "all"):
        assert indicators.get_objects(id=one["id"], version=keyword)["objects"] == [one]
    assert indicators.get_object(one["id"])["objects"] == [one]
    assert indicators.object_versions(one["id"])["versions"] == [one["modified"]]
    # added_after: only what was added since (a new incident later on the clock).
    cutoff = clock.now
    clock.advance(minutes=1)
    make_incident(owner_cert=world["banking"].owner_cert, title="Later", description="from 192.0.2.99")
    since = everything(indicators, 1, added_after=cutoff)
    assert [o["pattern"] for o in since if o["type"] == "indicator"] == ["[ipv4-addr:value = '192.0.2.99']"]
    # (the CERTs' identities were made on the real clock, after the frozen one: they count too)
    assert {o["type"] for o in since} <= {"indicator", "identity"}
    added = [o["date_added"] for o in indicators.get_manifest(added_after=cutoff)["objects"]]
    assert added and all(stamp > cutoff.isoformat().replace("+00:00", "") for stamp in added)
    response = indicators._conn.session.get(
        indicators.objects_url, params={"added_after": cutoff.isoformat(), "match[type]": "indicator"},
        headers={"Accept": "application/taxii+json;version=2.1"})
    assert response.headers["X-TAXII-Date-Added-First"] == response.headers["X-TAXII-Date-Added-Last"]
    assert response.headers["X-TAXII-Date-Added-First"].endswith("Z")
    assert everything(indicators, 5, spec_version="2.0") == []


def test_inbox_through_the_client(issue_key, world, certs):
    server = connect(issue_key, "banking", scope="read-write")
    inbox = collections_of(server)["Inbox"]
    assert inbox.can_write
    envelope = {"objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--0b7bbd5f-3f0f-4b5c-9a46-3a8b4e2c1f10",
        "created": "2026-01-02T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
        "pattern": "[url:value = 'http://phish.example.org/a']", "pattern_type": "stix",
        "valid_from": "2026-01-02T00:00:00Z"}]}
    status = inbox.add_objects(json.dumps(envelope))
    assert status.status == "complete" and status.success_count == 1
    incident = Incident.objects.get(public_id=status.id)
    assert incident.source == Source.TAXII and incident.owner_cert == certs["banking"]
    assert list(incident.observables.values_list("value", flat=True)) == ["http://phish.example.org/a"]
    again = server.default.get_status(status.id)
    assert again.success_count == 1
