"""The Django admin as the staff interface for incidents (incidents/admin.py).

Every test goes through HTTP with the test client and checks the effect: rows after
refresh_from_db, timeline events, rendered text and status codes.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.access import visible_incidents
from incidents.models import (
    Attachment,
    Comment,
    EventKind,
    Incident,
    IncidentGroupObjectPermission,
    IncidentShare,
    Notification,
    Observable,
    OwnershipPeriod,
    Status,
    TimelineEvent,
)
from incidents.services import incident_change_severity
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:incidents_incident_changelist"
WORK_ACTIONS = ("transition", "assign", "severity", "tlp", "escalate", "refer", "share")


# Helpers ------------------------------------------------------------------------------------

def staff(user):
    """Members made by the `member` fixture are not staff; the admin needs is_staff."""
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def login(client):
    def do(user):
        client.force_login(staff(user))
        return client

    return do


def change_url(pk) -> str:
    return reverse("admin:incidents_incident_change", args=[pk])


def action_url(pk, action: str) -> str:
    return reverse("admin:incidents_incident_action", args=[pk, action])


def events(incident, kind) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind))


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def changelist_references(response) -> set[str]:
    return {incident["reference"] for incident in response.context["listing"].page.incidents}


@pytest.fixture
def lahore_incident(certs):
    return make_incident(owner_cert=certs["lahore"], title="Lahore phishing wave")


# Changelist ---------------------------------------------------------------------------------

def test_changelist_shows_a_handler_only_their_certs_incidents(certs, member, login,
                                                                lahore_incident):
    sindh_incident = make_incident(owner_cert=certs["sindh"], title="Sindh defacement")
    client = login(member("lahore", "handler"))

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert changelist_references(response) == {lahore_incident.reference}
    content = response.content.decode()
    assert lahore_incident.reference in content
    assert sindh_incident.reference not in content
    assert "Sindh defacement" not in content


def test_changelist_shows_an_ancestor_amber_but_not_red(certs, member, login):
    amber = make_incident(owner_cert=certs["lahore"], title="Amber case", tlp="TLP:AMBER")
    red = make_incident(owner_cert=certs["lahore"], title="Red case", tlp="TLP:RED")
    client = login(member("punjab", "handler"))

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert changelist_references(response) == {amber.reference}
    content = response.content.decode()
    assert amber.reference in content
    assert red.reference not in content
    assert "Red case" not in content


@pytest.mark.parametrize("who", ["outsider", "superuser"])
def test_changelist_is_forbidden_without_membership(certs, outsider, login, lahore_incident, who):
    user = outsider if who == "outsider" else UserFactory(username="root", is_staff=True,
                                                          is_superuser=True)
    client = login(user)

    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 403
    assert lahore_incident.reference.encode() not in response.content
    assert not visible_incidents(user).exists()

    # Nor does the admin index offer incidents, nor does the detail page open.
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert reverse(CHANGELIST).encode() not in index.content
    assert client.get(change_url(lahore_incident.pk)).status_code == 404  # as if missing
    assert client.get(action_url(lahore_incident.pk, "comment")).status_code == 404


def test_changelist_query_count_does_not_grow_with_incidents(certs, member, login):
    client = login(member("lahore", "handler"))
    assignee = member("lahore", "analyst")

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(CHANGELIST), {"size": 100})
        assert response.status_code == 200
        return len(queries), len(response.context["listing"].page.incidents)

    incidents = [make_incident(owner_cert=certs["lahore"], title=f"Case {n}") for n in range(5)]
    Incident.objects.filter(pk__in=[i.pk for i in incidents]).update(assignee=assignee)
    few, shown = count_queries()
    assert shown == 5

    more = [make_incident(owner_cert=certs["lahore"], title=f"Case {n}") for n in range(5, 30)]
    Incident.objects.filter(pk__in=[i.pk for i in more]).update(assignee=assignee)
    many, shown = count_queries()
    assert shown == 30
    assert many == few


# Detail page --------------------------------------------------------------------------------

def test_detail_page_shows_reference_and_tlp_label(member, login, lahore_incident):
    client = login(member("lahore", "handler"))

    response = client.get(change_url(lahore_incident.pk))

    assert response.status_code == 200
    content = response.content.decode()
    assert lahore_incident.reference in content
    assert "TLP:AMBER" in content
    assert "Lahore phishing wave" in content


def test_detail_page_answers_invisible_exactly_like_missing(certs, member, login):
    sindh_incident = make_incident(owner_cert=certs["sindh"], title="Sindh defacement")
    client = login(member("lahore", "handler"))

    # 404, not Django's redirect to the index with "doesn't exist" (issue 7, finding 10); the
    # DEBUG variants and the other pages are in the "No existence oracles" tests below.
    text = assert_same_404(client, change_url, sindh_incident.pk, missing_pk(Incident))
    assert "Sindh defacement" not in text
    assert sindh_incident.reference not in text


# Action links by role -------------------------------------------------------------------------

def _action_links(client, incident) -> set[str]:
    response = client.get(change_url(incident.pk))
    assert response.status_code == 200
    content = response.content.decode()
    return {action for action in ("transition", "assign", "severity", "tlp", "escalate", "refer",
                                  "share", "comment", "observable", "attach")
            if f'href="{action_url(incident.pk, action)}"' in content}


def test_action_links_follow_the_role(member, login, lahore_incident):
    handler_links = _action_links(login(member("lahore", "handler")), lahore_incident)
    assert "escalate" in handler_links
    assert set(WORK_ACTIONS) <= handler_links
    assert {"comment", "observable", "attach"} <= handler_links

    liaison_links = _action_links(login(member("lahore", "liaison")), lahore_incident)
    assert "escalate" not in liaison_links
    assert liaison_links == {"comment"}

    ancestor_links = _action_links(login(member("punjab", "head")), lahore_incident)
    assert not ancestor_links & set(WORK_ACTIONS)
    assert not ancestor_links & {"observable", "attach"}


def test_escalate_label_is_rendered_for_the_handler_only(member, login, lahore_incident):
    handler_page = login(member("lahore", "handler")).get(change_url(lahore_incident.pk))
    assert ">Escalate</a>" in handler_page.content.decode()
    liaison_page = login(member("lahore", "liaison")).get(change_url(lahore_incident.pk))
    assert ">Escalate</a>" not in liaison_page.content.decode()


# Action pages ---------------------------------------------------------------------------------

def post_action(client, incident, action, data, **kwargs):
    return client.post(action_url(incident.pk, action), {"version": incident.version, **data},
                       **kwargs)


def test_action_page_renders_with_tlp_label(member, login, lahore_incident):
    response = login(member("lahore", "handler")).get(action_url(lahore_incident.pk, "severity"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "TLP:AMBER" in content
    assert lahore_incident.reference in content
    assert f'name="version" value="{lahore_incident.version}"' in content


def test_transition_acknowledge(member, login, lahore_incident):
    handler = member("lahore", "handler")
    client = login(handler)

    response = post_action(client, lahore_incident, "transition",
                           {"to_status": "acknowledged", "reason": "On it"})

    assert response.status_code == 302
    assert response["Location"] == change_url(lahore_incident.pk)
    lahore_incident.refresh_from_db()
    assert lahore_incident.status == Status.ACKNOWLEDGED
    assert lahore_incident.acknowledged_at is not None
    assert lahore_incident.version == 2
    [event] = events(lahore_incident, EventKind.STATUS)
    assert (event.actor, event.old_value, event.new_value, event.reason) == (
        handler, "New", "Acknowledged", "On it")
    assert any("done for" in text for text in message_texts(response))


def test_transition_not_in_the_table_is_refused(member, login, lahore_incident):
    client = login(member("lahore", "handler"))
    response = post_action(client, lahore_incident, "transition", {"to_status": "closed"})
    assert response.status_code == 200
    assert response.context["form"].errors
    lahore_incident.refresh_from_db()
    assert lahore_incident.status == Status.NEW
    assert not events(lahore_incident, EventKind.STATUS)


def test_assign(member, login, lahore_incident):
    handler = member("lahore", "handler")
    analyst = member("lahore", "analyst")
    client = login(handler)

    response = post_action(client, lahore_incident, "assign", {"assignee": analyst.pk})

    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.assignee == analyst
    [event] = events(lahore_incident, EventKind.ASSIGNED)
    assert event.actor == handler
    assert event.new_value == str(analyst)


def test_assign_to_a_non_member_is_refused(member, login, lahore_incident):
    client = login(member("lahore", "handler"))
    stranger = member("sindh", "handler")
    response = post_action(client, lahore_incident, "assign", {"assignee": stranger.pk})
    assert response.status_code == 200
    assert "assignee" in response.context["form"].errors
    lahore_incident.refresh_from_db()
    assert lahore_incident.assignee is None
    assert not events(lahore_incident, EventKind.ASSIGNED)


def test_severity(member, login, lahore_incident):
    client = login(member("lahore", "handler"))
    old_ack_due = lahore_incident.ack_due_at

    response = post_action(client, lahore_incident, "severity",
                           {"severity": 5, "reason": "Ministry affected"})

    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.severity == 5
    assert lahore_incident.ack_due_at < old_ack_due
    [event] = events(lahore_incident, EventKind.SEVERITY)
    assert event.reason == "Ministry affected"


def test_tlp_handler_raises(member, login, lahore_incident):
    client = login(member("lahore", "handler"))

    response = post_action(client, lahore_incident, "tlp", {"tlp": "TLP:RED", "reason": "Sensitive"})

    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.tlp == "TLP:RED"
    [event] = events(lahore_incident, EventKind.TLP)
    assert (event.old_value, event.new_value) == ("TLP:AMBER", "TLP:RED")


def test_tlp_handler_lowering_is_refused_with_a_message(certs, member, login):
    incident = make_incident(owner_cert=certs["lahore"], tlp="TLP:RED")
    client = login(member("lahore", "handler"))

    response = post_action(client, incident, "tlp", {"tlp": "TLP:GREEN"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "Your role does not allow this" in content
    assert "lower tlp" in content
    incident.refresh_from_db()
    assert incident.tlp == "TLP:RED"
    assert incident.version == 1
    assert not events(incident, EventKind.TLP)


def test_tlp_head_lowers(certs, member, login):
    incident = make_incident(owner_cert=certs["lahore"], tlp="TLP:RED")
    head = member("lahore", "head")
    client = login(head)

    response = post_action(client, incident, "tlp", {"tlp": "TLP:GREEN", "reason": "Public now"})

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.tlp == "TLP:GREEN"
    [event] = events(incident, EventKind.TLP)
    assert (event.actor, event.old_value, event.new_value) == (head, "TLP:RED", "TLP:GREEN")


def test_escalate_to_parent(certs, member, login, lahore_incident):
    handler = member("lahore", "handler")
    client = login(handler)
    punjab_handler = staff(member("punjab", "handler"))

    response = post_action(client, lahore_incident, "escalate",
                           {"to_cert": certs["punjab"].pk, "reason": "Beyond our capacity"})

    assert response.status_code == 302
    lahore_incident.refresh_from_db()
    assert lahore_incident.owner_cert == certs["punjab"]
    assert lahore_incident.status == Status.NEW
    [event] = events(lahore_incident, EventKind.ESCALATED)
    assert (event.actor, event.old_value, event.new_value, event.reason) == (
        handler, certs["lahore"].short_name, certs["punjab"].short_name, "Beyond our capacity")
    # The earlier owner keeps view and comment only; the new owner works it.
    assert _action_links(client, lahore_incident) == {"comment"}
    assert "escalate" in _action_links(login(punjab_handler), lahore_incident)


def test_escalate_sideways_is_refused(certs, member, login, lahore_incident):
    client = login(member("lahore", "handler"))
    response = post_action(client, lahore_incident, "escalate",
                           {"to_cert": certs["sindh"].pk, "reason": "Wrong way"})
    assert response.status_code == 200
    assert "to_cert" in response.context["form"].errors
    lahore_incident.refresh_from_db()
    assert lahore_incident.owner_cert == certs["lahore"]
    assert not events(lahore_incident, EventKind.ESCALATED)


def test_refer_down(certs, member, login):
    incident = make_incident(owner_cert=certs["punjab"], title="Punjab case")
    handler = member("punjab", "handler")
    client = login(handler)

    response = post_action(client, incident, "refer",
                           {"to_cert": certs["lahore"].pk, "reason": "Local matter"})

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.owner_cert == certs["lahore"]
    assert incident.status == Status.NEW
    [event] = events(incident, EventKind.REFERRED)
    assert (event.actor, event.old_value, event.new_value) == (
        handler, certs["punjab"].short_name, certs["lahore"].short_name)


def test_share(certs, member, login, lahore_incident):
    handler = member("lahore", "handler")
    client = login(handler)
    sindh_handler = member("sindh", "handler")
    assert not visible_incidents(sindh_handler).filter(pk=lahore_incident.pk).exists()

    response = post_action(client, lahore_incident, "share", {"cert": certs["sindh"].pk})

    assert response.status_code == 302
    share = IncidentShare.objects.get(incident=lahore_incident)
    assert (share.cert, share.shared_by) == (certs["sindh"], handler)
    [event] = events(lahore_incident, EventKind.SHARED)
    assert event.new_value == certs["sindh"].short_name
    sindh_handler = get_user_model().objects.get(pk=sindh_handler.pk)
    assert visible_incidents(sindh_handler).filter(pk=lahore_incident.pk).exists()


def test_comment(member, login, lahore_incident):
    handler = member("lahore", "handler")
    client = login(handler)

    response = post_action(client, lahore_incident, "comment",
                           {"body": "  Called the registrar.  ", "reporter_visible": "on"})

    assert response.status_code == 302
    comment = Comment.objects.get(incident=lahore_incident)
    assert (comment.author, comment.body, comment.reporter_visible) == (
        handler, "Called the registrar.", True)
    [event] = events(lahore_incident, EventKind.COMMENT)
    assert event.new_value == "reporter-visible"
    follow = client.get(change_url(lahore_incident.pk))
    assert "Called the registrar." in follow.content.decode()


def test_liaison_may_comment(member, login, lahore_incident):
    client = login(member("lahore", "liaison"))
    response = post_action(client, lahore_incident, "comment", {"body": "Ministry informed"})
    assert response.status_code == 302
    assert Comment.objects.filter(incident=lahore_incident, body="Ministry informed").exists()


def test_observable_defanged_input_is_normalised(member, login, lahore_incident):
    client = login(member("lahore", "analyst"))

    response = post_action(client, lahore_incident, "observable",
                           {"type": "url", "value": "hxxps://Evil[.]Example/login"})

    assert response.status_code == 302
    assert Observable.objects.filter(incident=lahore_incident, type="url",
                                     value="https://evil.example/login").exists()
    [event] = events(lahore_incident, EventKind.OBSERVABLE)
    assert event.new_value == "url: https://evil.example/login"


def test_observable_invalid_value_is_a_form_error(member, login, lahore_incident):
    client = login(member("lahore", "handler"))
    response = post_action(client, lahore_incident, "observable",
                           {"type": "ipv4", "value": "999.1.1.1"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Observable.objects.filter(incident=lahore_incident, type="ipv4").exists()
    assert not events(lahore_incident, EventKind.OBSERVABLE)


def test_attach(settings, tmp_path, member, login, lahore_incident):
    settings.MEDIA_ROOT = tmp_path
    client = login(member("lahore", "handler"))
    payload = b"%PDF-1.4 evidence"

    response = post_action(client, lahore_incident, "attach",
                           {"file": SimpleUploadedFile("evidence.pdf", payload)})

    assert response.status_code == 302
    attachment = Attachment.objects.get(incident=lahore_incident)
    assert (attachment.original_name, attachment.size, attachment.content_type) == (
        "evidence.pdf", len(payload), "application/pdf")
    stored = tmp_path / attachment.file.name
    assert stored.read_bytes() == payload
    assert [event.new_value.split(" ")[0] for event in
            events(lahore_incident, EventKind.ATTACHMENT)] == ["evidence.pdf"]


@pytest.mark.parametrize("action, data", [
    ("transition", {"to_status": "acknowledged"}),
    ("assign", {"assignee": ""}),
    ("severity", {"severity": 5}),
    ("tlp", {"tlp": "TLP:RED"}),
    ("escalate", {"to_cert": "PARENT", "reason": "x"}),
    ("share", {"cert": "SINDH"}),
    ("observable", {"type": "domain", "value": "evil.example"}),
])
def test_liaison_posting_a_work_action_gets_403(certs, member, login, lahore_incident, action,
                                                data):
    data = {key: {"PARENT": certs["punjab"].pk, "SINDH": certs["sindh"].pk}.get(value, value)
            for key, value in data.items()}
    client = login(member("lahore", "liaison"))
    before = Incident.objects.values().get(pk=lahore_incident.pk)
    events_before = TimelineEvent.objects.filter(incident=lahore_incident).count()

    response = post_action(client, lahore_incident, action, data)

    assert response.status_code == 403
    assert Incident.objects.values().get(pk=lahore_incident.pk) == before
    assert TimelineEvent.objects.filter(incident=lahore_incident).count() == events_before
    assert not IncidentShare.objects.filter(incident=lahore_incident).exists()
    assert not Observable.objects.filter(incident=lahore_incident, value="evil.example").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_action_page_of_an_invisible_incident_is_404(certs, member, login, method):
    sindh_incident = make_incident(owner_cert=certs["sindh"])
    client = login(member("lahore", "head"))
    for action in ("comment", "transition", "nonexistent"):
        response = getattr(client, method)(action_url(sindh_incident.pk, action),
                                           {"version": 1, "body": "x", "to_status": "acknowledged"})
        assert response.status_code == 404
    assert client.get(action_url(sindh_incident.pk + 1000, "comment")).status_code == 404
    sindh_incident.refresh_from_db()
    assert sindh_incident.status == Status.NEW
    assert not Comment.objects.exists()


def test_action_pages_need_staff(member, client, lahore_incident):
    user = member("lahore", "handler")  # not is_staff
    client.force_login(user)
    response = client.get(action_url(lahore_incident.pk, "comment"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# Conflicts ------------------------------------------------------------------------------------

@pytest.mark.parametrize("action, data", [
    ("transition", {"to_status": "acknowledged"}),
    ("severity", {"severity": 4}),
    ("tlp", {"tlp": "TLP:AMBER+STRICT"}),
    ("escalate", {"to_cert": "PARENT", "reason": "x"}),
])
def test_stale_version_changes_nothing_and_says_so(certs, member, login, lahore_incident, action,
                                                   data):
    data = {key: certs["punjab"].pk if value == "PARENT" else value for key, value in data.items()}
    handler = member("lahore", "handler")
    client = login(handler)
    stale_version = lahore_incident.version
    # Someone else changes the incident after the form was opened.
    other = member("lahore", "head")
    incident_change_severity(incident=Incident.objects.get(pk=lahore_incident.pk), actor=other,
                             severity=3)
    lahore_incident.refresh_from_db()
    before = Incident.objects.values().get(pk=lahore_incident.pk)
    events_before = TimelineEvent.objects.filter(incident=lahore_incident).count()

    response = client.post(action_url(lahore_incident.pk, action),
                           {"version": stale_version, **data}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [(change_url(lahore_incident.pk), 302)]
    assert "changed by someone else" in response.content.decode()
    assert Incident.objects.values().get(pk=lahore_incident.pk) == before
    assert TimelineEvent.objects.filter(incident=lahore_incident).count() == events_before


# Add view -----------------------------------------------------------------------------------

ADD = "admin:incidents_incident_add"


def test_add_view_opens_an_incident_for_the_handlers_cert(certs, member, login):
    handler = member("lahore", "handler")
    client = login(handler)
    form_page = client.get(reverse(ADD))
    assert form_page.status_code == 200
    assert 'value="fraud/phishing"' in form_page.content.decode()

    response = client.post(reverse(ADD), {
        "owner_cert": certs["lahore"].pk, "title": "Fake tax refund SMS",
        "classification_type": "fraud/phishing", "severity": 3, "tlp": "TLP:GREEN",
        "description": "Links to hxxp://refund-fbr[.]example", "affected_organization": "",
    })

    incident = Incident.objects.get(title="Fake tax refund SMS")
    assert response.status_code == 302
    assert response["Location"] == change_url(incident.pk)
    assert (incident.owner_cert, incident.classification, incident.incident_type,
            incident.severity, incident.tlp, incident.status, incident.created_by) == (
        certs["lahore"], "fraud", "phishing", 3, "TLP:GREEN", Status.NEW, handler)
    [created] = events(incident, EventKind.CREATED)
    assert created.actor == handler
    assert list(Observable.objects.filter(incident=incident).values_list("type", "value")) == [
        ("url", "http://refund-fbr.example/")]
    assert any(incident.reference in text for text in message_texts(response))
    assert client.get(change_url(incident.pk)).status_code == 200


def test_add_view_refuses_a_cert_the_user_is_not_member_of(certs, member, login):
    client = login(member("lahore", "handler"))

    response = client.post(reverse(ADD), {
        "owner_cert": certs["sindh"].pk, "title": "Not ours",
        "classification_type": "fraud/phishing", "severity": 2, "tlp": "TLP:AMBER",
    })

    assert response.status_code == 200
    assert "owner_cert" in response.context["form"].errors
    assert not Incident.objects.filter(title="Not ours").exists()


def test_add_view_refuses_a_liaison_cert(certs, member, login):
    client = login(member("lahore", "liaison"))
    response = client.post(reverse(ADD), {
        "owner_cert": certs["lahore"].pk, "title": "Liaison case",
        "classification_type": "fraud/phishing", "severity": 2, "tlp": "TLP:AMBER",
    })
    assert response.status_code == 200
    assert "owner_cert" in response.context["form"].errors
    assert not Incident.objects.filter(title="Liaison case").exists()


def test_add_view_is_forbidden_to_outsiders(outsider, login):
    assert login(outsider).get(reverse(ADD)).status_code == 403


# Attachment download --------------------------------------------------------------------------

@pytest.fixture
def attachment(settings, tmp_path, member, lahore_incident):
    from incidents.services import incident_attach

    settings.MEDIA_ROOT = tmp_path
    return incident_attach(incident=lahore_incident, actor=member("lahore", "handler"),
                           uploaded_file=SimpleUploadedFile("report.txt", b"indicator list\n"))


def download_url(attachment) -> str:
    return reverse("incidents:attachment_download", args=[attachment.pk])


def test_download_by_an_allowed_member(member, client, attachment):
    client.force_login(member("punjab", "analyst"))  # ancestor, TLP:AMBER: may view

    response = client.get(download_url(attachment))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="report.txt"' in response["Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"indicator list\n"


def test_download_answers_404_to_the_invisible_and_anonymous(member, client, attachment):
    assert client.get(download_url(attachment)).status_code == 404
    client.force_login(member("sindh", "head"))
    assert client.get(download_url(attachment)).status_code == 404
    assert client.get(reverse("incidents:attachment_download",
                              args=[attachment.pk + 1000])).status_code == 404


def test_inline_links_to_the_download(member, login, attachment, lahore_incident):
    response = login(member("lahore", "analyst")).get(change_url(lahore_incident.pk))
    assert response.status_code == 200
    assert f'href="{download_url(attachment)}"' in response.content.decode()


def test_stale_transition_after_the_same_transition_says_conflict(member, login, lahore_incident):
    from incidents.services import incident_acknowledge

    client = login(member("lahore", "handler"))
    stale_version = lahore_incident.version
    incident_acknowledge(incident=Incident.objects.get(pk=lahore_incident.pk),
                         actor=member("lahore", "head"))

    response = client.post(action_url(lahore_incident.pk, "transition"),
                           {"version": stale_version, "to_status": "acknowledged"}, follow=True)

    assert "changed by someone else" in response.content.decode()


def test_the_admin_login_page_works_for_someone_not_signed_in(client, db):
    # The login page lists the apps before anyone signed in; the incident admin must answer
    # "not a member" for an anonymous visitor instead of querying with it.
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


# No existence oracles (issue 7, finding 10) ---------------------------------------------------
# Whatever a member may not see answers exactly like what does not exist: 404 with the same page,
# with DEBUG on (whose pages say why) and off, on every admin path that takes an id.

# The models whose rows belong to an incident, each with a way to find a row of an incident.
INCIDENT_PARTS = [Comment, TimelineEvent, Observable, Attachment, IncidentShare, Notification,
                  OwnershipPeriod, IncidentGroupObjectPermission]


def incident_key(model) -> str:
    return "content_object" if model is IncidentGroupObjectPermission else "incident"


def same_page(body: bytes, url: str) -> str:
    """The page without what differs from one request to the next: its own address and the CSRF
    tokens."""
    text = body.decode().replace(url, "<this address>").replace(url.lstrip("/"), "<this address>")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', text)


def assert_same_404(client, url_of, invisible_pk, missing_pk, method="get", data=None):
    answers = []
    for pk in (invisible_pk, missing_pk):
        response = getattr(client, method)(url_of(pk), data or {})
        assert response.status_code == 404, (url_of(pk), response.status_code)
        answers.append(same_page(response.content, url_of(pk)))
    assert answers[0] == answers[1]
    return answers[0]


@pytest.fixture
def furnished(certs, member, settings, tmp_path):
    """A Lahore and a Sindh incident, each with a comment, an observable, a file, a share, an
    assignment (and its notification), and an escalation (ownership periods)."""
    from incidents.services import (
        incident_add_observable,
        incident_assign,
        incident_attach,
        incident_comment,
        incident_escalate,
        incident_share,
    )

    settings.MEDIA_ROOT = tmp_path

    def furnish(slug):
        handler = member(slug, "handler")
        incident = make_incident(owner_cert=certs[slug], actor=handler, title=f"{slug} case")
        incident_comment(incident=incident, actor=handler, body="Internal note")
        incident_add_observable(incident=incident, actor=handler, type="domain",
                                value=f"{slug}.evil.example")
        incident_attach(incident=incident, actor=handler,
                        uploaded_file=SimpleUploadedFile("log.txt", b"GET /login\n"))
        incident_share(incident=incident, actor=handler, cert=certs["karachi"])
        incident_assign(incident=incident, actor=handler, assignee=member(slug, "analyst"))
        incident_escalate(incident=incident, actor=handler)
        return incident

    # A Lahore handler sees the first (as its earlier owner) and not the second.
    return furnish("lahore"), furnish("rawalpindi")


def missing_pk(model) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


def view_on_site_url(model, pk) -> str:
    content_type = ContentType.objects.get_for_model(model)
    return reverse("admin:view_on_site", args=[content_type.pk, pk])


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize("model", [Incident, *INCIDENT_PARTS], ids=lambda model: model.__name__)
def test_view_on_site_answers_invisible_exactly_like_missing(settings, certs, member, login,
                                                             furnished, model, debug):
    settings.DEBUG = debug
    visible_incident, invisible_incident = furnished
    client = login(member("lahore", "handler"))

    def row_of(incident):
        if model is Incident:
            return incident.pk
        return model.objects.filter(**{incident_key(model): incident}).values_list(
            "pk", flat=True).first()

    visible, invisible = row_of(visible_incident), row_of(invisible_incident)
    assert visible and invisible
    page = assert_same_404(client, lambda pk: view_on_site_url(model, pk), invisible,
                           missing_pk(model))
    assert "rawalpindi" not in page.lower()
    response = client.get(view_on_site_url(model, visible))
    if model is Incident:
        assert (response.status_code, response["Location"]) == (302, change_url(visible))
    else:
        assert response.status_code == 404  # parts have no page of their own


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize(("page", "visible_status"), [("change", 200), ("history", 200),
                                                      ("delete", 403)])
def test_change_history_and_delete_pages_answer_invisible_exactly_like_missing(
        settings, certs, member, login, page, visible_status, debug):
    settings.DEBUG = debug
    visible = make_incident(owner_cert=certs["lahore"], title="Lahore phishing wave")
    invisible = make_incident(owner_cert=certs["sindh"], title="Sindh defacement")
    client = login(member("lahore", "handler"))

    def url(pk):
        return reverse(f"admin:incidents_incident_{page}", args=[pk])

    text = assert_same_404(client, url, invisible.pk, missing_pk(Incident))
    assert "Sindh defacement" not in text and invisible.reference not in text
    assert client.get(url(visible.pk)).status_code == visible_status
    assert client.get(url("not-a-number")).status_code == 404


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_action_pages_answer_invisible_exactly_like_missing(settings, certs, member, login,
                                                           method, debug):
    settings.DEBUG = debug
    visible = make_incident(owner_cert=certs["lahore"])
    invisible = make_incident(owner_cert=certs["sindh"])
    client = login(member("lahore", "head"))

    for action in ("comment", "escalate", "nonexistent"):
        assert_same_404(client, lambda pk, action=action: action_url(pk, action), invisible.pk,
                        missing_pk(Incident), method=method, data={"version": 1, "body": "x"})
    assert client.get(action_url(visible.pk, "comment")).status_code == 200
    assert not Comment.objects.exists()


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG off", "DEBUG on"])
def test_download_answers_invisible_exactly_like_missing(settings, member, client, attachment,
                                                         debug):
    settings.DEBUG = debug
    client.force_login(member("sindh", "head"))

    assert_same_404(client, lambda pk: reverse("incidents:attachment_download", args=[pk]),
                    attachment.pk, missing_pk(Attachment))
