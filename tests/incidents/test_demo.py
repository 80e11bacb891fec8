"""The demo incidents of `make run` (incidents.demo, manage.py load_demo_incidents)."""

from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from incidents.access import Action, allowed_actions
from incidents.demo import DEMO_INCIDENTS, demo_titles
from incidents.models import (
    OPEN_STATUSES,
    Comment,
    EventKind,
    InboxItem,
    Incident,
    IncidentLink,
    IncidentShare,
    IncidentTask,
    IncidentVisit,
    IncidentWatch,
    Notification,
    Observable,
    OwnershipPeriod,
    Source,
    Status,
    TimelineEvent,
)
from incidents.observables import extract
from incidents.sla import ACK_MISSED_REASON
from incidents.tlp import Tlp

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo():
    _run("load_national_structure", "--demo")
    _run("load_routing_rules")  # as `make run` does: the demo's public reports are routed
    return _run("load_demo_incidents")


def test_every_status_appears_and_the_summary_counts_them(demo):
    statuses = set(Incident.objects.values_list("status", flat=True))
    assert statuses == set(Status.values)
    assert Incident.objects.count() == len(DEMO_INCIDENTS)
    assert f"{len(DEMO_INCIDENTS)} created" in demo
    for status in Status:
        count = Incident.objects.filter(status=status).count()
        assert f"{status.label:<13} {count}" in demo


def test_incidents_sit_at_several_levels_with_every_tlp(demo):
    kinds = set(Incident.objects.values_list("owner_cert__kind", flat=True))
    assert len(kinds) >= 4
    assert {"local", "provincial", "sectoral", "national", "organizational"} <= kinds
    assert set(Incident.objects.values_list("tlp", flat=True)) == set(Tlp.values)


def test_escalated_by_people_and_by_the_scheduler(demo):
    escalations = TimelineEvent.objects.filter(kind=EventKind.ESCALATED)
    assert escalations.filter(actor__isnull=False).exists()
    by_system = escalations.filter(actor__isnull=True)
    assert by_system.exists()
    assert set(by_system.values_list("reason", flat=True)) == {ACK_MISSED_REASON}
    # The scheduler's escalation leaves the incident new, with a deadline in the future.
    for incident in Incident.objects.filter(events__in=by_system):
        assert incident.status == Status.NEW
        assert not incident.is_ack_overdue(timezone.now())


def test_referred_shared_commented_and_overdue(demo):
    assert TimelineEvent.objects.filter(kind=EventKind.REFERRED, actor__isnull=False).exists()
    assert IncidentShare.objects.exists()
    assert TimelineEvent.objects.filter(kind=EventKind.SHARED).exists()
    assert Comment.objects.filter(reporter_visible=True).exists()
    assert Comment.objects.filter(reporter_visible=False).exists()
    assert Incident.objects.filter(resolution_missed_at__isnull=False).exists()
    assert TimelineEvent.objects.filter(kind=EventKind.ACK_MISSED).exists()


def test_observables_are_extracted_from_the_descriptions(demo):
    values = set(Observable.objects.values_list("value", flat=True))
    assert "http://login-secure.example/verify" in values
    assert "203.0.113.7" in values


def test_only_documentation_addresses_are_used():
    for entry in DEMO_INCIDENTS:
        text = "\n".join([entry["title"], entry["description"],
                          *(str(value) for value in entry.get("report", {}).values()),
                          *(step.get("body", "") for step in entry["story"])])
        for kind, value in extract(text):
            if kind == "ipv4":
                assert value.startswith(("192.0.2.", "198.51.100.", "203.0.113.")), value
            elif kind in ("domain", "url", "email"):
                host = value.split("://")[-1].split("/")[0].split("@")[-1]
                assert host == "example" or host.endswith(
                    (".example", "example.com", "example.org", "example.net")), value


def test_running_it_again_creates_nothing(demo):
    tables = (Incident, TimelineEvent, Comment, Observable, IncidentShare, IncidentTask,
              IncidentLink, IncidentWatch, IncidentVisit, Notification, InboxItem)
    before = [model.objects.count() for model in tables]
    out = _run("load_demo_incidents")
    assert "already there, nothing created" in out
    assert [model.objects.count() for model in tables] == before
    assert set(Incident.objects.values_list("title", flat=True)) == demo_titles()


def test_refuses_without_the_demo_users():
    _run("load_national_structure")  # the structure, but no demo users
    with pytest.raises(CommandError, match="load_national_structure --demo"):
        _run("load_demo_incidents")
    assert not Incident.objects.exists()


# --- Issue 9: every tab of the dashboard has rows for the demo handlers ------------------------

HANDLERS = {"lahore.handler": "lahore", "punjab.handler": "punjab",
            "national.handler": "national"}


def _user(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def _cert(slug):
    from organizations.models import Cert

    return Cert.objects.get(slug=slug)


def test_each_handler_has_work_assigned_new_received_shared_and_handed_over(demo):
    for username, slug in HANDLERS.items():
        cert, user = _cert(slug), _user(username)
        own_open = Incident.objects.filter(owner_cert=cert, status__in=OPEN_STATUSES)

        assert own_open.filter(assignee=user).exists(), username                     # mine
        assert own_open.filter(status=Status.NEW, assignee__isnull=True).exists(), slug  # new
        earlier_owner = OwnershipPeriod.objects.filter(incident=OuterRef("pk"),
                                                       ended_at__isnull=False).exclude(cert=cert)
        assert own_open.filter(Exists(earlier_owner)).exists(), slug  # escalated or referred to us
        assert OwnershipPeriod.objects.filter(cert=cert, ended_at__isnull=False).exclude(
            incident__owner_cert=cert).exists(), slug                  # we handed over
        assert IncidentShare.objects.filter(cert=cert).exists(), slug  # shared with us
        # Public reports waiting in its triage (new, from the public form).
        assert Incident.objects.filter(owner_cert=cert, source=Source.PUBLIC_FORM,
                                       status=Status.NEW).exists(), slug


def test_each_handler_watches_and_has_unread_notices(demo):
    for username in HANDLERS:
        user = _user(username)

        assert IncidentWatch.objects.filter(user=user).exists(), username
        unread = InboxItem.objects.filter(user=user, read_at__isnull=True)
        assert unread.filter(notification__kind=Notification.Kind.WATCHED_ACTIVITY).exists()
        assert unread.exclude(notification__kind=Notification.Kind.WATCHED_ACTIVITY).exists()
        # Every notice is about an incident its reader may see.
        for item in unread.select_related("notification__incident"):
            assert Action.VIEW in allowed_actions(user, item.notification.incident)
    # The notices were written, not e-mailed: the outbox sends those when the worker runs.
    assert mail.outbox == []
    assert Notification.objects.filter(sent_at__isnull=True).exists()


def test_overdue_work_at_every_level(demo):
    now = timezone.now()
    for slug in HANDLERS.values():
        own_open = Incident.objects.filter(owner_cert__slug=slug, status__in=OPEN_STATUSES)
        assert own_open.filter(resolve_due_at__lte=now).exists(), slug
    # A missed acknowledgement stays overdue only at the root: below it, the SLA pass escalates.
    assert Incident.objects.filter(owner_cert__slug="national", status=Status.NEW,
                                   ack_due_at__lte=now).exists()


def test_oversight_rows_for_the_provincial_and_national_handlers(demo):
    for slug in ("punjab", "national"):
        cert = _cert(slug)
        below = Incident.objects.filter(owner_cert__path__startswith=cert.path,
                                        status__in=OPEN_STATUSES).exclude(owner_cert=cert)
        user = _user(f"{slug}.handler")
        assert any(Action.VIEW in allowed_actions(user, incident) for incident in below), slug


def test_tasks_links_reports_and_correlated_observables(demo):
    assert IncidentTask.objects.count() == 7
    assert IncidentTask.objects.filter(done_at__isnull=False).count() == 3
    assert IncidentLink.objects.count() == 2
    assert TimelineEvent.objects.filter(kind=EventKind.LINKED).count() == 4
    assert TimelineEvent.objects.filter(kind=EventKind.TASK).count() == 10  # 7 added, 3 ticked
    # Three reports came through the public form's service, each with its receipt or not.
    reports = Incident.objects.filter(submission_key__startswith="demo-report-")
    assert {report.owner_cert.slug for report in reports} == {"national", "punjab", "lahore"}
    assert Notification.objects.filter(kind=Notification.Kind.NEW_REPORT,
                                       incident__in=reports).count() == 3
    # Indicators seen in more than one incident, for "seen in N other incidents".
    shared = (Observable.objects.values("type", "value").annotate(n=Count("incident"))
              .filter(n__gt=1))
    assert {row["value"] for row in shared} >= {"192.0.2.77", "198.51.100.23"}
    lahore_seen = Observable.objects.filter(
        value="192.0.2.77", incident__owner_cert__slug="lahore").count()
    assert lahore_seen == 2
    assert IncidentVisit.objects.filter(user__username="lahore.handler").exists()


def test_an_older_demo_database_gets_the_newer_incidents(demo):
    newest = DEMO_INCIDENTS[-1]["title"]
    Incident.objects.filter(title=newest).delete()

    out = _run("load_demo_incidents")

    assert "1 created" in out
    assert Incident.objects.filter(title=newest).count() == 1
    assert set(Incident.objects.values_list("title", flat=True)) == demo_titles()
