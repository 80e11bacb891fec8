"""The MISP feed at /misp/ (issue 11, point 7): a partner's MISP walks it as MISP does."""

import hashlib
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from incidents.models import Status
from organizations.api_keys import api_key_revoke
from tests.advisories.conftest import make_advisory  # noqa: F401
from tests.factories import make_incident
from tests.twofactor import sign_in

# Distinctive values: each appears in exactly one incident or advisory below.
OWN = "203.0.113.77 and http://own-banking-c2.example/gate.php and 44d88612fea8a474f0ad48b5bb6a1d2c"
CHILD = "child-soc-phish.example"
OTHER_CERT = "telecom-secret-c2.example"
STRICT_CHILD = "strict-soc-only.example"
REJECTED = "rejected-report.example"
GREEN_ADVISORY = "green-advisory-ioc.example"
AMBER_ADVISORY_ELSEWHERE = "amber-telecom-advisory.example"


def _md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()


def walk(client) -> tuple[dict, dict[str, dict], list[str], str]:
    """Fetch manifest.json, every event it lists and hashes.csv, as MISP's feed fetch does:
    (manifest, {uuid: event}, hashes.csv lines, every body as one text)."""
    manifest_response = client.get("/misp/manifest.json")
    assert manifest_response.status_code == 200, manifest_response.content
    assert manifest_response["Content-Type"] == "application/json"
    manifest = manifest_response.json()
    events, bodies = {}, [manifest_response.content.decode()]
    for event_uuid in manifest:
        response = client.get(f"/misp/{event_uuid}.json")
        assert response.status_code == 200, (event_uuid, response.content)
        events[event_uuid] = response.json()["Event"]
        bodies.append(response.content.decode())
    hashes = client.get("/misp/hashes.csv")
    assert hashes.status_code == 200 and hashes["Content-Type"].startswith("text/csv")
    text = b"".join(hashes.streaming_content).decode()
    bodies.append(text)
    return manifest, events, text.splitlines(), "\n".join(bodies)


@pytest.fixture
def world(certs, make_advisory, clock):  # noqa: F811
    """Incidents and advisories around a key of the Banking CERT."""
    made = {
        "own": make_incident(owner_cert=certs["banking"], title="Credential phishing at a bank",
                             description=f"Seen: {OWN}", severity=4),
        "child": make_incident(owner_cert=certs["example-bank-soc"], tlp="TLP:AMBER",
                               description=f"Lure hosted at {CHILD}"),
        "other": make_incident(owner_cert=certs["telecom"], tlp="TLP:AMBER",
                               description=f"Beacons to {OTHER_CERT}"),
        "strict": make_incident(owner_cert=certs["example-bank-soc"], tlp="TLP:AMBER+STRICT",
                                description=f"Internal only: {STRICT_CHILD}"),
        "quiet": make_incident(owner_cert=certs["banking"], description="Nothing to extract"),
        "rejected": make_incident(owner_cert=certs["banking"], description=f"Spam about {REJECTED}"),
        "green": make_advisory(cert="national", tlp="TLP:GREEN", cve_ids=["CVE-2026-1234"],
                               indicators=[{"type": "domain", "value": GREEN_ADVISORY}]),
        "amber_elsewhere": make_advisory(cert="national", tlp="TLP:AMBER",
                                         audience_ids=[certs["telecom"].pk],
                                         indicators=[{"type": "domain", "value": AMBER_ADVISORY_ELSEWHERE}]),
        "clear_without_indicators": make_advisory(cert="national", tlp="TLP:CLEAR"),
    }
    from incidents.models import Incident

    Incident.objects.filter(pk=made["rejected"].pk).update(status=Status.REJECTED)
    assert made["own"].observables.count() == 3 and not made["quiet"].observables.exists()
    return made


def test_a_misp_consumer_walk_sees_exactly_what_the_cert_may_see(key_client, world):
    client = key_client("banking", scope="read")
    manifest, events, lines, everything = walk(client)

    expected = {str(world[name].public_id) for name in ("own", "child", "green")}
    assert set(manifest) == expected
    # hashes.csv and the events' attributes name the same values, both ways.
    from_events = {f"{_md5(attribute['value'])},{event_uuid}"
                   for event_uuid, event in events.items() for attribute in event["Attribute"]}
    assert set(lines) == from_events and len(lines) == len(from_events) == 3 + 1 + 2
    for value in (CHILD, GREEN_ADVISORY, "CVE-2026-1234", "203.0.113.77",
                  "http://own-banking-c2.example/gate.php", "44d88612fea8a474f0ad48b5bb6a1d2c"):
        assert value in everything
    for value in (OTHER_CERT, STRICT_CHILD, REJECTED, AMBER_ADVISORY_ELSEWHERE):
        assert value not in everything
        assert _md5(value) not in everything
    for name in ("other", "strict", "quiet", "rejected", "amber_elsewhere", "clear_without_indicators"):
        assert str(world[name].public_id) not in everything


def test_events_carry_misp_fields_types_and_the_tlp_tag(key_client, world):
    client = key_client("banking", scope="read")
    own = world["own"]
    entry = client.get("/misp/manifest.json").json()[str(own.public_id)]
    event = client.get(f"/misp/{own.public_id}.json").json()["Event"]

    assert entry == {"Orgc": event["Orgc"], "Tag": [{"name": "tlp:amber", "colour": "#FFC000"}],
                     "info": f"{own.reference}: Credential phishing at a bank",
                     "date": own.reported_at.date().isoformat(), "analysis": 0,
                     "threat_level_id": 1, "timestamp": str(int(own.updated_at.timestamp()))}
    assert event["Orgc"]["name"] == "Banking Sector CERT"
    assert event["uuid"] == str(own.public_id) and event["published"] is True
    assert event["timestamp"] == entry["timestamp"] and event["timestamp"].isdigit()
    kinds = {attribute["value"]: (attribute["type"], attribute["category"], attribute["to_ids"])
             for attribute in event["Attribute"]}
    assert kinds == {"203.0.113.77": ("ip-dst", "Network activity", True),
                     "http://own-banking-c2.example/gate.php": ("url", "Network activity", True),
                     "44d88612fea8a474f0ad48b5bb6a1d2c": ("md5", "Payload delivery", True)}
    assert all(attribute["timestamp"].isdigit() for attribute in event["Attribute"])

    green = client.get(f"/misp/{world['green'].public_id}.json").json()["Event"]
    assert green["Tag"] == [{"name": "tlp:green", "colour": "#33FF00"}]
    assert {(a["type"], a["value"]) for a in green["Attribute"]} == {
        ("domain", GREEN_ADVISORY), ("vulnerability", "CVE-2026-1234")}


def test_uuids_are_stable_between_fetches(key_client, world):
    first = key_client("banking").get(f"/misp/{world['own'].public_id}.json").json()["Event"]
    again = key_client("banking").get(f"/misp/{world['own'].public_id}.json").json()["Event"]
    assert [a["uuid"] for a in first["Attribute"]] == [a["uuid"] for a in again["Attribute"]]
    assert len({a["uuid"] for a in first["Attribute"]}) == 3


def test_a_stricter_tlp_shows_in_the_tag(key_client, world, member):
    from incidents.services import incident_change_tlp

    incident_change_tlp(incident=world["own"], actor=member("banking", "head"), tlp="TLP:RED",
                        reason="Limit it")
    manifest = key_client("banking").get("/misp/manifest.json").json()
    assert manifest[str(world["own"].public_id)]["Tag"][0]["name"] == "tlp:red"


def test_another_certs_event_is_404_and_its_own_cert_reads_it(key_client, world):
    other = world["other"]
    refused = key_client("banking").get(f"/misp/{other.public_id}.json")
    assert refused.status_code == 404
    assert refused["Content-Type"] == "application/problem+json" and refused.json()["status"] == 404
    missing = key_client("banking").get("/misp/00000000-0000-4000-8000-000000000000.json")
    assert missing.status_code == 404 and missing.json() == refused.json()

    allowed = key_client("telecom").get(f"/misp/{other.public_id}.json")
    assert allowed.status_code == 200
    assert [a["value"] for a in allowed.json()["Event"]["Attribute"]] == [OTHER_CERT]
    # An ancestor sees the AMBER+STRICT incident of its child nowhere; the child's own key does.
    assert key_client("banking").get(f"/misp/{world['strict'].public_id}.json").status_code == 404
    assert key_client("example-bank-soc").get(f"/misp/{world['strict'].public_id}.json").status_code == 200


def test_other_addresses_are_problem_documents(key_client, db):
    response = key_client("banking").get("/misp/events/index.json")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/misp/manifest.json", "/misp/hashes.csv",
                                  "/misp/00000000-0000-4000-8000-000000000000.json"])
def test_without_or_with_a_revoked_key_is_401(key_client, db, path):
    anonymous = APIClient().get(path)
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/problem+json"
    assert anonymous["WWW-Authenticate"].startswith("Bearer")

    client = key_client("banking")
    assert client.get("/misp/manifest.json").status_code == 200
    api_key_revoke(actor=None, key=client.api_key)
    revoked = client.get(path)
    assert revoked.status_code == 401 and revoked.json()["detail"].startswith("This API key is not valid")


def test_a_member_with_both_factors_reads_the_feed_in_a_browser(member, world):
    analyst = member("banking", "analyst")
    half_signed_in = Client()
    half_signed_in.force_login(analyst)
    assert half_signed_in.get("/misp/manifest.json").status_code == 403

    manifest = sign_in(Client(), analyst).get("/misp/manifest.json").json()
    assert str(world["own"].public_id) in manifest and str(world["other"].public_id) not in manifest


def test_the_cap_bounds_manifest_and_hashes_alike(key_client, world, settings, clock):
    clock.advance(minutes=5)
    from incidents.services import incident_add_observable

    incident_add_observable(incident=world["child"], actor=None, type="domain", value="later.example")
    settings.MISP_FEED_MAX_EVENTS = 1
    client = key_client("banking")
    manifest = client.get("/misp/manifest.json").json()
    # The most recently changed incident, and the one advisory.
    assert set(manifest) == {str(world["child"].public_id), str(world["green"].public_id)}
    lines = b"".join(client.get("/misp/hashes.csv").streaming_content).decode().splitlines()
    assert {line.split(",")[1] for line in lines} == set(manifest)
    assert f"{_md5('later.example')},{world['child'].public_id}" in lines


def test_the_manifest_costs_the_same_queries_at_3_and_30_incidents(key_client, certs, clock,
                                                                   django_assert_num_queries):
    client = key_client("banking")
    for number in range(3):
        make_incident(owner_cert=certs["banking"], description=f"host-{number}.example")
    client.get("/misp/manifest.json")  # the key's use is recorded once a minute: not below
    with CaptureQueriesContext(connection) as few:
        small = client.get("/misp/manifest.json")
    assert len(small.json()) == 3
    for number in range(3, 30):
        make_incident(owner_cert=certs["example-bank-soc"],
                      description=f"host-{number}.example 198.51.100.{number}")
    with django_assert_num_queries(len(few.captured_queries)):
        large = client.get("/misp/manifest.json")
    assert len(json.loads(large.content)) == 30
    # The key, the incidents, the advisories: nothing per event or per observable; and the
    # audit trail's API_KEY_USED INSERT (issue 13).
    assert len(few.captured_queries) == 4


def test_the_feed_is_throttled_per_key_on_its_own_budget(key_client, db, monkeypatch):
    from django.core.cache import cache

    from cert_portal.misp.views import FeedThrottle

    cache.clear()
    monkeypatch.setattr(FeedThrottle, "THROTTLE_RATES", {"misp_feed": "2/minute"})
    busy, other = key_client("banking"), key_client("banking")
    assert [busy.get("/misp/manifest.json").status_code for _ in range(2)] == [200, 200]
    refused = busy.get("/misp/hashes.csv")
    assert refused.status_code == 429 and refused["Content-Type"] == "application/problem+json"
    assert refused.has_header("Retry-After")
    assert other.get("/misp/manifest.json").status_code == 200
