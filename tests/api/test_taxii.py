"""TAXII 2.1 at /taxii2/ (issue 11): media types, authentication, visibility, paging, the inbox."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from cert_portal.taxii import stix
from cert_portal.taxii.collections import collection_id
from incidents.models import Incident, Source
from organizations.api_keys import api_key_revoke
from organizations.models import ApiKey
from tests.advisories.conftest import make_advisory  # noqa: F401
from tests.api.taxii_support import BANKING_VALUES, LAHORE_VALUE, TAXII, make_world
from tests.factories import make_incident

INDICATORS = f"/taxii2/api/collections/{collection_id('indicators')}/"
ADVISORIES = f"/taxii2/api/collections/{collection_id('advisories')}/"
INBOX = f"/taxii2/api/collections/{collection_id('inbox')}/"


@pytest.fixture
def world(certs, make_advisory, clock):  # noqa: F811
    return make_world(certs, make_incident, make_advisory, clock)


def get(client, path, **params):
    return client.get(path, params, HTTP_ACCEPT=TAXII)


def values(objects):
    """The observable values the indicators and vulnerabilities of `objects` name."""
    found = set()
    for obj in objects:
        if obj["type"] == "indicator":
            found.add(obj["pattern"].split(" = '", 1)[1].rstrip("']"))
        elif obj["type"] == "vulnerability":
            found.add(obj["name"])
    return found


def test_discovery_api_root_and_collections(key_client, db):
    client = key_client("banking", scope="read")
    discovery = get(client, "/taxii2/")
    assert discovery.status_code == 200 and discovery["Content-Type"] == TAXII
    assert discovery.json()["api_roots"] == ["http://testserver/taxii2/api/"]
    root = get(client, "/taxii2/api/").json()
    assert root["versions"] == [TAXII] and root["max_content_length"] > 0
    listed = {c["title"]: c for c in get(client, "/taxii2/api/collections/").json()["collections"]}
    assert set(listed) == {"Indicators", "Advisories", "Inbox"}
    assert listed["Indicators"]["can_read"] and not listed["Indicators"]["can_write"]
    assert not listed["Inbox"]["can_read"] and not listed["Inbox"]["can_write"]  # a read key
    writer = get(key_client("banking"), INBOX).json()
    assert writer["can_write"] and writer["media_types"] == ["application/stix+json;version=2.1"]


def test_wrong_accept_is_406_and_missing_credentials_401(key_client, db):
    client = key_client("banking", scope="read")
    refused = client.get("/taxii2/api/", HTTP_ACCEPT="application/xml")
    assert refused.status_code == 406 and refused["Content-Type"] == TAXII
    assert "application/taxii+json;version=2.1" in refused.json()["description"]
    assert client.get("/taxii2/api/", HTTP_ACCEPT="application/taxii+json;version=2.0").status_code == 406
    assert client.get("/taxii2/api/", HTTP_ACCEPT="application/taxii+json").status_code == 200
    anonymous = APIClient().get("/taxii2/api/collections/", HTTP_ACCEPT=TAXII)
    assert anonymous.status_code == 401 and anonymous.json()["http_status"] == "401"


def test_revoked_and_expired_keys_are_refused(key_client, db):
    revoked = key_client("banking")
    assert get(revoked, INDICATORS + "objects/").status_code == 200
    api_key_revoke(actor=None, key=revoked.api_key)
    assert get(revoked, INDICATORS + "objects/").status_code == 401
    expired = key_client("banking")
    ApiKey.objects.filter(pk=expired.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = get(expired, INDICATORS + "objects/")
    assert answer.status_code == 401 and "not valid" in answer.json()["description"]


def test_unknown_collection_is_404(key_client, db):
    client = key_client("banking")
    assert get(client, "/taxii2/api/collections/no-such-collection/").status_code == 404
    assert get(client, "/taxii2/api/collections/no-such-collection/objects/").status_code == 404


def test_indicators_follow_incident_visibility(key_client, world):
    own = get(key_client("banking", scope="read"), INDICATORS + "objects/").json()["objects"]
    assert values(own) == BANKING_VALUES | {"CVE-2024-12345"}  # not lahore's incident
    by_type = {obj["type"] for obj in own}
    assert by_type == {"marking-definition", "identity", "indicator", "vulnerability"}
    banking_ids = {obj["id"] for obj in own if obj["type"] in ("indicator", "vulnerability")}
    # An unrelated CERT never sees banking's TLP:AMBER incident's indicators; its parent does.
    unrelated = get(key_client("telecom", scope="read"), INDICATORS + "objects/").json()["objects"]
    assert values(unrelated) == set()
    oversight = get(key_client("cii", scope="read"), INDICATORS + "objects/").json()["objects"]
    assert values(oversight) == BANKING_VALUES | {"CVE-2024-12345"}
    punjab = get(key_client("punjab", scope="read"), INDICATORS + "objects/").json()["objects"]
    assert values(punjab) == {LAHORE_VALUE}
    # ... and asking for one of them by id is a 404 for the unrelated CERT.
    one = sorted(banking_ids)[0]
    assert get(key_client("telecom"), f"{INDICATORS}objects/{one}/").status_code == 404
    assert get(key_client("telecom"), f"{INDICATORS}objects/", **{"match[id]": one}).json() == {
        "more": False}
    found = get(key_client("banking"), f"{INDICATORS}objects/{one}/")
    assert found.status_code == 200 and [o["id"] for o in found.json()["objects"]] == [one]


def test_indicator_objects_carry_pattern_marking_and_creator(key_client, world, certs):
    objects = get(key_client("banking"), INDICATORS + "objects/").json()["objects"]
    indicators = {obj["pattern"]: obj for obj in objects if obj["type"] == "indicator"}
    assert set(indicators) >= {
        "[ipv4-addr:value = '192.0.2.10']", "[ipv6-addr:value = '2001:db8::7']",
        "[domain-name:value = 'evil.example.com']", "[url:value = 'http://bad.example.net/login']",
        "[email-addr:value = 'attacker@evil.example.com']",
        "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
        "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"}
    ip = indicators["[ipv4-addr:value = '192.0.2.10']"]
    assert ip["object_marking_refs"] == ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]
    assert ip["created_by_ref"] == stix.identity_id("banking")
    assert ip["external_references"][0]["external_id"] == world["banking"].reference
    identities = {obj["id"]: obj for obj in objects if obj["type"] == "identity"}
    assert identities[stix.identity_id("banking")]["name"] == certs["banking"].name
    markings = {obj["name"]: obj["id"] for obj in objects if obj["type"] == "marking-definition"}
    assert markings["TLP:AMBER+STRICT"] == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
    # The same row is the same object in the next answer.
    again = get(key_client("cii"), INDICATORS + "objects/").json()["objects"]
    assert {o["id"] for o in again if o["type"] == "indicator"} == {o["id"] for o in indicators.values()}


def test_advisories_follow_advisory_access(key_client, world):
    public = world["public"]
    seen = get(key_client("banking"), ADVISORIES + "objects/").json()["objects"]
    reports = [obj for obj in seen if obj["type"] == "report"]
    assert [r["external_references"][0]["external_id"] for r in reports] == [public.reference]
    vulnerabilities = {obj["name"]: obj["id"] for obj in seen if obj["type"] == "vulnerability"}
    assert set(vulnerabilities) == {"CVE-2024-1111", "CVE-2023-22222"}
    assert set(reports[0]["object_refs"]) == set(vulnerabilities.values())
    assert reports[0]["object_marking_refs"] == [stix.TLP2_IDS["TLP:CLEAR"]]
    own = get(key_client("lahore"), ADVISORIES + "objects/", **{"match[type]": "report"}).json()
    assert {r["external_references"][0]["external_id"] for r in own["objects"]} == {
        public.reference, world["amber"].reference}


def test_pages_cost_the_same_queries_whatever_their_size(key_client, certs, clock):
    for number in range(12):
        make_incident(owner_cert=certs["banking"], title=f"Scan {number}",
                      description=f"from 203.0.113.{number + 1} and host{number}.example.org")
    client = key_client("banking", scope="read")
    get(client, INDICATORS + "objects/")  # the key's last use is recorded once a minute

    def count(limit):
        with CaptureQueriesContext(connection) as queries:
            answer = get(client, INDICATORS + "objects/", limit=limit)
        assert answer.status_code == 200 and len(answer.json()["objects"]) == limit
        return len(queries)

    assert count(3) == count(30)


def test_bad_filters_and_cursors_answer_400(key_client, db):
    client = key_client("banking")
    for params, words in [({"limit": "ten"}, "limit"), ({"limit": "0"}, "limit"),
                          ({"added_after": "yesterday"}, "added_after"),
                          ({"match[version]": "2026-13-01"}, "match[version]"),
                          ({"next": "not-a-cursor"}, "next")]:
        answer = get(client, INDICATORS + "objects/", **params)
        assert answer.status_code == 400, params
        assert words in answer.json()["description"]


def envelope(*objects):
    return json.dumps({"objects": list(objects)})


INDICATOR = {"type": "indicator", "spec_version": "2.1",
             "id": "indicator--0b7bbd5f-3f0f-4b5c-9a46-3a8b4e2c1f10",
             "created": "2026-01-02T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
             "pattern": "[ipv4-addr:value = '198.51.100.9'] OR [domain-name:value = 'c2.example.net']",
             "pattern_type": "stix", "valid_from": "2026-01-02T00:00:00Z",
             "object_marking_refs": [stix.TLP2_IDS["TLP:AMBER+STRICT"]]}


def post(client, body, content_type=TAXII):
    return client.generic("POST", INBOX + "objects/", body, content_type=content_type,
                          HTTP_ACCEPT=TAXII)


def test_inbox_opens_an_incident_of_the_keys_cert(key_client, certs, db):
    client = key_client("banking")
    unusable = {**INDICATOR, "id": "indicator--9d4f3c4e-1b2a-4c3d-8e9f-0a1b2c3d4e5f",
                "pattern": "[process:pid = 4]"}
    answer = post(client, envelope(INDICATOR, unusable))
    assert answer.status_code == 202 and answer["Content-Type"] == TAXII
    status = answer.json()
    assert status["status"] == "complete" and status["success_count"] == 1
    assert status["failures"][0]["id"] == unusable["id"]
    incident = Incident.objects.get(public_id=status["id"])
    assert incident.owner_cert == certs["banking"] and incident.source == Source.TAXII
    assert incident.tlp == "TLP:AMBER+STRICT"
    assert set(incident.observables.values_list("type", "value")) == {
        ("ipv4", "198.51.100.9"), ("domain", "c2.example.net")}
    assert incident.created_by == client.api_key.service_user
    later = get(client, f"/taxii2/api/status/{status['id']}/")
    assert later.status_code == 200 and later.json()["success_count"] == 2
    # The status of another CERT's inbox request is not there for it.
    assert get(key_client("telecom"), f"/taxii2/api/status/{status['id']}/").status_code == 404


def test_inbox_refuses_read_keys_and_read_collections(key_client, db):
    answer = post(key_client("banking", scope="read"), envelope(INDICATOR))
    assert answer.status_code == 403 and "read-write" in answer.json()["description"]
    refused = key_client("banking").generic("POST", INDICATORS + "objects/", envelope(INDICATOR),
                                           content_type=TAXII, HTTP_ACCEPT=TAXII)
    assert refused.status_code == 403
    assert not Incident.objects.exists()


@pytest.mark.parametrize("body, content_type, status, words", [
    (envelope(INDICATOR), "application/json", 415, "application/taxii+json"),
    ("{not json", TAXII, 400, "not JSON"),
    (json.dumps({"indicators": []}), TAXII, 400, "\"objects\" list"),
    (envelope(), TAXII, 400, "empty"),
    (envelope({"type": "indicator"}), TAXII, 400, "Object 1"),
    (envelope({**INDICATOR, "pattern": "[ipv4-addr:value = 'not an ip']"}), TAXII, 400,
     "could be stored"),
    (envelope({**INDICATOR, "pattern": "[ipv4-addr:value = "}), TAXII, 400, "does not parse"),
])
def test_bad_envelopes_store_nothing(key_client, db, body, content_type, status, words):
    answer = post(key_client("banking"), body, content_type)
    assert answer.status_code == status and answer["Content-Type"] == TAXII
    assert words in answer.json()["description"]
    assert not Incident.objects.exists()


def test_row_ids_round_trip():
    made = stix.row_uuid("advisory-cve", 123456789, stix.cve_number("CVE-2024-1234567"))
    assert stix.parse_row_uuid(made) == ("advisory-cve", 123456789, stix.cve_number("CVE-2024-1234567"))
    assert made[14] == "5"  # an RFC 4122 version-5 UUID
    assert stix.parse_row_uuid("0b7bbd5f-3f0f-4b5c-9a46-3a8b4e2c1f10") is None
