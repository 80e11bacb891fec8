"""Bulk actions of the queue (issue 9, item 2): assign and acknowledge the selected incidents, each
checked on the server as on its own page; shown only to those who may take them."""

from __future__ import annotations

from html import unescape

import pytest

from incidents.models import EventKind, Incident, Status
from incidents.services import incident_acknowledge, incident_escalate
from tests.factories import make_incident
from tests.incidents.support import events

QUEUE = "/dashboard/"
BULK = "/dashboard/bulk/"


@pytest.fixture
def lahore_new(certs, clock):
    return [make_incident(owner_cert=certs["lahore"], title=f"Lahore {n}") for n in range(3)]


def summary(client) -> str:
    """The message the queue shows after the redirect."""
    return unescape(client.get(QUEUE).content.decode())


def test_a_handler_acknowledges_the_selected_incidents(staff_client, member, lahore_new):
    handler = member("lahore", "handler")
    client = staff_client(handler)
    response = client.post(BULK, {"action": "acknowledge", "next": "/dashboard/?tab=new",
                                  "incident": [lahore_new[0].pk, lahore_new[1].pk]})
    assert response.status_code == 302 and response["Location"] == "/dashboard/?tab=new"
    for incident in lahore_new[:2]:
        incident.refresh_from_db()
        assert incident.status == Status.ACKNOWLEDGED
        assert [(e.actor, e.new_value) for e in events(incident, EventKind.STATUS)] == [
            (handler, "Acknowledged")]
    lahore_new[2].refresh_from_db()
    assert lahore_new[2].status == Status.NEW
    assert "2 acknowledged." in summary(client)


def test_a_handler_assigns_to_a_member_of_the_cert(staff_client, member, lahore_new):
    analyst = member("lahore", "analyst")
    client = staff_client(member("lahore", "handler"))
    client.post(BULK, {"action": f"assign:{analyst.pk}", "incident": [i.pk for i in lahore_new]})
    for incident in lahore_new:
        incident.refresh_from_db()
        assert incident.assignee == analyst
        assert [e.new_value for e in events(incident, EventKind.ASSIGNED)] == [str(analyst)]
    assert "3 assigned to lahore.analyst.test." in summary(client)


def test_assign_to_me(staff_client, member, lahore_new):
    handler = member("lahore", "handler")
    client = staff_client(handler)
    client.post(BULK, {"action": f"assign:{handler.pk}", "incident": [lahore_new[0].pk]})
    lahore_new[0].refresh_from_db()
    assert lahore_new[0].assignee == handler
    assert [row.reference for row in client.get(QUEUE).context["queue"].rows] == [
        lahore_new[0].reference]  # now in "mine"


def test_the_bulk_controls_show_only_what_the_member_may_do(staff_client, member, lahore_new):
    page = staff_client(member("lahore", "handler")).get(QUEUE, {"tab": "new"}).content.decode()
    assert '<form method="post" action="/dashboard/bulk/"' in page
    assert '<option value="acknowledge">Acknowledge</option>' in page
    assert "Assign to me" in page
    assert f'name="incident" value="{lahore_new[0].pk}"' in page
    # An analyst may take neither action: no checkboxes, no action menu.
    page = staff_client(member("lahore", "analyst")).get(QUEUE, {"tab": "new"}).content.decode()
    assert "/dashboard/bulk/" not in page and 'name="incident"' not in page
    # Nothing new to acknowledge on the page: only assigning is offered.
    for incident in lahore_new:
        incident_acknowledge(incident=incident, actor=None)
    page = staff_client(member("lahore", "handler")).get(QUEUE, {"tab": "all"}).content.decode()
    assert "Assign to me" in page and 'value="acknowledge"' not in page
    # A parent CERT sees Lahore's incidents through oversight but may not work them.
    page = staff_client(member("punjab", "handler")).get(QUEUE, {"tab": "oversight"}).content.decode()
    assert lahore_new[0].reference in page and "/dashboard/bulk/" not in page


def test_a_role_that_may_not_is_refused_even_when_posted_by_hand(staff_client, member, lahore_new):
    analyst = member("lahore", "analyst")
    client = staff_client(analyst)
    client.post(BULK, {"action": "acknowledge", "incident": [lahore_new[0].pk]})
    client.post(BULK, {"action": f"assign:{analyst.pk}", "incident": [lahore_new[1].pk]})
    for incident in lahore_new[:2]:
        incident.refresh_from_db()
        assert (incident.status, incident.assignee) == (Status.NEW, None)
        assert events(incident, EventKind.STATUS) == events(incident, EventKind.ASSIGNED) == []
    message = summary(client)
    assert f"0 acknowledged; {lahore_new[0].reference}: you may not acknowledge it." in message
    assert f"0 assigned to lahore.analyst.test; {lahore_new[1].reference}: you may not assign it." in message


def test_an_earlier_owner_may_not_work_what_it_handed_over(staff_client, member, lahore_new):
    escalated = incident_escalate(incident=lahore_new[0], actor=None, reason="up")
    client = staff_client(member("lahore", "handler"))
    client.post(BULK, {"action": "acknowledge", "incident": [escalated.pk, lahore_new[1].pk]})
    escalated.refresh_from_db()
    lahore_new[1].refresh_from_db()
    assert escalated.status == Status.NEW and lahore_new[1].status == Status.ACKNOWLEDGED
    assert f"1 acknowledged; {escalated.reference}: you may not acknowledge it." in summary(client)


def test_invisible_and_missing_incidents_are_not_found(staff_client, member, certs, lahore_new):
    sindh = make_incident(owner_cert=certs["sindh"], title="Sindh's own")
    client = staff_client(member("lahore", "handler"))
    client.post(BULK, {"action": "acknowledge",
                       "incident": [sindh.pk, 999999, "abc", lahore_new[0].pk]})
    sindh.refresh_from_db()
    assert sindh.status == Status.NEW and events(sindh, EventKind.STATUS) == []
    message = summary(client)
    assert "1 acknowledged; 3 not found." in message
    assert sindh.reference not in message and "Sindh's own" not in message


def test_a_step_the_lifecycle_does_not_allow_is_explained(staff_client, member, lahore_new):
    incident_acknowledge(incident=lahore_new[0], actor=None)
    client = staff_client(member("lahore", "handler"))
    client.post(BULK, {"action": "acknowledge", "incident": [lahore_new[0].pk]})
    assert (f"0 acknowledged; {lahore_new[0].reference}: Acknowledged cannot become Acknowledged"
            in summary(client))


@pytest.mark.parametrize("data, message", [
    ({"action": "acknowledge"}, "Select at least one incident, then choose the action."),
    ({"action": "", "incident": ["1"]}, "Choose what to do with the selected incidents."),
    ({"action": "delete", "incident": ["1"]}, "Choose what to do with the selected incidents."),
    ({"action": "assign:abc", "incident": ["1"]}, "Choose a member of LHR-CERT to assign"),
    ({"action": "acknowledge", "incident": [str(n) for n in range(101)]},
     "Select at most 100 incidents at a time."),
])
def test_bad_requests_are_explained(staff_client, member, lahore_new, data, message):
    client = staff_client(member("lahore", "handler"))
    response = client.post(BULK, data)
    assert response.status_code == 302 and response["Location"] == QUEUE
    assert message in summary(client)
    assert not Incident.objects.exclude(status=Status.NEW).exists()


def test_assigning_to_someone_outside_the_cert_is_refused(staff_client, member, lahore_new):
    stranger = member("sindh", "handler")
    client = staff_client(member("lahore", "handler"))
    client.post(BULK, {"action": f"assign:{stranger.pk}", "incident": [lahore_new[0].pk]})
    lahore_new[0].refresh_from_db()
    assert lahore_new[0].assignee is None
    assert "Choose a member of LHR-CERT to assign the incidents to." in summary(client)


def test_bulk_needs_a_post_and_a_member(client, staff_client, outsider, member, lahore_new):
    assert staff_client(member("lahore", "handler")).get(BULK).status_code == 405
    refused = staff_client(outsider).post(BULK, {"action": "acknowledge",
                                                 "incident": [lahore_new[0].pk]})
    assert refused.status_code == 403
    assert client.post(BULK, {"action": "acknowledge", "incident": [lahore_new[0].pk]}
                       ).status_code == 302
    lahore_new[0].refresh_from_db()
    assert lahore_new[0].status == Status.NEW
