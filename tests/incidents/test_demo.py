"""The demo incidents of `make run` (incidents.demo, manage.py load_demo_incidents)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from incidents.demo import DEMO_INCIDENTS, demo_titles
from incidents.models import (
    Comment,
    EventKind,
    Incident,
    IncidentShare,
    Observable,
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
        text = f"{entry['title']}\n{entry['description']}"
        for kind, value in extract(text):
            if kind == "ipv4":
                assert value.startswith(("192.0.2.", "198.51.100.", "203.0.113.")), value
            elif kind in ("domain", "url", "email"):
                host = value.split("://")[-1].split("/")[0].split("@")[-1]
                assert host == "example" or host.endswith(
                    (".example", "example.com", "example.org", "example.net")), value


def test_running_it_again_creates_nothing(demo):
    tables = (Incident, TimelineEvent, Comment, Observable, IncidentShare)
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
