"""Two writers of one advisory at once (DOMAIN.md §8, issue 10): references stay unique and
consecutive, a revision is published once, and a published revision never goes back to draft.

Each writer is a thread with its own database connection, so this runs on PostgreSQL only (SQLite
takes its write lock at BEGIN and runs writers one after the other). Races are made certain, not
likely: a third connection holds the advisory's row lock while both writers pass their checks and
queue behind it, in a known order; then it lets go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django_q.models import OrmQ

from advisories.access import ActionNotAllowed
from advisories.models import Advisory, AdvisoryRevision
from advisories.services import (
    AdvisoryConflictError,
    advisory_approve,
    advisory_create,
    advisory_edit,
    advisory_return,
    advisory_revise,
    advisory_submit,
    advisory_withdraw,
    next_advisory_reference,
)
from organizations.services import membership_add
from tests.advisories.support import content
from tests.factories import UserFactory
from tests.incidents.support import T0

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="needs two real connections; SQLite serialises writers"),
    pytest.mark.django_db(transaction=True),
]

WAIT = 30  # seconds a thread may wait for the others before the test fails instead of hanging
AUTHOR = "lahore"


class Outcome:
    def __init__(self):
        self.value = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.error is None


def _in_thread(function: Callable[[], object], started: threading.Barrier | None = None):
    outcome = Outcome()

    def work():
        try:
            if started is not None:
                started.wait()
            outcome.value = function()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            outcome.error = error
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def _join(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def _wait_for_lock_waiters(count: int) -> None:
    deadline = time.monotonic() + WAIT
    while _lock_waiters() < count:
        assert time.monotonic() < deadline, f"fewer than {count} connections ever waited"
        time.sleep(0.01)


class RowLock:
    """Hold the advisory's row lock in a connection of its own until `release()`."""

    def __init__(self, advisory_pk: int):
        self._locked, self._release = threading.Event(), threading.Event()

        def hold():
            with transaction.atomic():
                Advisory.objects.select_for_update().get(pk=advisory_pk)
                self._locked.set()
                self._release.wait(WAIT)

        self.thread, self.outcome = _in_thread(hold)
        assert self._locked.wait(WAIT), self.outcome.error

    def release(self) -> None:
        self._release.set()
        _join(self.thread)
        assert self.outcome.done, self.outcome.error


def race(advisory, first: Callable[[], object], second: Callable[[], object]) -> tuple[Outcome, Outcome]:
    """Run `first`, then `second`, each in its own connection, so that both pass their checks
    and wait for the advisory's row, `first` ahead of `second`; then let them go."""
    lock = RowLock(advisory.pk)
    thread_1, outcome_1 = _in_thread(first)
    _wait_for_lock_waiters(1)
    thread_2, outcome_2 = _in_thread(second)
    _wait_for_lock_waiters(2)
    lock.release()
    _join(thread_1, thread_2)
    return outcome_1, outcome_2


def refused(outcome: Outcome) -> bool:
    return isinstance(outcome.error, (AdvisoryConflictError, ActionNotAllowed))


def states(advisory) -> list[tuple[str, int | None]]:
    return list(AdvisoryRevision.objects.filter(advisory_id=advisory.pk).order_by("pk")
                .values_list("state", "number"))


def fresh(advisory) -> Advisory:
    return Advisory.objects.get(pk=advisory.pk)


@pytest.fixture
def in_review(certs, member, clock):
    handler = member(AUTHOR, "handler")
    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content())
    advisory_submit(actor=handler, advisory=advisory)
    return fresh(advisory)


@pytest.fixture
def published(in_review, member):
    advisory_approve(actor=member(AUTHOR, "head"), advisory=in_review)
    OrmQ.objects.all().delete()  # the first publication's distribution; the races queue theirs
    return fresh(in_review)


# --- references ---------------------------------------------------------------------------------

def test_concurrent_creations_get_distinct_consecutive_references(certs, member, clock):
    handler = member(AUTHOR, "handler")
    start = threading.Barrier(20, timeout=WAIT)
    started = [_in_thread(lambda n=n: advisory_create(
        actor=handler, cert=certs[AUTHOR], content=content(title=f"Advisory {n}")), start)
        for n in range(20)]
    _join(*(thread for thread, _ in started))

    assert [outcome.error for _, outcome in started] == [None] * 20
    references = sorted(outcome.value.reference for _, outcome in started)
    assert references == [f"PK-ADV-2026-{n:04d}" for n in range(1, 21)]
    assert sorted(Advisory.objects.values_list("reference", flat=True)) == references
    assert AdvisoryRevision.objects.count() == 20
    assert next_advisory_reference(at=T0) == "PK-ADV-2026-0021"


# --- publication ---------------------------------------------------------------------------------

def test_two_heads_approving_at_once_publish_once(certs, member, in_review):
    other_head = UserFactory(username="lahore.head2.test")
    membership_add(cert=certs[AUTHOR], user=other_head, role="head", actor=None)
    head = member(AUTHOR, "head")

    first, second = race(in_review,
                         lambda: advisory_approve(actor=head, advisory=fresh(in_review)),
                         lambda: advisory_approve(actor=other_head, advisory=fresh(in_review)))

    assert first.done, first.error
    assert isinstance(second.error, AdvisoryConflictError), second.error
    revision = AdvisoryRevision.objects.get(advisory_id=in_review.pk)
    assert (revision.state, revision.number, revision.approved_by) == ("published", 1, head)
    assert fresh(in_review).current_revision_id == revision.pk
    assert [task.args() for task in OrmQ.objects.all()] == [(revision.pk,)]  # one distribution


@pytest.mark.parametrize("approve_first", [True, False], ids=["approve first", "return first"])
def test_a_return_racing_an_approval_never_unpublishes(member, in_review, approve_first):
    approve = lambda: advisory_approve(actor=member(AUTHOR, "head"), advisory=fresh(in_review))  # noqa: E731
    send_back = lambda: advisory_return(actor=member(AUTHOR, "analyst"),  # noqa: E731
                                        advisory=fresh(in_review), reason="Wrong versions.")
    calls = (approve, send_back) if approve_first else (send_back, approve)

    first, second = race(in_review, *calls)

    assert first.done, first.error
    assert refused(second), second.error
    advisory = fresh(in_review)
    if approve_first:
        assert (advisory.status, states(advisory)) == ("published", [("published", 1)])
        assert OrmQ.objects.count() == 1
    else:
        assert (advisory.status, states(advisory)) == ("draft", [("draft", None)])
        assert OrmQ.objects.count() == 0


def test_an_edit_racing_a_submission_does_not_change_what_is_reviewed(certs, member, clock):
    handler, analyst = member(AUTHOR, "handler"), member(AUTHOR, "analyst")
    advisory = advisory_create(actor=handler, cert=certs[AUTHOR], content=content())

    first, second = race(
        advisory,
        lambda: advisory_submit(actor=handler, advisory=fresh(advisory)),
        lambda: advisory_edit(actor=analyst, advisory=fresh(advisory),
                              content=content(title="Changed after it was sent")))

    assert first.done, first.error
    assert refused(second), second.error
    revision = AdvisoryRevision.objects.get(advisory_id=advisory.pk)
    assert (revision.state, revision.title, revision.last_edited_by) == (
        "in_review", content().title, handler)


# --- after publication ---------------------------------------------------------------------------

def test_two_revisions_started_at_once_open_one(member, published):
    first, second = race(
        published,
        lambda: advisory_revise(actor=member(AUTHOR, "handler"), advisory=fresh(published)),
        lambda: advisory_revise(actor=member(AUTHOR, "analyst"), advisory=fresh(published)))

    assert first.done, first.error
    assert isinstance(second.error, AdvisoryConflictError), second.error
    assert states(published) == [("published", 1), ("draft", None)]


@pytest.mark.parametrize("withdraw_first", [True, False], ids=["withdraw first", "revise first"])
def test_a_revision_started_during_a_withdrawal_does_not_outlive_it(member, published,
                                                                   withdraw_first):
    withdraw = lambda: advisory_withdraw(actor=member(AUTHOR, "head"),  # noqa: E731
                                         advisory=fresh(published), reason="Issued in error.")
    revise = lambda: advisory_revise(actor=member(AUTHOR, "handler"), advisory=fresh(published))  # noqa: E731
    calls = (withdraw, revise) if withdraw_first else (revise, withdraw)

    first, second = race(published, *calls)

    assert first.done, first.error
    advisory = fresh(published)
    assert advisory.status == "withdrawn"
    # No revision is left open on a withdrawn advisory, whoever went first.
    assert states(advisory) == [("published", 1), ("published", 2)]
    if withdraw_first:
        assert refused(second), second.error
    else:  # the revision was opened, then discarded by the withdrawal
        assert second.done, second.error


def test_two_withdrawals_at_once_withdraw_once(certs, member, published):
    other_head = UserFactory(username="lahore.head2.test")
    membership_add(cert=certs[AUTHOR], user=other_head, role="head", actor=None)

    first, second = race(
        published,
        lambda: advisory_withdraw(actor=member(AUTHOR, "head"), advisory=fresh(published),
                                  reason="Issued in error."),
        lambda: advisory_withdraw(actor=other_head, advisory=fresh(published), reason="Duplicate."))

    assert first.done, first.error
    assert refused(second), second.error
    assert states(published) == [("published", 1), ("published", 2)]
    assert OrmQ.objects.count() == 1
