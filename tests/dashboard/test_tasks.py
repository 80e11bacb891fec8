"""An incident's checklist: incidents/services/tasks.py and the workspace's tasks tab."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from incidents.access import ActionNotAllowed
from incidents.models import EventKind, IncidentTask, TimelineEvent
from incidents.services import task_add, task_assign, task_set_done
from tests.factories import make_incident
from tests.incidents.support import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(certs):
    return make_incident(owner_cert=certs["lahore"], title="Lahore phishing wave")


def task_events(incident) -> list[tuple]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=EventKind.TASK).order_by("pk")
                .values_list("actor__username", "old_value", "new_value", "reason"))


# Services ----------------------------------------------------------------------------------


def test_add_assign_tick_and_untick(certs, member, incident, clock):
    handler, analyst = member("lahore", "handler"), member("lahore", "analyst")

    task = task_add(incident=incident, actor=handler, title="  Call\nthe registrar ")
    assert (task.title, task.assignee, task.created_by, task.created_at) == (
        "Call the registrar", None, handler, T0)
    task_assign(task=task, actor=handler, assignee=analyst)
    clock.advance(minutes=5)
    task_set_done(task=task, actor=analyst, done=True)
    task.refresh_from_db()
    assert (task.assignee, task.done_by, task.is_done) == (analyst, analyst, True)
    task_set_done(task=task, actor=handler, done=False)
    task.refresh_from_db()
    assert (task.done_at, task.done_by) == (None, None)

    assert task_events(incident) == [
        ("lahore.handler.test", "", "added: Call the registrar", ""),
        ("lahore.handler.test", "", "lahore.analyst.test", "assigned: Call the registrar"),
        ("lahore.analyst.test", "open", "done", "Call the registrar"),
        ("lahore.handler.test", "done", "open", "Call the registrar"),
    ]


def test_ticking_twice_is_one_change(member, incident):
    handler = member("lahore", "handler")
    task = task_add(incident=incident, actor=handler, title="Block the domain")
    stale = IncidentTask.objects.get(pk=task.pk)
    task_set_done(task=task, actor=handler, done=True)
    task_set_done(task=stale, actor=member("lahore", "head"), done=True)
    assert IncidentTask.objects.get(pk=task.pk).done_by == handler
    assert len(task_events(incident)) == 2  # added, done once


def test_a_task_assignee_is_a_member_of_the_owner(member, incident):
    handler = member("lahore", "handler")
    with pytest.raises(ValidationError) as refused:
        task_add(incident=incident, actor=handler, title="x", assignee=member("punjab", "handler"))
    assert "assignee" in refused.value.message_dict
    task = task_add(incident=incident, actor=handler, title="x")
    with pytest.raises(ValidationError):
        task_assign(task=task, actor=handler, assignee=member("sindh", "handler"))
    assert IncidentTask.objects.get(pk=task.pk).assignee is None


def test_a_task_needs_a_title_that_fits(member, incident):
    handler = member("lahore", "handler")
    for title, fragment in (("   ", "Say what is to be done"), ("x" * 201, "200 characters")):
        with pytest.raises(ValidationError) as refused:
            task_add(incident=incident, actor=handler, title=title)
        assert fragment in refused.value.message_dict["title"][0]
    assert not IncidentTask.objects.exists()


@pytest.mark.parametrize(("slug", "role", "outcome"), [
    ("lahore", "head", "ok"), ("lahore", "handler", "ok"), ("lahore", "analyst", "ok"),
    ("lahore", "liaison", "refused"), ("punjab", "head", "refused"),
    ("national", "handler", "refused"), ("sindh", "handler", "404"),
])
def test_who_may_keep_the_checklist(member, incident, slug, role, outcome):
    actor = member(slug, role)
    existing = task_add(incident=incident, actor=None, title="Existing")
    calls = [lambda: task_add(incident=incident, actor=actor, title="New"),
             lambda: task_assign(task=existing, actor=actor, assignee=member("lahore", "handler")),
             lambda: task_set_done(task=existing, actor=actor, done=True)]
    for call in calls:
        if outcome == "ok":
            call()
        else:
            with pytest.raises(ActionNotAllowed if outcome == "refused" else Http404):
                call()
    expected_events = 4 if outcome == "ok" else 1
    assert len(task_events(incident)) == expected_events


def test_an_earlier_owner_may_no_longer_keep_the_checklist(certs, member, incident):
    from incidents.services import incident_escalate

    analyst = member("lahore", "analyst")
    task_add(incident=incident, actor=analyst, title="Before")
    incident_escalate(incident=incident, actor=member("lahore", "handler"))
    with pytest.raises(ActionNotAllowed):
        task_add(incident=incident, actor=analyst, title="After")
    task_add(incident=incident, actor=member("punjab", "analyst"), title="Punjab's now")


# The tab -----------------------------------------------------------------------------------


def act(client, incident, action, data):
    return client.post(reverse("dashboard:incident_action", args=[incident.reference, action]),
                       {"version": incident.version, "tab": "tasks", **data})


def tasks_tab(client, incident) -> str:
    return client.get(reverse("dashboard:incident", args=[incident.reference]),
                      {"tab": "tasks"}).content.decode()


def test_the_tab_adds_assigns_and_ticks(member, staff_client, incident):
    analyst, handler = member("lahore", "analyst"), member("lahore", "handler")
    client = staff_client(analyst)

    response = act(client, incident, "task-add", {"title": "Call the registrar",
                                                  "assignee": handler.pk})
    assert response.status_code == 302
    assert response["Location"].endswith("?tab=tasks")
    task = IncidentTask.objects.get(incident=incident)
    assert (task.title, task.assignee, task.created_by) == ("Call the registrar", handler, analyst)

    act(client, incident, "task-assign", {"task": task.pk, "assignee": analyst.pk})
    act(client, incident, "task-done", {"task": task.pk})
    task.refresh_from_db()
    assert (task.assignee, task.done_by) == (analyst, analyst)
    page = tasks_tab(client, incident)
    assert "Call the registrar" in page and "Open again" in page
    assert 'Tasks <span class="count">(1)</span>' in page

    act(client, incident, "task-undone", {"task": task.pk})
    task.refresh_from_db()
    assert not task.is_done


def test_the_tab_is_read_only_for_a_liaison_and_refuses_by_hand(member, staff_client, incident):
    task = task_add(incident=incident, actor=None, title="Call the registrar")
    client = staff_client(member("lahore", "liaison"))

    page = tasks_tab(client, incident)
    assert "Call the registrar" in page
    assert "/task-add/" not in page and "Mark done" not in page
    for action, data in (("task-add", {"title": "x"}), ("task-done", {"task": task.pk}),
                         ("task-assign", {"task": task.pk, "assignee": ""})):
        response = act(client, incident, action, data)
        assert response.status_code == 403
    assert not IncidentTask.objects.get(pk=task.pk).is_done
    assert IncidentTask.objects.count() == 1


def test_a_task_of_another_incident_is_not_found_in_the_form(certs, member, staff_client,
                                                            incident):
    other = make_incident(owner_cert=certs["lahore"], title="Other")
    foreign = task_add(incident=other, actor=None, title="Foreign")
    response = act(staff_client(member("lahore", "handler")), incident, "task-done",
                   {"task": foreign.pk})
    assert response.status_code == 400
    assert not IncidentTask.objects.get(pk=foreign.pk).is_done


def test_an_empty_task_says_what_to_fix(member, staff_client, incident):
    response = act(staff_client(member("lahore", "handler")), incident, "task-add", {"title": ""})
    assert response.status_code == 400
    content = response.content.decode()
    assert 'id="action-title_error"' in content and 'class="error-summary"' in content
