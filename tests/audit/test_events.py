# ruff: noqa: F811 - pytest fixtures imported from the other suites are parameters here
"""Every kind of audit event is recorded where it happens (issue 13, item 1): who, as which CERT,
from which address, through which channel, on what (and whose) object, and what changed. A
refused or failed call records no change. Views and changes cost one INSERT each."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from advisories.csaf.directory import document_path
from advisories.services import advisory_approve, advisory_create, advisory_submit
from cert_portal.accounts.idle import LAST_ACTIVITY_SESSION_KEY
from cert_portal.audit.models import AuditEvent, AuditKind, Channel
from cert_portal.audit.record import current_request
from incidents.access import ActionNotAllowed
from incidents.models import WebhookDelivery, WebhookEvent
from incidents.services import (
    incident_change_severity,
    incident_comment,
    incident_escalate,
)
from incidents.sla import run_sla_pass
from incidents.webhooks import (
    deliver_due,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_set_active,
)
from organizations.api_keys import api_key_issue, api_key_revoke
from organizations.models import Membership
from organizations.services import (
    RegistryRuleError,
    cert_update,
    membership_add,
    membership_change_role,
    membership_remove,
)
from tests.accounts.support import PASSWORD, enter_code, enter_password
from tests.advisories.support import AdvisoryMaker, content
from tests.api.conftest import issue_key, key_client  # noqa: F401
from tests.dashboard.conftest import staff_client  # noqa: F401
from tests.factories import UserFactory, make_incident
from tests.incidents.conftest import certs, clock, media, member, outsider, rules  # noqa: F401
from tests.twofactor import next_totp_code, wrong_code

ADDRESS = "203.0.113.7"
pytestmark = pytest.mark.django_db


# The session's national structure was loaded through the services, and so is on the trail:
# each test reads only what it added.
_since = [0]


@pytest.fixture(autouse=True)
def _since_this_test(db):
    _since[0] = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def trail(kind, **filters) -> list[AuditEvent]:
    """The events of `kind` this test recorded, oldest first."""
    return list(AuditEvent.objects.filter(kind=kind, id__gt=_since[0], **filters).order_by("id"))


@pytest.fixture
def make_advisory(certs, member):
    return AdvisoryMaker(certs, member)


# --- Sign-in and sign-out ------------------------------------------------------------------------

@pytest.fixture
def handler(member):
    return member("lahore", "handler")


@pytest.fixture
def authenticator(handler) -> TOTPDevice:
    return TOTPDevice.objects.create(user=handler, name="phone", confirmed=True)


def test_a_sign_in_with_both_factors_is_recorded_once_without_secrets(certs, handler,
                                                                     authenticator):
    client = Client(REMOTE_ADDR=ADDRESS)
    enter_password(client, handler)
    assert trail(AuditKind.SIGN_IN) == []  # a password alone signs nobody in
    code = next_totp_code(authenticator)
    assert enter_code(client, code).status_code == 302

    [event] = trail(AuditKind.SIGN_IN)
    assert (event.actor_id, event.actor_label) == (handler.pk, handler.username)
    assert event.cert_id == certs["lahore"].pk  # the CERT the dashboard opens as
    assert (event.client_address, event.channel) == (ADDRESS, Channel.DASHBOARD)
    assert (event.object_type, event.object_id) == ("user", str(handler.pk))
    assert event.detail == {"second_factor": "authenticator"}
    stored = json.dumps([e.detail for e in AuditEvent.objects.all()])
    assert PASSWORD not in stored and code not in stored
    assert trail(AuditKind.SIGN_IN_FAILED) == []


def test_a_wrong_password_and_an_unknown_name_are_recorded_without_the_password(certs, handler):
    client = Client(REMOTE_ADDR=ADDRESS)
    enter_password(client, handler, password="not-the-password-1")
    client.post("/login/", {"username": "nobody-of-that-name", "password": "guess-2"})

    known, unknown = trail(AuditKind.SIGN_IN_FAILED)
    assert (known.actor_id, known.actor_label, known.cert_id) == (
        handler.pk, handler.username, certs["lahore"].pk)
    assert known.detail == {"stage": "password", "reason": "wrong_password"}
    assert (known.client_address, known.channel) == (ADDRESS, Channel.DASHBOARD)
    assert (unknown.actor_id, unknown.actor_label, unknown.cert_id) == (
        None, "nobody-of-that-name", None)
    assert unknown.detail == {"stage": "password", "reason": "unknown_user"}
    stored = json.dumps([known.detail, unknown.detail, known.object_label, unknown.object_label])
    assert "not-the-password-1" not in stored and "guess-2" not in stored


def test_the_typed_name_of_a_failure_is_cut_to_the_column(rf):
    from django.contrib.auth.signals import user_login_failed

    request = rf.post("/login/", REMOTE_ADDR=ADDRESS)
    user_login_failed.send(sender=None, credentials={"username": "x" * 200, "password": "*"},
                           request=request)
    [event] = trail(AuditKind.SIGN_IN_FAILED)
    assert event.actor_label == "x" * 150 and event.actor_id is None


def test_the_lock_out_of_the_password_stage_is_recorded(settings, handler):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client(REMOTE_ADDR=ADDRESS)
    for n in range(2):
        enter_password(client, handler, password=f"wrong-{n}")
    assert enter_password(client, handler).status_code == 429  # the right one, refused

    first, limit, refused = trail(AuditKind.SIGN_IN_FAILED)
    assert first.detail == {"stage": "password", "reason": "wrong_password"}
    assert limit.detail == {"stage": "password", "reason": "wrong_password", "locked": True}
    assert refused.detail == {"stage": "password", "reason": "locked_out"}
    assert refused.actor_id == handler.pk
    assert trail(AuditKind.SIGN_IN) == []


def test_a_wrong_code_and_the_throttled_next_one_are_recorded(certs, handler, authenticator):
    client = Client(REMOTE_ADDR=ADDRESS)
    enter_password(client, handler)
    wrong = wrong_code(authenticator)
    assert enter_code(client, wrong).status_code == 400
    # django-otp's throttle now refuses every code for a moment, the right one included.
    assert enter_code(client, next_totp_code(authenticator)).status_code == 400

    first, second = trail(AuditKind.SIGN_IN_FAILED)
    assert first.detail == {"stage": "second_factor", "reason": "wrong_code"}
    assert second.detail == {"stage": "second_factor", "reason": "locked_out"}
    assert (first.actor_id, first.cert_id, first.client_address) == (
        handler.pk, certs["lahore"].pk, ADDRESS)
    assert wrong not in json.dumps(first.detail)
    assert trail(AuditKind.SIGN_IN) == []


def test_sign_out_by_the_member_and_by_the_idle_timeout(certs, handler, staff_client):
    client = staff_client(handler)
    client.post(reverse("accounts:logout"), REMOTE_ADDR=ADDRESS)
    [chosen] = trail(AuditKind.SIGN_OUT)
    assert (chosen.actor_id, chosen.cert_id, chosen.client_address) == (
        handler.pk, certs["lahore"].pk, ADDRESS)
    assert chosen.detail == {"reason": "signed_out"} and chosen.channel == Channel.DASHBOARD

    idle = staff_client(handler)
    session = idle.session
    session[LAST_ACTIVITY_SESSION_KEY] = 0  # long ago
    session.save()
    idle.get(reverse("dashboard:queue"))
    assert [e.detail for e in trail(AuditKind.SIGN_OUT)] == [{"reason": "signed_out"},
                                                            {"reason": "idle"}]


# --- Views of incidents --------------------------------------------------------------------------

def test_each_view_of_an_incident_page_is_one_event_under_the_owner(certs, member, staff_client):
    incident = make_incident(owner_cert=certs["lahore"])
    url = reverse("dashboard:incident", args=[incident.reference])
    owner = staff_client(member("lahore", "analyst"))
    above = staff_client(member("punjab", "head"))  # oversight of Lahore
    unrelated = staff_client(member("banking", "head"))

    assert owner.get(url, REMOTE_ADDR=ADDRESS).status_code == 200
    assert owner.get(url, {"tab": "timeline"}).status_code == 200
    assert above.get(url).status_code == 200
    assert unrelated.get(url).status_code == 404
    assert owner.get(reverse("dashboard:queue")).status_code == 200  # a list: not recorded

    first, second, oversight = trail(AuditKind.INCIDENT_VIEWED)
    assert (first.actor_id, first.cert_id, first.client_address, first.channel) == (
        member("lahore", "analyst").pk, certs["lahore"].pk, ADDRESS, Channel.DASHBOARD)
    assert (first.object_type, first.object_id, first.object_label, first.object_cert_id) == (
        "incident", str(incident.pk), incident.reference, certs["lahore"].pk)
    assert second.detail == {"tab": "timeline"}
    # What the owner CERT sees of who outside it looked.
    assert (oversight.actor_id, oversight.cert_id, oversight.object_cert_id) == (
        member("punjab", "head").pk, certs["punjab"].pk, certs["lahore"].pk)


def test_the_triage_page_of_a_public_report_is_a_view(certs, member, staff_client):
    incident = make_incident(owner_cert=certs["national"], source="public_form")
    url = reverse("dashboard:triage_report", args=[incident.reference])
    assert staff_client(member("national", "handler")).get(url).status_code == 200
    assert staff_client(member("lahore", "handler")).get(url).status_code == 404
    [event] = trail(AuditKind.INCIDENT_VIEWED)
    assert event.detail == {"page": "triage"} and event.object_cert_id == certs["national"].pk


def test_the_api_retrieve_is_a_view_the_list_is_not(certs, key_client):
    incident = make_incident(owner_cert=certs["banking"])
    client = key_client("banking", scope="read")
    stranger = key_client("telecom", scope="read")
    assert client.get(reverse("api-incident", args=[incident.reference]),
                      REMOTE_ADDR=ADDRESS).status_code == 200
    assert client.get(reverse("api-incidents")).status_code == 200
    assert stranger.get(reverse("api-incident", args=[incident.reference])).status_code == 404

    [event] = trail(AuditKind.INCIDENT_VIEWED)
    key = client.api_key
    assert (event.actor_id, event.api_key_id, event.cert_id) == (
        key.service_user_id, key.pk, certs["banking"].pk)
    assert (event.channel, event.client_address, event.object_id) == (
        Channel.API, ADDRESS, str(incident.pk))


def test_a_misp_event_of_an_incident_is_a_view(certs, key_client):
    from incidents.services import incident_add_observable

    incident = make_incident(owner_cert=certs["banking"])
    incident_add_observable(incident=incident, actor=None, type="domain", value="evil.example")
    client = key_client("banking", scope="read")
    assert client.get(reverse("misp-manifest")).status_code == 200  # the list: not recorded
    assert trail(AuditKind.INCIDENT_VIEWED) == []
    assert client.get(reverse("misp-event", args=[incident.public_id])).status_code == 200
    [event] = trail(AuditKind.INCIDENT_VIEWED)
    assert event.detail == {"via": "misp"} and event.api_key_id == client.api_key.pk


def test_a_view_costs_one_insert(certs, member, staff_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    incident = make_incident(owner_cert=certs["lahore"])
    client = staff_client(member("lahore", "handler"))
    url = reverse("dashboard:incident", args=[incident.reference])
    client.get(url)  # the first visit writes the visit row
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    audit = [q["sql"] for q in queries.captured_queries if "audit_auditevent" in q["sql"]]
    assert len(audit) == 1 and audit[0].startswith("INSERT"), audit


# --- Views of protected advisories ---------------------------------------------------------------

def test_dashboard_views_of_protected_advisories_are_recorded_clear_ones_are_not(
        certs, member, staff_client, make_advisory):
    green = make_advisory(cert="national", tlp="TLP:GREEN")
    clear = make_advisory(cert="national", tlp="TLP:CLEAR")
    draft = make_advisory(cert="national", tlp="TLP:CLEAR", published=False)
    reader = staff_client(member("lahore", "analyst"))
    author = staff_client(member("national", "handler"))

    for advisory in (green, clear):
        url = reverse("advisories_staff:advisory", args=[advisory.reference])
        assert reader.get(url, REMOTE_ADDR=ADDRESS).status_code == 200
    draft_url = reverse("advisories_staff:advisory", args=[draft.reference])
    assert reader.get(draft_url).status_code == 404  # another CERT's draft
    assert author.get(draft_url).status_code == 200  # not yet published: protected

    seen_green, seen_draft = trail(AuditKind.ADVISORY_VIEWED)
    assert (seen_green.actor_id, seen_green.cert_id, seen_green.client_address) == (
        member("lahore", "analyst").pk, certs["lahore"].pk, ADDRESS)
    assert (seen_green.object_type, seen_green.object_label, seen_green.object_cert_id) == (
        "advisory", green.reference, certs["national"].pk)
    assert seen_green.detail == {"tlp": "TLP:GREEN"}
    assert (seen_draft.object_id, seen_draft.detail) == (str(draft.pk), {"tlp": "TLP:CLEAR"})


def test_api_and_csaf_reads_of_a_protected_advisory_are_recorded(certs, member, key_client,
                                                                 staff_client, make_advisory):
    green = make_advisory(cert="national", tlp="TLP:GREEN")
    clear = make_advisory(cert="national", tlp="TLP:CLEAR")
    api = key_client("banking", scope="read")
    assert api.get(reverse("api-advisory-detail", args=[green.reference])).status_code == 200
    assert api.get(reverse("api-advisory-detail", args=[clear.reference])).status_code == 200
    [by_key] = trail(AuditKind.ADVISORY_VIEWED)
    assert (by_key.channel, by_key.api_key_id, by_key.cert_id) == (
        Channel.API, api.api_key.pk, certs["banking"].pk)

    member_client = staff_client(member("lahore", "liaison"))
    assert member_client.get(document_path(green)).status_code == 200
    assert member_client.get(document_path(green) + ".sha256").status_code == 200  # not a read
    assert Client().get(document_path(green)).status_code == 404
    assert Client().get(document_path(clear)).status_code == 200  # public: not recorded
    [_, by_member] = trail(AuditKind.ADVISORY_VIEWED)
    assert (by_member.actor_id, by_member.object_id, by_member.detail) == (
        member("lahore", "liaison").pk, str(green.pk), {"tlp": "TLP:GREEN", "via": "csaf"})


# --- Incident changes ----------------------------------------------------------------------------

def test_a_change_through_the_dashboard_is_one_event_with_old_and_new(certs, member,
                                                                      staff_client):
    incident = make_incident(owner_cert=certs["lahore"], severity=2)
    created = trail(AuditKind.INCIDENT_CHANGED)
    assert [e.detail["event"] for e in created] == ["created"]
    _since[0] = created[-1].id
    client = staff_client(member("lahore", "handler"))
    response = client.post(reverse("dashboard:incident_action", args=[incident.reference, "severity"]),
                           {"version": incident.version, "severity": 4, "reason": "spreading"},
                           REMOTE_ADDR=ADDRESS)
    assert response.status_code == 302

    [event] = trail(AuditKind.INCIDENT_CHANGED)
    assert (event.actor_id, event.cert_id, event.client_address, event.channel) == (
        member("lahore", "handler").pk, certs["lahore"].pk, ADDRESS, Channel.DASHBOARD)
    assert (event.object_id, event.object_label, event.object_cert_id) == (
        str(incident.pk), incident.reference, certs["lahore"].pk)
    assert event.detail == {"event": "severity", "old": "Medium", "new": "Severe"}


def test_a_public_report_is_recorded_as_the_public_from_its_address(rules, media):
    from tests.incidents.test_public_reports import report_data, submit_and_receive

    incident, _ = submit_and_receive(Client(REMOTE_ADDR=ADDRESS), report_data())
    events = trail(AuditKind.INCIDENT_CHANGED, object_id=str(incident.pk))
    assert events and events[0].detail["event"] == "created"
    assert {(e.actor_id, e.cert_id, e.channel, e.client_address, e.object_cert_id)
            for e in events} == {(None, None, Channel.PUBLIC, ADDRESS, incident.owner_cert_id)}


def test_a_refused_change_records_no_change(certs, member):
    incident = make_incident(owner_cert=certs["lahore"], severity=2)
    analyst, handler = member("lahore", "analyst"), member("lahore", "handler")
    before = AuditEvent.objects.count()
    with pytest.raises(ActionNotAllowed):
        incident_change_severity(incident=incident, actor=analyst, severity=4)
    with pytest.raises(ValidationError):
        incident_comment(incident=incident, actor=handler, body="   ")
    assert AuditEvent.objects.count() == before


def test_escalation_records_the_change_and_the_new_grants(certs, member):
    incident = make_incident(owner_cert=certs["lahore"])
    _since[0] = AuditEvent.objects.latest("id").id
    incident_escalate(incident=incident, actor=member("lahore", "handler"), reason="too big")

    [change] = trail(AuditKind.INCIDENT_CHANGED)
    assert change.detail == {"event": "escalated", "old": certs["lahore"].short_name,
                             "new": certs["punjab"].short_name}
    # Recorded under the CERT that owned it when it was handed over.
    assert change.object_cert_id == certs["lahore"].pk
    assert change.channel == Channel.TASK  # called outside any request: no request channel
    [grants] = trail(AuditKind.PERMISSION_CHANGED)
    assert grants.object_id == str(incident.pk) and grants.object_cert_id == certs["punjab"].pk
    lahore_group = f"CERT: {certs['lahore'].slug}"
    # Lahore keeps view and comment but no longer works it.
    assert any(name.startswith(lahore_group) for name in grants.detail["removed"])
    assert all(not name.startswith(lahore_group) for name in grants.detail["added"])


def test_the_sla_pass_records_its_changes_as_the_scheduler(certs, member, clock):
    overdue = [make_incident(owner_cert=certs["lahore"], severity=5) for _ in range(3)]
    clock.advance(hours=1)
    _since[0] = AuditEvent.objects.latest("id").id
    run_sla_pass()

    escalated = trail(AuditKind.INCIDENT_CHANGED, detail__event="escalated")
    assert sorted(e.object_id for e in escalated) == sorted(str(i.pk) for i in overdue)
    assert {(e.actor_id, e.channel, e.cert_id, e.client_address) for e in escalated} == {
        (None, Channel.TASK, None, None)}
    assert len(trail(AuditKind.PERMISSION_CHANGED)) == 3


def test_work_of_a_management_command_is_on_the_command_channel(certs):
    call_command("create_api_key", "--cert", "banking", "--scope", "read", "--name", "SOAR",
                 stdout=StringIO())
    [event] = trail(AuditKind.API_KEY_CHANGED)
    assert (event.channel, event.actor_id, event.object_cert_id) == (
        Channel.COMMAND, None, certs["banking"].pk)
    assert current_request() is None


# --- Advisory changes ----------------------------------------------------------------------------

def test_each_advisory_service_write_is_an_event(certs, member):
    author, head = member("national", "handler"), member("national", "head")
    advisory = advisory_create(actor=author, cert=certs["national"], content=content(
        tlp="TLP:AMBER", audience_ids=[certs["banking"].pk]))
    with pytest.raises(Exception):  # noqa: B017,PT011 - the author may not approve (four eyes)
        advisory_approve(actor=author, advisory=advisory)
    advisory_submit(actor=author, advisory=advisory)
    with pytest.raises(Exception):  # noqa: B017,PT011
        advisory_approve(actor=author, advisory=advisory)
    advisory_approve(actor=head, advisory=advisory)

    events = trail(AuditKind.ADVISORY_CHANGED)
    assert [e.detail["action"] for e in events] == ["create", "submit", "approve"]
    # The draft is its author CERT's to work; once published, the audience may read it.
    grants = trail(AuditKind.PERMISSION_CHANGED, object_type="advisory", object_id=str(advisory.pk))
    assert [e.detail for e in grants] == [
        {"added": ["CERT: national: view_advisory", "CERT: national: work_advisory"],
         "removed": []},
        {"added": ["CERT: banking: view_advisory"], "removed": []}]
    assert {e.object_cert_id for e in grants} == {certs["national"].pk}
    assert events[2].actor_id == head.pk and events[2].detail["revision"] == 1
    assert {(e.object_id, e.object_label, e.object_cert_id) for e in events} == {
        (str(advisory.pk), advisory.reference, certs["national"].pk)}


# --- Registry, memberships, permissions ----------------------------------------------------------

def test_registry_changes_record_the_fields_old_and_new(certs, member):
    head = member("national", "head")
    lahore = certs["lahore"]
    old_hotline = lahore.hotline
    cert_update(cert=lahore, actor=head, hotline="+92 42 111 000 111", name=lahore.name)
    [event] = trail(AuditKind.REGISTRY_CHANGED)
    assert event.detail == {"action": "update", "changes": {
        "hotline": {"old": old_hotline, "new": "+92 42 111 000 111"}}}  # name did not change
    assert (event.actor_id, event.object_type, event.object_cert_id) == (
        head.pk, "cert", lahore.pk)

    with pytest.raises(RegistryRuleError):
        cert_update(cert=lahore, actor=head, parent=certs["banking"])  # a local CERT under a sector
    assert len(trail(AuditKind.REGISTRY_CHANGED)) == 1


def test_membership_add_role_change_and_removal(certs, member):
    head = member("lahore", "head")
    person = UserFactory(username="new.member")
    membership = membership_add(cert=certs["lahore"], user=person, role="analyst", actor=head)
    membership_change_role(membership=membership, role="handler", actor=head)
    with pytest.raises(ValidationError):
        membership_change_role(membership=Membership.objects.get(user=head), role="analyst",
                               actor=head, keep_a_head=True)  # the only head
    membership_id = str(membership.pk)
    membership_remove(membership=membership, actor=head)

    added, changed, removed = trail(AuditKind.MEMBERSHIP_CHANGED,
                                    object_label="new.member in " + certs["lahore"].short_name)
    assert added.detail == {"action": "add", "user": "new.member", "role": "analyst"}
    assert changed.detail == {"action": "role", "user": "new.member", "old": "analyst",
                              "new": "handler"}
    assert removed.detail == {"action": "remove", "user": "new.member", "role": "handler"}
    assert {(e.actor_id, e.object_cert_id, e.object_id) for e in (added, changed, removed)} == {
        (head.pk, certs["lahore"].pk, membership_id)}
    assert not trail(AuditKind.MEMBERSHIP_CHANGED, actor=head, detail__user=head.username,
                     detail__action="role")


def test_a_share_in_the_dashboard_records_the_change_and_its_grants(certs, member,
                                                                    staff_client):
    incident = make_incident(owner_cert=certs["lahore"])
    handler = member("lahore", "handler")
    client = staff_client(handler)
    _since[0] = AuditEvent.objects.latest("id").id
    refused = client.post(reverse("dashboard:incident_action", args=[incident.reference, "share"]),
                          {"version": incident.version, "cert": certs["banking"].pk, "reason": " "})
    assert refused.status_code == 400 and trail(AuditKind.PERMISSION_CHANGED) == []
    response = client.post(reverse("dashboard:incident_action", args=[incident.reference, "share"]),
                           {"version": incident.version, "cert": certs["banking"].pk,
                            "reason": "their customers are targeted"}, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 302

    [change] = trail(AuditKind.INCIDENT_CHANGED)
    assert change.detail == {"event": "shared", "old": "", "new": certs["banking"].short_name}
    [grants] = trail(AuditKind.PERMISSION_CHANGED)
    assert grants.detail == {"added": [f"CERT: {certs['banking'].slug}: view_incident"],
                             "removed": []}
    # The person whose action changed the grants, from where, as which CERT.
    assert (grants.actor_id, grants.cert_id, grants.client_address, grants.channel) == (
        handler.pk, certs["lahore"].pk, ADDRESS, Channel.DASHBOARD)


def test_grant_sync_costs_the_same_queries_for_one_or_many(certs, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.grants import sync_grants
    from incidents.models import Incident, IncidentGroupObjectPermission

    one = [make_incident(owner_cert=certs["lahore"]).pk]
    many = [make_incident(owner_cert=certs["lahore"]).pk for _ in range(12)]
    IncidentGroupObjectPermission.objects.filter(content_object_id__in=one + many).delete()
    _since[0] = AuditEvent.objects.latest("id").id
    with CaptureQueriesContext(connection) as few:
        sync_grants(one)
    with django_assert_num_queries(len(few.captured_queries)):
        sync_grants(many)
    assert len(trail(AuditKind.PERMISSION_CHANGED, object_id__in=[str(pk) for pk in many])) == 12
    assert Incident.objects.filter(pk__in=many).count() == 12


# --- API keys and webhooks ------------------------------------------------------------------------

def test_issuing_and_revoking_a_key(certs, member, outsider):
    head = member("banking", "head")
    key, secret = api_key_issue(actor=head, cert=certs["banking"], name="SOAR", scope="read")
    with pytest.raises(PermissionDenied):
        api_key_revoke(actor=member("banking", "handler"), key=key)
    api_key_revoke(actor=head, key=key)
    api_key_revoke(actor=head, key=key)  # already revoked: no change, no event

    issued, revoked = trail(AuditKind.API_KEY_CHANGED)
    assert issued.detail["action"] == "issue" and issued.detail["scope"] == "read"
    assert revoked.detail == {"action": "revoke", "prefix": key.prefix}
    assert {(e.actor_id, e.object_type, e.object_id, e.object_cert_id) for e in (issued, revoked)} == {
        (head.pk, "api_key", str(key.pk), certs["banking"].pk)}
    assert secret not in json.dumps(issued.detail)


def test_every_request_with_a_key_is_recorded_a_bad_key_is_not(certs, key_client):
    client = key_client("banking", scope="read")
    assert client.get(reverse("api-incidents"), REMOTE_ADDR=ADDRESS).status_code == 200
    assert client.get(reverse("api-incidents")).status_code == 200
    bad = Client(HTTP_AUTHORIZATION="Bearer cpk_0000000000_nothing")
    assert bad.get(reverse("api-incidents")).status_code == 401

    first, second = trail(AuditKind.API_KEY_USED)
    key = client.api_key
    assert (first.actor_id, first.api_key_id, first.cert_id, first.channel, first.client_address) == (
        key.service_user_id, key.pk, certs["banking"].pk, Channel.API, ADDRESS)
    assert first.detail == {"method": "GET", "path": reverse("api-incidents")}
    assert (first.object_type, first.object_id) == ("api_key", str(key.pk))
    assert second.id > first.id


@pytest.fixture
def loopback(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_DELAY_SECONDS = 60


def test_webhook_endpoint_changes(certs, member, loopback):
    head = member("lahore", "head")
    with pytest.raises(PermissionDenied):
        webhook_endpoint_create(actor=member("lahore", "handler"), cert=certs["lahore"],
                                url="http://127.0.0.1:9/hook", events=["incident.created"])
    endpoint, secret = webhook_endpoint_create(actor=head, cert=certs["lahore"],
                                               url="http://127.0.0.1:9/hook",
                                               events=["incident.created"])
    webhook_endpoint_set_active(actor=head, endpoint=endpoint, active=False)
    webhook_endpoint_set_active(actor=head, endpoint=endpoint, active=False)  # no change
    webhook_endpoint_delete(actor=head, endpoint=endpoint)

    events = trail(AuditKind.WEBHOOK_CHANGED)
    assert [e.detail["action"] for e in events] == ["create", "pause", "delete"]
    assert {(e.actor_id, e.object_type, e.object_cert_id) for e in events} == {
        (head.pk, "webhook", certs["lahore"].pk)}
    assert secret not in json.dumps([e.detail for e in events])


def test_each_delivery_attempt_is_recorded_as_the_scheduler(certs, member, loopback, clock,
                                                            monkeypatch):
    from incidents import webhooks

    endpoint, _ = webhook_endpoint_create(actor=member("lahore", "head"), cert=certs["lahore"],
                                          url="http://127.0.0.1:9/hook",
                                          events=[WebhookEvent.INCIDENT_CREATED])
    make_incident(owner_cert=certs["lahore"])
    answers = iter([webhooks.DeliveryError("HTTP 503", 503, ""), 200])

    def send(row, *, now):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(webhooks, "send", send)
    assert deliver_due() == 0
    clock.advance(hours=1)
    assert deliver_due() == 1

    failed, delivered = trail(AuditKind.WEBHOOK_DELIVERED)
    row = WebhookDelivery.objects.get(endpoint=endpoint)
    assert failed.detail == {"status": 503, "error": "HTTP 503", "attempt": 1,
                             "event": "incident.created", "event_id": str(row.event_id)}
    assert delivered.detail["status"] == 200 and delivered.detail["attempt"] == 2
    assert {(e.actor_id, e.channel, e.cert_id, e.object_type, e.object_id) for e in (failed, delivered)} == {
        (None, Channel.TASK, certs["lahore"].pk, "webhook", str(endpoint.pk))}

