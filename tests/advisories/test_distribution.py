"""E-mail of published advisories (issue 10, points 6 and 7): who receives each TLP label, what
members' subscriptions narrow, the message itself, and delivery that is retried safely (nobody
gets an advisory twice, nobody gets what they may not read)."""

from __future__ import annotations

import threading
from datetime import timedelta
from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from advisories import access
from advisories.distribution import deliver_pending, distribute
from advisories.models import AdvisoryDelivery, AdvisoryRevision, PublicSubscriber
from advisories.services import (
    advisory_approve,
    advisory_edit,
    advisory_revise,
    advisory_submit,
    advisory_withdraw,
)
from advisories.subscriptions.services import member_subscription_set
from advisories.tasks import deliver_pending_advisories
from organizations.models import Sector
from organizations.services import membership_add, membership_remove
from tests.advisories.support import VALID_CVSS_V3, content
from tests.factories import UserFactory
from tests.incidents.support import T0

BASE = "http://portal.test.example"
CLEAR_RULE = "TLP:CLEAR: Recipients can spread this to the world, there is no limit on disclosure."
AMBER_RULE = ("TLP:AMBER: Limited disclosure, recipients can only spread this on a need-to-know "
              "basis within their organization and its clients.")


def addr(slug: str, role: str) -> str:
    return f"{slug}.{role}@t.example"


def subscriber(email: str, *, language="en", min_severity=0, confirmed=True,
               unsubscribed=False) -> PublicSubscriber:
    now = timezone.now()
    return PublicSubscriber.objects.create(
        email=email, language=language, min_severity=min_severity, created_at=now,
        confirmed_at=now if confirmed else None, unsubscribed_at=now if unsubscribed else None)


def by_address() -> dict[str, mail.EmailMessage]:
    found: dict[str, mail.EmailMessage] = {}
    for message in mail.outbox:
        [to] = message.to
        assert to not in found, f"{to} got two e-mails"
        found[to] = message
    return found


def send(advisory) -> dict[str, mail.EmailMessage]:
    mail.outbox.clear()
    distribute(advisory.current_revision_id)
    return by_address()


@pytest.fixture
def people(member):
    """A member of several CERTs (default subscription) and the authors' own CERT."""
    return {slug: member(slug, "analyst") for slug in ("lahore", "banking", "telecom", "punjab")}


# --- who receives each label ---------------------------------------------------------------

def test_clear_goes_to_members_by_subscription_and_to_confirmed_public_subscribers(
        make_advisory, people, member, outsider):
    member_subscription_set(user=people["telecom"], mode="none", min_severity=0)
    member_subscription_set(user=member("karachi", "head"), mode="filtered", min_severity=4)
    subscriber("reader@public.example")
    subscriber("ur-reader@public.example", language="ur")
    subscriber("pending@public.example", confirmed=False)
    subscriber("gone@public.example", unsubscribed=True)
    subscriber("critical-only@public.example", min_severity=4)

    advisory = make_advisory(tlp="TLP:CLEAR", severity=3, cve_ids=["CVE-2026-1234"],
                             cvss_v3_vector=VALID_CVSS_V3,
                             products=[{"vendor": "Example Corp", "product": "Gateway",
                                        "versions": "< 4.2"}],
                             remedies="Install 4.2.")
    sent = send(advisory)

    assert set(sent) == {addr("national", "handler"), addr("national", "head"),
                         addr("lahore", "analyst"), addr("banking", "analyst"),
                         addr("punjab", "analyst"), "reader@public.example",
                         "ur-reader@public.example"}
    assert outsider.email not in sent  # staff without a membership read public pages only
    for message in sent.values():
        assert message.subject.startswith(f"[TLP:CLEAR] {advisory.reference}: ")
        assert message.body.startswith("TLP:CLEAR: ")
    staff = sent[addr("lahore", "analyst")]
    assert staff.subject == f"[TLP:CLEAR] {advisory.reference}: Patch the example gateway now"
    assert staff.body.splitlines()[0] == CLEAR_RULE
    assert f"{BASE}/advisories/{advisory.reference}/" in staff.body  # public page for CLEAR
    assert f"{BASE}/dashboard/advisories/subscription/" in staff.body
    assert "List-Unsubscribe" not in staff.extra_headers
    public = sent["reader@public.example"]
    body = public.body
    for expected in (advisory.reference, "Severity: High", "CVE: CVE-2026-1234",
                     "CVSS v3.1: 9.8 (CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H)",
                     "A remote code execution flaw in the example gateway is exploited.",
                     "- Example Corp Gateway (< 4.2)", "Install 4.2.",
                     f"Read the advisory: {BASE}/advisories/{advisory.reference}/"):
        assert expected in body
    unsubscribe = public.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{BASE}/advisories/subscription/unsubscribe/")
    assert unsubscribe.strip("<>") in body
    assert public.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/dashboard/" not in body


def test_green_goes_to_members_of_every_cert_and_never_to_the_public(make_advisory, people,
                                                                      outsider):
    subscriber("reader@public.example")
    advisory = make_advisory(tlp="TLP:GREEN", severity=4)

    sent = send(advisory)

    assert set(sent) == {addr("national", "handler"), addr("national", "head"),
                         *(addr(slug, "analyst") for slug in people)}
    message = sent[addr("telecom", "analyst")]
    assert message.subject.startswith(f"[TLP:GREEN] {advisory.reference}: ")
    assert message.body.splitlines()[0] == ("TLP:GREEN: Limited disclosure, recipients can "
                                            "spread this within their community.")
    assert f"{BASE}/dashboard/advisories/{advisory.reference}/" in message.body


@pytest.mark.parametrize("tlp", ["TLP:AMBER", "TLP:AMBER+STRICT"])
def test_amber_goes_to_the_author_cert_and_the_audience_only(make_advisory, people, member, certs,
                                                             tlp):
    member_subscription_set(user=people["telecom"], mode="all", min_severity=0)
    member_subscription_set(user=people["lahore"], mode="all", min_severity=0)
    subscriber("reader@public.example")
    advisory = make_advisory(cert="punjab", tlp=tlp, severity=3,
                             audience_ids=[certs["banking"].pk])

    sent = send(advisory)

    assert set(sent) == {addr("punjab", "handler"), addr("punjab", "head"),
                         addr("punjab", "analyst"), addr("banking", "analyst")}
    # Neither an unrelated CERT's member who asked for everything, nor the author's child CERT,
    # nor the public.
    message = sent[addr("banking", "analyst")]
    assert message.subject.startswith(f"[{tlp}] {advisory.reference}: ")
    if tlp == "TLP:AMBER":
        assert message.body.splitlines()[0] == AMBER_RULE
    else:
        assert message.body.splitlines()[0] == (
            "TLP:AMBER+STRICT: Limited disclosure, recipients can only spread this on a "
            "need-to-know basis within their organization.")
    assert f"{BASE}/dashboard/advisories/{advisory.reference}/" in message.body
    assert "/advisories/subscription/unsubscribe/" not in message.body


def test_red_goes_to_the_named_readers_only(make_advisory, people, member):
    member_subscription_set(user=people["telecom"], mode="all", min_severity=0)
    advisory = make_advisory(tlp="TLP:RED", severity=3,
                             reader_ids=[people["lahore"].pk, people["banking"].pk])

    sent = send(advisory)

    assert set(sent) == {addr("lahore", "analyst"), addr("banking", "analyst")}
    message = sent[addr("banking", "analyst")]
    assert message.subject.startswith(f"[TLP:RED] {advisory.reference}: ")
    assert message.body.splitlines()[0] == ("TLP:RED: For the eyes and ears of individual "
                                            "recipients only, no further disclosure.")


def test_red_reaches_a_named_reader_who_asked_for_no_advisory_emails(make_advisory, people,
                                                                     member):
    """Named readers were addressed by name: their subscription does not filter a TLP:RED one."""
    member_subscription_set(user=people["lahore"], mode="none", min_severity=4)
    member_subscription_set(user=people["banking"], mode="filtered", min_severity=4)
    advisory = make_advisory(tlp="TLP:RED", severity=1,
                             reader_ids=[people["lahore"].pk, people["banking"].pk])

    assert set(send(advisory)) == {addr("lahore", "analyst"), addr("banking", "analyst")}


def test_a_withdrawal_goes_to_the_same_people_marked_withdrawn(make_advisory, people, member,
                                                               certs):
    advisory = make_advisory(cert="punjab", tlp="TLP:AMBER", audience_ids=[certs["banking"].pk])
    first = set(send(advisory))

    withdrawal = advisory_withdraw(actor=member("punjab", "head"), advisory=advisory,
                                   reason="The vendor's patch was pulled.")
    advisory.refresh_from_db()
    assert advisory.current_revision_id == withdrawal.pk
    sent = send(advisory)

    assert set(sent) == first
    message = sent[addr("banking", "analyst")]
    assert message.subject == (f"[TLP:AMBER] {advisory.reference}: Withdrawn: Patch the example "
                               "gateway now")
    assert message.body.splitlines()[0] == AMBER_RULE
    assert "WITHDRAWN" in message.body
    assert "The vendor's patch was pulled." in message.body


def test_a_revision_superseded_before_its_distribution_ran_goes_to_nobody(make_advisory, member,
                                                                           certs, people):
    subscriber("reader@public.example")
    advisory = make_advisory(tlp="TLP:AMBER", audience_ids=[certs["banking"].pk])
    first = advisory.current_revision
    # A second revision makes the advisory public before the first one's e-mail went out.
    advisory_revise(actor=member("national", "handler"), advisory=advisory)
    advisory_edit(actor=member("national", "handler"), advisory=advisory,
                  content=content(tlp="TLP:CLEAR", change_summary="Now public"))
    advisory_submit(actor=member("national", "handler"), advisory=advisory)
    advisory_approve(actor=member("national", "head"), advisory=advisory)
    advisory.refresh_from_db()

    mail.outbox.clear()
    assert distribute(first.pk) == 0
    assert mail.outbox == [] and not AdvisoryDelivery.objects.exists()
    # The first revision's label was AMBER: its text never reaches the public.
    assert access.distribution_recipients(first) == []

    sent = send(advisory)
    assert "reader@public.example" in sent
    assert sent["reader@public.example"].subject == (
        f"[TLP:CLEAR] {advisory.reference}: Updated: Patch the example gateway now")
    assert "revision 2" in sent["reader@public.example"].body


# --- members' subscriptions ----------------------------------------------------------------

@pytest.mark.parametrize(("choice", "advisory_fields", "receives"), [
    (None, {"severity": 3}, True),  # no row: high or above
    (None, {"severity": 2}, False),
    ({"mode": "filtered", "min_severity": 2}, {"severity": 2}, True),
    ({"mode": "filtered", "min_severity": 2}, {"severity": 1}, False),
    ({"mode": "filtered", "min_severity": 4, "sectors": ["banking"]},
     {"severity": 1, "sectors": ["banking"]}, True),
    ({"mode": "filtered", "min_severity": 4, "sectors": ["banking"]},
     {"severity": 1, "sectors": ["telecom"]}, False),
    ({"mode": "filtered", "min_severity": 4, "products": "Example  CORP"},
     {"severity": 0, "products": [{"vendor": "Example Corp", "product": "Gateway"}]}, True),
    ({"mode": "filtered", "min_severity": 4, "products": "example corp / gateway"},
     {"severity": 0, "products": [{"vendor": "Example Corp", "product": "Gateway"}]}, True),
    ({"mode": "filtered", "min_severity": 4, "products": "example corp / router"},
     {"severity": 0, "products": [{"vendor": "Example Corp", "product": "Gateway"}]}, False),
    ({"mode": "filtered", "min_severity": 4, "products": "other vendor"},
     {"severity": 0, "products": [{"vendor": "Example Corp", "product": "Gateway"}]}, False),
    ({"mode": "none", "min_severity": 0}, {"severity": 4}, False),
    ({"mode": "all", "min_severity": 4}, {"severity": 0}, True),
])
def test_a_members_subscription_chooses_what_reaches_them(make_advisory, people, choice,
                                                          advisory_fields, receives):
    sectors = {sector.slug: sector.pk for sector in Sector.objects.all()}
    if choice is not None:
        choice = dict(choice)
        choice["sector_ids"] = [sectors[slug] for slug in choice.pop("sectors", [])]
        member_subscription_set(user=people["lahore"], **choice)
    fields = dict(advisory_fields)
    fields["sector_ids"] = [sectors[slug] for slug in fields.pop("sectors", [])]

    sent = send(make_advisory(tlp="TLP:GREEN", **fields))

    assert (addr("lahore", "analyst") in sent) is receives
    # Beside them, a member without a row gets the default: high or above.
    assert (addr("banking", "analyst") in sent) is (fields["severity"] >= 3)


def test_public_subscribers_get_advisories_from_their_minimum_severity(make_advisory):
    subscriber("all@public.example", min_severity=0)
    subscriber("medium@public.example", min_severity=2)
    sent = send(make_advisory(tlp="TLP:CLEAR", severity=1))
    assert "all@public.example" in sent and "medium@public.example" not in sent
    sent = send(make_advisory(tlp="TLP:CLEAR", severity=2))
    assert "all@public.example" in sent and "medium@public.example" in sent


def test_a_member_who_is_also_a_subscriber_gets_one_email(make_advisory, people):
    subscriber(addr("lahore", "analyst").upper())
    sent = send(make_advisory(tlp="TLP:CLEAR"))
    assert addr("lahore", "analyst") in sent  # by_address fails on a second e-mail
    assert AdvisoryDelivery.objects.filter(email=addr("lahore", "analyst")).count() == 1


def test_urdu_subscribers_get_the_email_in_urdu_with_the_label_first(make_advisory):
    subscriber("ur-reader@public.example", language="ur")
    advisory = make_advisory(tlp="TLP:CLEAR", severity=3)

    message = send(advisory)["ur-reader@public.example"]

    assert message.subject.startswith(f"[TLP:CLEAR] {advisory.reference}: ")
    first_line = message.body.splitlines()[0]
    assert first_line.startswith("TLP:CLEAR: ")
    assert "Recipients can spread" not in first_line  # the rule, in Urdu
    assert "دنیا" in first_line
    assert "سنگینی" in message.body  # "Severity"
    assert "Severity:" not in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


# --- delivery: once each, retried, given up ------------------------------------------------

class FailingBackend(BaseEmailBackend):
    """A relay that is down: every send raises, and the subject is in the error (as SMTP
    errors may quote it)."""

    attempts: list[str] = []

    def send_messages(self, messages):
        for message in messages:
            FailingBackend.attempts.append(message.to[0])
            raise SMTPException(f"relay unavailable while sending {message.subject!r}")
        return 0


FAILING = "tests.advisories.test_distribution.FailingBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def test_distributing_twice_sends_each_person_one_email(make_advisory, people):
    subscriber("reader@public.example")
    advisory = make_advisory(tlp="TLP:CLEAR")

    mail.outbox.clear()
    first = distribute(advisory.current_revision_id)
    second = distribute(advisory.current_revision_id)
    assert deliver_pending_advisories() == 0

    sent = by_address()  # fails on any address mailed twice
    assert first == len(sent) == AdvisoryDelivery.objects.count() > 0
    assert second == 0
    assert not AdvisoryDelivery.objects.filter(sent_at__isnull=True).exists()
    keys = set(AdvisoryDelivery.objects.values_list("key", flat=True))
    assert f"{advisory.current_revision_id}:reader@public.example" in keys


def test_a_second_worker_during_a_send_sends_nobody_a_second_email(make_advisory, people,
                                                                    monkeypatch):
    """Two workers at once, made to meet on SQLite too: while the first sends its first e-mail,
    a second worker runs a whole pass over the same rows."""
    advisory = make_advisory(tlp="TLP:GREEN", severity=4)
    from advisories import distribution

    real_compose, nested, running = distribution.compose, [], []

    def compose_then_run_another_worker(delivery):
        if not running:
            running.append(True)
            nested.append(deliver_pending())
        return real_compose(delivery)

    monkeypatch.setattr(distribution, "compose", compose_then_run_another_worker)
    mail.outbox.clear()
    sent_by_first = distribute(advisory.current_revision_id)

    sent = by_address()  # fails on any address mailed twice
    assert sent_by_first + nested[0] == len(sent) == len(people) + 2
    assert nested[0] == len(sent) - 1  # everyone but the row the first worker held


def test_a_stale_claim_is_taken_over_and_a_fresh_one_is_left_alone(make_advisory, people, clock):
    advisory = make_advisory(tlp="TLP:GREEN", severity=4)
    AdvisoryDelivery.objects.bulk_create([
        AdvisoryDelivery(key=f"{advisory.current_revision_id}:{email}", email=email,
                         revision_id=advisory.current_revision_id, created_at=clock.now,
                         claimed_at=claimed)
        for email, claimed in (("stale@t.example", clock.now - timedelta(minutes=11)),
                               ("fresh@t.example", clock.now - timedelta(minutes=5)))])
    # Rows without a reader behind them: they are claimed, then refused (not readers).
    mail.outbox.clear()
    deliver_pending()
    stale = AdvisoryDelivery.objects.get(email="stale@t.example")
    fresh = AdvisoryDelivery.objects.get(email="fresh@t.example")
    assert stale.failed_at == clock.now and "Not sent" in stale.last_error
    assert fresh.failed_at is None and fresh.claimed_at == clock.now - timedelta(minutes=5)
    assert mail.outbox == []


def test_a_failed_send_is_retried_later_then_sent_once(make_advisory, people, clock, settings):
    advisory = make_advisory(tlp="TLP:GREEN", severity=4)
    settings.EMAIL_BACKEND = FAILING
    FailingBackend.attempts = []
    assert distribute(advisory.current_revision_id) == 0
    rows = AdvisoryDelivery.objects.all()
    assert {row.attempts for row in rows} == {1}
    assert {row.next_attempt_at for row in rows} == {T0 + timedelta(minutes=1)}
    tried = len(FailingBackend.attempts)
    assert tried == rows.count()

    settings.EMAIL_BACKEND = LOCMEM
    assert deliver_pending() == 0  # not due yet: the relay is not hammered
    clock.advance(seconds=59)
    assert deliver_pending() == 0
    clock.advance(seconds=1)
    assert deliver_pending() == tried
    assert deliver_pending() == 0
    assert distribute(advisory.current_revision_id) == 0

    by_address()  # one each
    assert len(mail.outbox) == tried
    assert {(row.attempts, row.sent_at, row.last_error) for row in AdvisoryDelivery.objects.all()} \
        == {(2, T0 + timedelta(minutes=1), "")}


def test_a_send_that_keeps_failing_is_given_up_after_the_maximum_attempts(
        make_advisory, member, clock, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 4
    settings.EMAIL_BACKEND = FAILING
    FailingBackend.attempts = []
    advisory = make_advisory(tlp="TLP:RED", reader_ids=[member("lahore", "analyst").pk],
                             title="Secret red title")

    tried_at = []
    distribute(advisory.current_revision_id)
    for _minute in range(30):
        before = len(FailingBackend.attempts)
        deliver_pending()
        if len(FailingBackend.attempts) > before:
            tried_at.append(int((clock.now - T0).total_seconds() // 60))
        clock.advance(minutes=1)

    assert [0, *tried_at] == [0, 1, 3, 7]  # at once (distribute), then after 1, 2 and 4 minutes
    [row] = AdvisoryDelivery.objects.all()
    assert (row.attempts, row.sent_at, row.failed_at) == (4, None, T0 + timedelta(minutes=7))
    assert "relay unavailable" in row.last_error
    assert "Secret red title" not in row.last_error  # administrators read errors, not advisories
    assert "[title]" in row.last_error
    assert mail.outbox == []


def test_access_is_asked_again_before_a_retry(make_advisory, people, clock, settings):
    public = subscriber("reader@public.example")
    advisory = make_advisory(tlp="TLP:CLEAR")
    settings.EMAIL_BACKEND = FAILING
    distribute(advisory.current_revision_id)
    # Before the retry: the subscriber unsubscribes, one member leaves, one is deactivated.
    PublicSubscriber.objects.filter(pk=public.pk).update(unsubscribed_at=clock.now)
    membership_remove(membership=people["banking"].memberships.get(), actor=None)
    people["telecom"].is_active = False
    people["telecom"].save(update_fields=["is_active"])

    settings.EMAIL_BACKEND = LOCMEM
    clock.advance(minutes=1)
    mail.outbox.clear()
    deliver_pending()

    sent = by_address()
    assert addr("lahore", "analyst") in sent
    for gone in ("reader@public.example", addr("banking", "analyst"), addr("telecom", "analyst")):
        assert gone not in sent
        row = AdvisoryDelivery.objects.get(email=gone)
        assert row.sent_at is None and row.failed_at == clock.now
        assert row.last_error.startswith("Not sent")


def test_delivery_runs_every_minute(db):
    schedule = Schedule.objects.get(name="advisories: deliver e-mails")
    assert schedule.func == "advisories.tasks.deliver_pending_advisories"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES, 1, -1)


def test_publishing_queues_the_distribution_of_the_revision(make_advisory,
                                                            django_capture_on_commit_callbacks,
                                                            monkeypatch):
    from advisories import tasks

    queued = []
    monkeypatch.setattr(tasks, "enqueue_distribution", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        advisory = make_advisory(tlp="TLP:CLEAR")
    assert queued == [advisory.current_revision_id]
    assert tasks.distribute_revision(queued[0]) >= 2  # the author CERT's handler and head


# --- constant queries ----------------------------------------------------------------------

def _members(certs, slug: str, count: int, *, sector: Sector) -> list:
    users = []
    for number in range(count):
        user = UserFactory(username=f"{slug}-{count}-{number}")
        membership_add(cert=certs[slug], user=user, role="analyst", actor=None)
        if number % 3 == 0:
            member_subscription_set(user=user, mode="filtered", min_severity=4,
                                    sector_ids=[sector.pk], products="example corp")
        users.append(user)
    return users


@pytest.mark.parametrize("tlp", ["TLP:CLEAR", "TLP:AMBER", "TLP:RED"])
def test_recipients_cost_the_same_queries_for_5_and_50_members(make_advisory, certs, tlp):
    sector = Sector.objects.get(slug="banking")
    counts, sizes = [], []
    for count in (5, 50):
        users = _members(certs, "banking", count, sector=sector)
        for number in range(count):
            subscriber(f"public-{count}-{number}@public.example")
        advisory = make_advisory(tlp=tlp, severity=3, sector_ids=[sector.pk],
                                 audience_ids=[certs["banking"].pk] if "AMBER" in tlp else [],
                                 reader_ids=[user.pk for user in users] if tlp == "TLP:RED" else [],
                                 products=[{"vendor": "Example Corp", "product": "Gateway"}])
        revision = AdvisoryRevision.objects.get(pk=advisory.current_revision_id)
        with CaptureQueriesContext(connection) as queries:
            recipients = access.distribution_recipients(revision)
        counts.append(len(queries))
        sizes.append(len(recipients))
    assert counts[0] == counts[1] <= 6
    assert sizes[1] > sizes[0] + 40


# --- two workers at once, for real (PostgreSQL) --------------------------------------------

@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs two real connections; SQLite serialises writers")
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_person_one_email(make_advisory, people):
    for number in range(30):
        subscriber(f"public-{number}@public.example")
    advisory = make_advisory(tlp="TLP:CLEAR", severity=4)
    revision_id = advisory.current_revision_id
    barrier = threading.Barrier(2, timeout=30)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(distribute(revision_id))
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    mail.outbox.clear()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    sent = by_address()
    assert sum(results) == len(sent) == AdvisoryDelivery.objects.count() == 30 + len(people) + 2


# --- the admin: read-only, failures visible, no backdoor into advisories --------------------

def test_the_outbox_and_advisories_are_read_only_in_the_admin(make_advisory, member, certs,
                                                              settings, clock):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tests.twofactor import sign_in

    settings.NOTIFICATION_MAX_ATTEMPTS = 1
    settings.EMAIL_BACKEND = FAILING
    amber = make_advisory(cert="punjab", tlp="TLP:AMBER", audience_ids=[certs["banking"].pk],
                          title="Amber title nobody else reads")
    clear = make_advisory(tlp="TLP:CLEAR", title="A public title")
    distribute(amber.current_revision_id)
    failed = AdvisoryDelivery.objects.filter(revision_id=amber.current_revision_id).first()
    assert failed.failed_at is not None

    admin = sign_in(Client(), get_user_model().objects.create_superuser("root", "root@x.example",
                                                                         "pw"))
    listing = admin.get("/admin/advisories/advisorydelivery/", {"delivery": "failed"})
    assert listing.status_code == 200
    page = listing.content.decode()
    assert failed.key in page and "relay unavailable" in page
    assert "Amber title nobody else reads" not in page
    assert admin.get(f"/admin/advisories/advisorydelivery/{failed.pk}/change/").status_code == 200
    assert admin.get("/admin/advisories/advisorydelivery/add/").status_code == 403
    assert admin.post(f"/admin/advisories/advisorydelivery/{failed.pk}/delete/",
                      {"post": "yes"}).status_code == 403

    detail = admin.get(f"/admin/advisories/advisory/{amber.pk}/change/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert amber.reference in text and "TLP:AMBER" in text
    assert "Amber title nobody else reads" not in text  # metadata only, not the text
    assert 'name="_save"' not in text  # nothing to save
    assert "A public title" in admin.get("/admin/advisories/advisory/").content.decode()
    assert admin.get("/admin/advisories/advisory/add/").status_code == 403
    assert clear.reference in admin.get("/admin/advisories/advisory/").content.decode()
    # A CERT member without the model permission sees neither.
    head = member("punjab", "head")
    head.is_staff = True
    head.save(update_fields=["is_staff"])
    member_client = sign_in(Client(), head)
    assert member_client.get("/admin/advisories/advisorydelivery/").status_code == 403
    assert member_client.get("/admin/advisories/advisory/").status_code == 403
