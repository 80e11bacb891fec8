"""Watching an incident (issue 9, item 5): its activity reaches the watchers who may still view
it, never the person who acted; and the record of when a member last opened an incident."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.http import Http404

from incidents.models import (
    EventKind,
    InboxItem,
    IncidentVisit,
    IncidentWatch,
    Notification,
    Status,
)
from incidents.services import (
    incident_acknowledge,
    incident_add_observable,
    incident_assign,
    incident_attach,
    incident_change_severity,
    incident_change_tlp,
    incident_comment,
    incident_escalate,
    incident_refer,
    incident_share,
    incident_transition,
    incident_unwatch,
    incident_watch,
    is_watching,
    mark_incident_seen,
)
from incidents.sla import run_sla_pass
from tests.factories import make_incident
from tests.incidents.support import events, new_mail

WATCHED = Notification.Kind.WATCHED_ACTIVITY


def inbox_of(user) -> list[str]:
    """The keys of the watched-activity notices in `user`'s inbox."""
    return sorted(InboxItem.objects.filter(user=user, notification__kind=WATCHED)
                  .values_list("notification__key", flat=True))


def watched_mail_to(address: str) -> list:
    return [email for email in mail.outbox
            if address in email.to and "activity on an incident you watch" in email.subject]


@pytest.fixture
def lahore(certs, member, clock):
    """A Lahore incident (TLP:AMBER), shared with the banking CERT, and the people around it."""
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler, title="Payroll phishing")
    incident_share(incident=incident, actor=handler, cert=certs["banking"])
    new_mail()
    return incident


# --- The services: who may watch -----------------------------------------------------------------

def test_a_member_who_may_view_watches_and_unwatches(lahore, member):
    analyst = member("banking", "analyst")  # shared with: view only

    watch = incident_watch(incident=lahore, actor=analyst)
    again = incident_watch(incident=lahore, actor=analyst)

    assert again.pk == watch.pk
    assert IncidentWatch.objects.filter(incident=lahore).count() == 1
    assert is_watching(incident=lahore, user=analyst)
    assert incident_unwatch(incident=lahore, actor=analyst) is True
    assert incident_unwatch(incident=lahore, actor=analyst) is False
    assert not IncidentWatch.objects.exists()


@pytest.mark.parametrize("slug", ["rawalpindi", None])
def test_who_may_not_view_cannot_watch_or_unwatch(lahore, member, outsider, slug):
    stranger = member(slug, "head") if slug else outsider

    with pytest.raises(Http404):
        incident_watch(incident=lahore, actor=stranger)
    with pytest.raises(Http404):
        incident_unwatch(incident=lahore, actor=stranger)
    assert not IncidentWatch.objects.exists()


# --- Activity reaches the watchers -----------------------------------------------------------------

def test_activity_reaches_every_watcher_but_the_one_who_acted(lahore, member):
    handler, analyst, banker = (member("lahore", "handler"), member("lahore", "analyst"),
                                member("banking", "liaison"))
    for person in (handler, analyst, banker):
        incident_watch(incident=lahore, actor=person)

    comment = incident_comment(incident=lahore, actor=handler, body="Blocked the sender domain.")
    sent = new_mail()

    [event] = events(lahore, EventKind.COMMENT)
    [notification] = Notification.objects.filter(kind=WATCHED)
    assert notification.key == f"watch:{event.pk}"
    assert inbox_of(analyst) == inbox_of(banker) == [f"watch:{event.pk}"]
    assert inbox_of(handler) == []  # who acted knows what they did
    [email] = [email for email in sent if "watch" in email.subject]
    assert email.to == ["banking.liaison@t.example", "lahore.analyst@t.example"]
    # Which incident, what happened, and the label, like every staff message.
    assert email.subject.startswith(f"[TLP:AMBER] {lahore.reference} ")
    assert "TLP:AMBER — handle according to the Traffic Light Protocol 2.0." in email.body
    assert "What happened: Comment: internal, by lahore.handler.test" in email.body
    assert comment.body not in email.body


def test_every_watched_kind_of_event_makes_one_notice(lahore, member, certs, media, clock):
    handler, analyst = member("lahore", "handler"), member("lahore", "analyst")
    incident_watch(incident=lahore, actor=analyst)
    punjab_handler = member("punjab", "handler")

    incident_acknowledge(incident=lahore, actor=handler)                           # status
    incident_assign(incident=lahore, actor=handler, assignee=handler)              # assigned
    incident_change_severity(incident=lahore, actor=handler, severity=4)           # severity
    incident_comment(incident=lahore, actor=handler, body="Looking.")              # comment
    incident_add_observable(incident=lahore, actor=handler, type="domain",
                            value="evil.example")                                 # observable
    incident_attach(incident=lahore, actor=handler, uploaded_file=SimpleUploadedFile(
        "mail.txt", b"Received: from evil.example"))                               # attachment
    incident_escalate(incident=lahore, actor=handler)                              # escalated
    lahore.refresh_from_db()
    incident_refer(incident=lahore, actor=punjab_handler, to_cert=certs["lahore"])  # referred
    lahore.refresh_from_db()
    incident_change_tlp(incident=lahore, actor=handler, tlp="TLP:AMBER+STRICT")    # tlp
    new_mail()

    keys = set(Notification.objects.filter(kind=WATCHED).values_list("key", flat=True))
    reported = sorted(event.kind for event in events(lahore) if f"watch:{event.pk}" in keys)
    assert reported == sorted(["status", "assigned", "severity", "comment", "observable",
                               "attachment", "escalated", "referred", "tlp"])
    assert len(inbox_of(analyst)) == 9


def test_no_watchers_no_notice_and_one_query_to_know(lahore, member, django_assert_num_queries):
    handler = member("lahore", "handler")
    incident_watch(incident=lahore, actor=handler)  # only the actor watches: nobody to tell

    incident_comment(incident=lahore, actor=handler, body="First look.")

    assert not Notification.objects.filter(kind=WATCHED).exists()
    # The cost of a comment with a watcher to tell is the cost without one plus the INSERT.
    incident_watch(incident=lahore, actor=member("lahore", "analyst"))
    from incidents.services.base import notify_watchers

    [event] = events(lahore, EventKind.COMMENT)
    Notification.objects.all().delete()
    with django_assert_num_queries(2):  # EXISTS, INSERT
        notify_watchers([event], deliver_on_commit=False)
    with django_assert_num_queries(0):  # a kind nobody watches for: no query at all
        notify_watchers([type(event)(incident=lahore, kind=EventKind.SHARED, at=event.at)])


def test_shares_and_creation_are_not_watched_activity(lahore, member, certs):
    incident_watch(incident=lahore, actor=member("lahore", "analyst"))

    incident_share(incident=lahore, actor=member("lahore", "handler"), cert=certs["telecom"])

    assert not Notification.objects.filter(kind=WATCHED).exists()


def test_a_watcher_who_may_no_longer_view_is_not_told(lahore, member):
    banker, analyst = member("banking", "analyst"), member("lahore", "analyst")
    incident_watch(incident=lahore, actor=banker)
    incident_watch(incident=lahore, actor=analyst)

    # A share lets banking view only up to TLP:AMBER: the change itself is the last it could
    # have seen, but recipients are decided at delivery, when the label is already RED.
    incident_change_tlp(incident=lahore, actor=member("lahore", "head"), tlp="TLP:RED")
    incident_comment(incident=lahore, actor=member("lahore", "handler"), body="Contained.")
    new_mail()

    assert inbox_of(banker) == []
    assert watched_mail_to("banking.analyst@t.example") == []
    assert len(inbox_of(analyst)) == 2
    assert IncidentWatch.objects.filter(user=banker).exists()  # the row stays, it just grants nothing


def test_an_unwatched_incident_tells_nobody(lahore, member):
    analyst = member("lahore", "analyst")
    incident_watch(incident=lahore, actor=analyst)
    incident_comment(incident=lahore, actor=member("lahore", "handler"), body="One.")
    incident_unwatch(incident=lahore, actor=analyst)
    incident_comment(incident=lahore, actor=member("lahore", "handler"), body="Two.")
    new_mail()

    # The first notice was recorded while they watched; at delivery they no longer do.
    assert inbox_of(analyst) == []


def test_the_scheduler_escalating_tells_watchers_as_the_system(lahore, member, clock):
    analyst = member("lahore", "analyst")
    incident_watch(incident=lahore, actor=analyst)

    assert run_sla_pass(now=lahore.ack_due_at).escalated == 1
    sent = new_mail()

    [key] = inbox_of(analyst)
    [email] = [email for email in sent if analyst.email in email.to]
    assert key == f"watch:{events(lahore, EventKind.ESCALATED)[0].pk}"
    assert "What happened: Escalated: LHR-CERT -> PB-CERT, by the system" in email.body
    assert "Reason: acknowledgement deadline missed" in email.body
    lahore.refresh_from_db()
    assert lahore.status == Status.NEW


def test_a_watched_incident_notice_is_one_per_event_however_often_delivered(lahore, member):
    analyst = member("lahore", "analyst")
    incident_watch(incident=lahore, actor=analyst)
    incident_transition(incident=lahore, actor=member("lahore", "handler"),
                        to_status=Status.ACKNOWLEDGED)
    new_mail()
    new_mail()
    call_command("sync_incident_permissions", stdout=StringIO())

    assert len(inbox_of(analyst)) == 1
    assert len(watched_mail_to(analyst.email)) == 1


# --- The last visit ----------------------------------------------------------------------------

def test_mark_incident_seen_records_and_moves_the_visit_in_one_query(
        lahore, member, clock, django_assert_num_queries):
    analyst = member("lahore", "analyst")

    with django_assert_num_queries(1):
        mark_incident_seen(incident=lahore, user=analyst)
    assert IncidentVisit.objects.get(user=analyst, incident=lahore).seen_at == clock.now

    later = clock.advance(minutes=5)
    with django_assert_num_queries(1):
        mark_incident_seen(incident=lahore, user=analyst)
    mark_incident_seen(incident=lahore, user=analyst, at=later + timedelta(hours=1))

    [visit] = IncidentVisit.objects.filter(incident=lahore)
    assert visit.seen_at == later + timedelta(hours=1)
