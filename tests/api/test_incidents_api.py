"""The incidents API (issue 11): every operation with a key of the owner CERT, of an ancestor
(oversight: it sees AMBER, works nothing), of an unrelated CERT (404), a read key writing (403),
and an expired or revoked key (401); the effects in the database, the timeline naming the key's
service user, 409 on a stale version, 400 naming the field, 413 and 415 as problem documents."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cert_portal.pagination import Direction, Position, encode_cursor
from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    Incident,
    IncidentShare,
    Observable,
    Source,
    Status,
    TimelineEvent,
)
from organizations.api_keys import api_key_revoke
from organizations.models import ApiKey
from tests.factories import make_incident

PROBLEM = "application/problem+json"


def url(incident, action: str = "") -> str:
    base = f"/api/v1/incidents/{incident.reference}/"
    return f"{base}{action}/" if action else base


def events(incident, kind) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind).order_by("pk"))


@pytest.fixture
def lahore_incident(certs):
    return make_incident(owner_cert=certs["lahore"], title="Defacement of lahore.gov.pk",
                         description="Seen from 203.0.113.7")


# --- Authentication -------------------------------------------------------------------------------


def test_no_key_an_expired_and_a_revoked_key_answer_401(key_client, lahore_incident):
    from rest_framework.test import APIClient

    anonymous = APIClient().get("/api/v1/incidents/")
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == PROBLEM
    assert anonymous["WWW-Authenticate"].startswith("Bearer")

    revoked = key_client("lahore")
    api_key_revoke(actor=None, key=revoked.api_key)
    expired = key_client("lahore")
    ApiKey.objects.filter(pk=expired.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    for client in (revoked, expired):
        for response in (client.get(url(lahore_incident)),
                         client.post(url(lahore_incident, "acknowledge"), {}, format="json")):
            assert response.status_code == 401
            assert response.json()["detail"].startswith("This API key is not valid")
    assert Incident.objects.get(pk=lahore_incident.pk).status == Status.NEW


# --- List -----------------------------------------------------------------------------------------


def test_the_list_holds_what_the_keys_cert_may_see(key_client, certs, lahore_incident):
    strict = make_incident(owner_cert=certs["lahore"], tlp="TLP:AMBER+STRICT", title="Strict")
    banking = make_incident(owner_cert=certs["banking"], title="Bank phishing")

    def references(slug):
        response = key_client(slug, scope="read").get("/api/v1/incidents/")
        assert response.status_code == 200
        return {row["reference"] for row in response.json()["results"]}

    assert references("lahore") == {lahore_incident.reference, strict.reference}
    # Oversight: an ancestor sees AMBER, not AMBER+STRICT.
    assert references("punjab") == {lahore_incident.reference}
    assert references("national") == {lahore_incident.reference, banking.reference}
    assert references("telecom") == set()


def test_the_list_filters_and_names_a_bad_parameter(key_client, certs, lahore_incident):
    high = make_incident(owner_cert=certs["lahore"], severity=4, tlp="TLP:GREEN")
    client = key_client("punjab", scope="read")

    def references(query):
        response = client.get(f"/api/v1/incidents/?{query}")
        assert response.status_code == 200, response.json()
        return [row["reference"] for row in response.json()["results"]]

    assert references("severity=4") == [high.reference]
    assert references("tlp=TLP:AMBER") == [lahore_incident.reference]
    assert references("status=new&owner=lahore") == [high.reference, lahore_incident.reference]
    assert references("owner=banking") == []
    assert references("classification=fraud") == [high.reference, lahore_incident.reference]
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    assert references(f"updated_since={later.replace('+', '%2B')}") == []

    for query, parameter in [("severity=9", "severity"), ("status=open", "status"),
                             ("tlp=TLP:WHITE", "tlp"), ("owner=nowhere", "owner"),
                             ("updated_since=yesterday", "updated_since"),
                             ("classification=nonsense", "classification"),
                             ("cursor=damaged", "cursor"), ("page_size=0", "page_size"),
                             (f"cursor={encode_cursor(Direction.OLDER, Position(timezone.now(), 2**70))}",
                              "cursor")]:
        response = client.get(f"/api/v1/incidents/?{query}")
        assert response.status_code == 400, query
        assert response["Content-Type"] == PROBLEM
        assert list(response.json()["errors"]) == [parameter]


def test_the_list_pages_by_cursor_newest_first(key_client, certs, clock):
    made = []
    for n in range(5):
        made.append(make_incident(owner_cert=certs["lahore"], title=f"Incident {n}"))
        clock.advance(minutes=1)
    client = key_client("lahore", scope="read")
    seen, link = [], "/api/v1/incidents/?page_size=2"
    while link:
        page = client.get(link).json()
        assert len(page["results"]) <= 2
        seen += [row["reference"] for row in page["results"]]
        link = page["next"]
    assert seen == [incident.reference for incident in reversed(made)]


# --- Create ---------------------------------------------------------------------------------------

NEW = {"title": "Ransomware at a district office", "classification": "malicious-code",
       "incident_type": "infected-system", "severity": 3, "tlp": "TLP:AMBER",
       "description": "C2 at evil.example"}


def test_a_read_write_key_opens_an_incident_for_its_cert(key_client, certs):
    client = key_client("lahore")
    response = client.post("/api/v1/incidents/", NEW, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    incident = Incident.objects.get(reference=body["reference"])
    assert response["Location"].endswith(f"/api/v1/incidents/{incident.reference}/")
    assert (incident.owner_cert, incident.source, incident.severity) == (certs["lahore"],
                                                                         Source.API, 3)
    assert incident.created_by == client.api_key.service_user
    assert events(incident, EventKind.CREATED)[0].actor == client.api_key.service_user
    assert Observable.objects.filter(incident=incident, value="evil.example").exists()
    assert body["owner"] == "lahore" and "transition" in body["allowed_actions"]


def test_creation_is_refused_for_another_cert_a_read_key_and_bad_fields(key_client):
    client = key_client("lahore")
    other = client.post("/api/v1/incidents/", {**NEW, "owner": "punjab"}, format="json")
    assert other.status_code == 400 and list(other.json()["errors"]) == ["owner"]

    read = key_client("lahore", scope="read").post("/api/v1/incidents/", NEW, format="json")
    assert read.status_code == 403 and read["Content-Type"] == PROBLEM
    assert "may only read" in read.json()["detail"]

    bad = client.post("/api/v1/incidents/", {**NEW, "incident_type": "nonsense", "title": ""},
                      format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"title"}
    bad = client.post("/api/v1/incidents/", {**NEW, "incident_type": "nonsense"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"incident_type"}
    assert not Incident.objects.exists()


# --- Retrieve and update --------------------------------------------------------------------------


def test_retrieve_follows_the_access_table(key_client, certs, lahore_incident):
    red = make_incident(owner_cert=certs["lahore"], tlp="TLP:RED")
    assert key_client("lahore", scope="read").get(url(red)).status_code == 200
    ancestor = key_client("punjab", scope="read")
    assert ancestor.get(url(lahore_incident)).json()["allowed_actions"] == ["view"]
    assert ancestor.get(url(red)).status_code == 404
    unrelated = key_client("banking", scope="read").get(url(lahore_incident))
    assert unrelated.status_code == 404 and unrelated["Content-Type"] == PROBLEM
    assert key_client("lahore").get("/api/v1/incidents/PK-INC-1999-000001/").status_code == 404


def test_patch_changes_severity_and_tlp_through_their_services(key_client, lahore_incident):
    client = key_client("lahore")
    response = client.patch(url(lahore_incident), {"version": lahore_incident.version,
                                                   "severity": 4, "tlp": "TLP:AMBER+STRICT",
                                                   "reason": "worse than thought"},
                            format="json")
    assert response.status_code == 200, response.json()
    lahore_incident.refresh_from_db()
    assert (lahore_incident.severity, lahore_incident.tlp) == (4, "TLP:AMBER+STRICT")
    assert response.json()["version"] == lahore_incident.version
    actor = client.api_key.service_user
    assert [e.actor for e in events(lahore_incident, EventKind.SEVERITY)] == [actor]
    assert [(e.new_value, e.reason) for e in events(lahore_incident, EventKind.TLP)] == [
        ("TLP:AMBER+STRICT", "worse than thought")]
    # The grants followed: oversight no longer sees it.
    assert key_client("punjab", scope="read").get(url(lahore_incident)).status_code == 404


def test_a_stale_version_answers_409_and_changes_nothing(key_client, lahore_incident):
    client = key_client("lahore")
    stale = lahore_incident.version
    assert client.patch(url(lahore_incident), {"version": stale, "severity": 3},
                        format="json").status_code == 200
    response = client.patch(url(lahore_incident), {"version": stale, "severity": 1,
                                                   "tlp": "TLP:RED"}, format="json")
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    assert "changed by someone else" in response.json()["detail"]
    lahore_incident.refresh_from_db()
    assert (lahore_incident.severity, lahore_incident.tlp) == (3, "TLP:AMBER")
    assert len(events(lahore_incident, EventKind.SEVERITY)) == 1
    assert not events(lahore_incident, EventKind.TLP)
    # A versioned action with a stale version too.
    ack = client.post(url(lahore_incident, "acknowledge"), {"version": stale}, format="json")
    assert ack.status_code == 409
    assert Incident.objects.get(pk=lahore_incident.pk).status == Status.NEW


def test_patch_names_the_bad_or_read_only_field(key_client, lahore_incident):
    client = key_client("lahore")
    version = lahore_incident.version
    for body, field in [({"version": version, "severity": "very"}, "severity"),
                        ({"version": version, "title": "New"}, "title"),
                        ({"severity": 3}, "version"),
                        ({"version": "x", "severity": 3}, "version")]:
        response = client.patch(url(lahore_incident), body, format="json")
        assert response.status_code == 400, body
        assert list(response.json()["errors"]) == [field]
    malformed = client.patch(url(lahore_incident), b'{"version": 1,', content_type="application/json")
    assert malformed.status_code == 400 and malformed["Content-Type"] == PROBLEM
    lahore_incident.refresh_from_db()
    assert lahore_incident.version == version


def test_patch_by_an_ancestor_a_read_key_and_an_unrelated_key(key_client, lahore_incident):
    body = {"version": lahore_incident.version, "severity": 4}
    ancestor = key_client("punjab").patch(url(lahore_incident), body, format="json")
    assert ancestor.status_code == 403 and "does not allow" in ancestor.json()["detail"]
    assert key_client("lahore", scope="read").patch(url(lahore_incident), body,
                                                    format="json").status_code == 403
    assert key_client("banking").patch(url(lahore_incident), body,
                                       format="json").status_code == 404
    lahore_incident.refresh_from_db()
    assert lahore_incident.severity == 2 and not events(lahore_incident, EventKind.SEVERITY)


# --- Actions --------------------------------------------------------------------------------------


def _analyst(member):
    return member("lahore", "analyst")


ACTIONS = {
    # name: (body maker(member fixture), check of the effect)
    "acknowledge": (lambda member: {},
                    lambda incident, actor: incident.status == Status.ACKNOWLEDGED
                    and events(incident, EventKind.STATUS)[0].actor == actor),
    "transition": (lambda member: {"status": "rejected", "reason": "spam"},
                   lambda incident, actor: incident.status == Status.REJECTED
                   and events(incident, EventKind.STATUS)[0].reason == "spam"),
    "assign": (lambda member: {"assignee": _analyst(member).username},
               lambda incident, actor: incident.assignee.username == "lahore.analyst.test"
               and events(incident, EventKind.ASSIGNED)[0].actor == actor),
    "escalate": (lambda member: {"reason": "beyond us"},
                 lambda incident, actor: incident.owner_cert.slug == "punjab"
                 and events(incident, EventKind.ESCALATED)[0].actor == actor),
    "share": (lambda member: {"cert": "banking", "reason": "same campaign"},
              lambda incident, actor: IncidentShare.objects.filter(
                  incident=incident, cert__slug="banking", shared_by=actor).exists()),
    "comments": (lambda member: {"body": "Contained."},
                 lambda incident, actor: Comment.objects.get(incident=incident).author == actor),
    "observables": (lambda member: {"type": "domain", "value": "Bad[.]Example"},
                    lambda incident, actor: Observable.objects.filter(
                        incident=incident, value="bad.example", added_by=actor).exists()),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_action_by_each_kind_of_key(action, key_client, member, lahore_incident):
    make_body, took_effect = ACTIONS[action]
    body = make_body(member)
    before = TimelineEvent.objects.filter(incident=lahore_incident).count()

    unrelated = key_client("banking").post(url(lahore_incident, action), body, format="json")
    assert unrelated.status_code == 404 and unrelated["Content-Type"] == PROBLEM
    read = key_client("lahore", scope="read").post(url(lahore_incident, action), body,
                                                   format="json")
    assert read.status_code == 403
    ancestor = key_client("punjab").post(url(lahore_incident, action), body, format="json")
    # Oversight views only: not even the comment grant.
    assert ancestor.status_code == 403, ancestor.json()
    assert TimelineEvent.objects.filter(incident=lahore_incident).count() == before

    owner = key_client("lahore")
    response = owner.post(url(lahore_incident, action), body, format="json")
    assert response.status_code in (200, 201), response.json()
    lahore_incident.refresh_from_db()
    assert took_effect(lahore_incident, owner.api_key.service_user)


def test_refer_hands_the_incident_down(key_client, certs):
    incident = make_incident(owner_cert=certs["punjab"])
    assert key_client("lahore").post(url(incident, "refer"), {"to_cert": "lahore"},
                                     format="json").status_code == 404
    assert key_client("national").post(url(incident, "refer"), {"to_cert": "lahore"},
                                       format="json").status_code == 403
    client = key_client("punjab")
    wrong = client.post(url(incident, "refer"), {"to_cert": "banking"}, format="json")
    assert wrong.status_code == 400 and list(wrong.json()["errors"]) == ["to_cert"]
    response = client.post(url(incident, "refer"), {"to_cert": "lahore"}, format="json")
    assert response.status_code == 200 and response.json()["owner"] == "lahore"
    incident.refresh_from_db()
    assert incident.owner_cert == certs["lahore"]
    assert events(incident, EventKind.REFERRED)[0].actor == client.api_key.service_user


def test_actions_name_their_bad_fields(key_client, certs, lahore_incident):
    client = key_client("lahore")
    for action, body, field in [("transition", {"status": "closed"}, "status"),
                                ("transition", {"status": "nope"}, "status"),
                                ("assign", {"assignee": "outsider"}, "assignee"),
                                ("assign", {}, "assignee"),
                                ("assign", {"assignee": "9" * 30}, "assignee"),
                                ("escalate", {"to_cert": "banking"}, "to_cert"),
                                ("share", {"cert": "lahore"}, "cert"),
                                ("comments", {"body": "  "}, "body"),
                                ("observables", {"type": "ipv4", "value": "999.1.1.1"}, "value"),
                                ("observables", {"type": "colour", "value": "red"}, "type")]:
        response = client.post(url(lahore_incident, action), body, format="json")
        assert response.status_code == 400, (action, body, response.json())
        assert list(response.json()["errors"]) == [field], (action, body)
    lahore_incident.refresh_from_db()
    assert lahore_incident.status == Status.NEW and lahore_incident.assignee is None


def test_comments_observables_and_timeline_are_read_by_who_may_see(key_client, lahore_incident):
    owner = key_client("lahore")
    owner.post(url(lahore_incident, "comments"), {"body": "First"}, format="json")
    for path in ("comments", "observables", "timeline"):
        response = key_client("punjab", scope="read").get(url(lahore_incident, path))
        assert response.status_code == 200, path
        assert response.json()["results"], path
        assert key_client("banking", scope="read").get(
            url(lahore_incident, path)).status_code == 404
    comments = owner.get(url(lahore_incident, "comments")).json()["results"]
    assert [(c["body"], c["author"]) for c in comments] == [
        ("First", owner.api_key.service_user.username)]
    observables = owner.get(url(lahore_incident, "observables")).json()["results"]
    assert {(o["type"], o["value"]) for o in observables} >= {("ipv4", "203.0.113.7")}
    timeline = owner.get(url(lahore_incident, "timeline")).json()["results"]
    assert timeline[0]["kind"] == "comment" and timeline[-1]["kind"] == "created"


def test_timeline_pages_by_cursor(key_client, lahore_incident):
    client = key_client("lahore")
    for n in range(4):
        client.post(url(lahore_incident, "comments"), {"body": f"c{n}"}, format="json")
    seen, link = [], url(lahore_incident, "timeline") + "?page_size=2"
    while link:
        page = client.get(link)
        assert page.status_code == 200
        seen += [event["id"] for event in page.json()["results"]]
        link = page.json()["next"]
    assert seen == list(TimelineEvent.objects.filter(incident=lahore_incident)
                        .order_by("-at", "-pk").values_list("pk", flat=True))
    assert client.get(url(lahore_incident, "timeline") + "?cursor=bad").status_code == 400


def test_a_repeated_observable_answers_200_with_the_same_row(key_client, lahore_incident):
    client = key_client("lahore")
    first = client.post(url(lahore_incident, "observables"),
                        {"type": "ipv4", "value": "198.51.100.9"}, format="json")
    again = client.post(url(lahore_incident, "observables"),
                        {"type": "ipv4", "value": "198[.]51[.]100[.]9"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


# --- Attachments ----------------------------------------------------------------------------------


def test_attachments_upload_with_a_size_limit(key_client, lahore_incident, media, settings):
    settings.INCIDENT_ATTACHMENT_MAX_BYTES = 100
    owner = key_client("lahore")

    def upload(client, content=b"%PDF-1.4 small", name="report.pdf"):
        return client.post(url(lahore_incident, "attachments"),
                           {"file": SimpleUploadedFile(name, content)}, format="multipart")

    assert upload(key_client("banking")).status_code == 404
    assert upload(key_client("punjab")).status_code == 403
    assert upload(key_client("lahore", scope="read")).status_code == 403
    too_large = upload(owner, b"x" * 101)
    assert too_large.status_code == 413 and too_large["Content-Type"] == PROBLEM
    assert "limit is 100 bytes" in too_large.json()["detail"]
    assert not Attachment.objects.exists()

    response = upload(owner)
    assert response.status_code == 201, response.json()
    attachment = Attachment.objects.get()
    assert (attachment.content_type, attachment.uploaded_by) == ("application/pdf",
                                                                 owner.api_key.service_user)
    assert response.json()["sha256"] == attachment.sha256
    json_body = owner.post(url(lahore_incident, "attachments"), {"file": "x"}, format="json")
    assert json_body.status_code == 415 and json_body["Content-Type"] == PROBLEM


# --- Observable search ----------------------------------------------------------------------------


def test_observable_search_finds_only_visible_incidents(key_client, certs, lahore_incident):
    bank = make_incident(owner_cert=certs["banking"], description="Also 203.0.113.7")

    def found(slug, query):
        response = key_client(slug, scope="read").get(f"/api/v1/observables/?{query}")
        assert response.status_code == 200, response.json()
        return {row["incident"] for row in response.json()["results"]}

    assert found("lahore", "value=203[.]0.113.7&type=ipv4") == {lahore_incident.reference}
    assert found("banking", "value=203.0.113.7") == {bank.reference}
    assert found("national", "value=203.0.113.7") == {lahore_incident.reference, bank.reference}
    assert found("telecom", "value=203.0.113.7") == set()
    for query, field in [("type=ipv4", "value"), ("value=999.0.0.1&type=ipv4", "value"),
                         ("value=hello", "value"), ("value=1.2.3.4&type=colour", "type")]:
        response = key_client("lahore", scope="read").get(f"/api/v1/observables/?{query}")
        assert response.status_code == 400 and list(response.json()["errors"]) == [field], query


# --- Media types and sizes ------------------------------------------------------------------------


def test_a_body_that_is_not_json_answers_415(key_client, lahore_incident):
    client = key_client("lahore")
    response = client.post(url(lahore_incident, "comments"), "body=hello",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response["Content-Type"] == PROBLEM
    assert not Comment.objects.exists()


def test_a_huge_body_answers_413_as_a_problem(key_client, lahore_incident, settings):
    settings.REQUEST_MAX_BYTES = 1000
    client = key_client("lahore")
    response = client.post(url(lahore_incident, "comments"), {"body": "x" * 2000}, format="json")
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 413
    assert not Comment.objects.exists()
