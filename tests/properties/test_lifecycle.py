"""The incident lifecycle as a state machine (DOMAIN.md §3, incidents.services.incident_transition).

Hypothesis drives random sequences of status changes, asked by random personas (each role of the
owner CERT, a handler of its parent, which sees the TLP:AMBER incident through oversight, and a
handler of an unrelated CERT), on one real incident in the session's national structure, and
checks every answer against the lifecycle table retyped here from DOMAIN.md. Each run works in a
savepoint that is rolled back at its end, so runs do not see each other's incident.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from incidents.access import ActionNotAllowed
from incidents.models import EventKind, Incident, Status, TimelineEvent
from incidents.services import ConflictError, incident_transition
from tests.factories import make_incident

OWNER, PARENT, UNRELATED = "example-bank-soc", "banking", "example-telecom-csirt"
# DOMAIN.md §3, retyped.
TABLE = {
    "new": {"acknowledged", "rejected"},
    "acknowledged": {"in_progress", "resolved", "rejected"},
    "in_progress": {"resolved"},
    "resolved": {"closed", "in_progress"},
    "closed": {"in_progress"},
    "rejected": {"new"},
}
HEAD_ONLY = {("closed", "in_progress"), ("rejected", "new")}
FINISHED = {"resolved", "closed", "rejected"}  # statuses that carry resolved_at
# Persona: (CERT, role); what each may do follows from DOMAIN.md §1 and §2.
PERSONAS = {"head": (OWNER, "head"), "handler": (OWNER, "handler"),
            "analyst": (OWNER, "analyst"), "liaison": (OWNER, "liaison"),
            "parent handler": (PARENT, "handler"), "unrelated handler": (UNRELATED, "handler")}
WANTED = [*TABLE, "", "NEW", "open", "closed\x00"]


def expected_outcome(persona: str, current: str, wanted: str) -> type[Exception] | None:
    """The exception the service must raise, or None for a change, in the order the access
    rules ask: not visible (404) first, then the table, then the role."""
    cert, role = PERSONAS[persona]
    if cert == UNRELATED:
        return Http404
    if wanted not in TABLE[current]:
        return ValidationError
    if cert != OWNER or role not in ("head", "handler"):
        return ActionNotAllowed
    if (current, wanted) in HEAD_ONLY and role != "head":
        return ActionNotAllowed
    return None


def _row(pk: int) -> dict:
    return Incident.objects.filter(pk=pk).values().get()


def test_the_lifecycle_holds_under_random_sequences(certs, member):
    users = {name: member(cert, role) for name, (cert, role) in PERSONAS.items()}
    walked: set[tuple[str, str]] = set()  # the transitions that happened, over all runs

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()
            self.incident = make_incident(owner_cert=certs[OWNER], actor=users["handler"])
            self.first_version = self.incident.version
            self.changes = 0
            self.stale = None  # a copy read before the last change, as a second browser tab

        def teardown(self):
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)

        def _events(self) -> int:
            return TimelineEvent.objects.filter(incident=self.incident).count()

        @rule(data=st.data())
        def transition(self, data):
            before, events = _row(self.incident.pk), self._events()
            # Half the time someone who may change the status, and a status the table allows
            # next, so that long paths (to closed and back) are walked, not only refusals.
            persona = data.draw(st.sampled_from(["head", "handler"]) | st.sampled_from(list(PERSONAS)))
            wanted = data.draw(st.sampled_from(sorted(TABLE[before["status"]]))
                               | st.sampled_from(WANTED))
            copy = Incident.objects.get(pk=self.incident.pk)  # each request reads its own
            expected = expected_outcome(persona, before["status"], wanted)
            try:
                incident_transition(incident=copy, actor=users[persona], to_status=wanted)
            except (Http404, ValidationError, ActionNotAllowed) as refused:
                assert type(refused) is expected, (persona, before["status"], wanted, refused)
                assert _row(self.incident.pk) == before
                assert self._events() == events
                return
            assert expected is None, (persona, before["status"], wanted)
            after = _row(self.incident.pk)
            assert wanted in TABLE[before["status"]]
            assert after["status"] == wanted
            assert after["version"] == before["version"] + 1
            status_events = TimelineEvent.objects.filter(incident=self.incident).order_by("-pk")
            assert self._events() == events + 1
            assert status_events[0].kind == EventKind.STATUS
            walked.add((before["status"], wanted))
            self.changes += 1
            self.stale = Incident.objects.get(pk=self.incident.pk)
            self.stale.version -= 1  # what a reader of the previous version holds
            self.stale.status = before["status"]

        @precondition(lambda self: self.stale is not None)
        @rule()
        def stale_copy_is_refused(self):
            """A change that the table and role allow, sent from a copy read before the last
            change, is a conflict and writes nothing (DOMAIN.md §3, concurrency)."""
            wanted = sorted(TABLE[self.stale.status])[0]
            before, events = _row(self.incident.pk), self._events()
            with pytest.raises(ConflictError):
                incident_transition(incident=self.stale, actor=users["head"], to_status=wanted)
            assert _row(self.incident.pk) == before
            assert self._events() == events
            self.stale = None

        @invariant()
        def status_is_known_and_consistent(self):
            row = _row(self.incident.pk)
            assert row["status"] in Status.values
            assert (row["resolved_at"] is not None) == (row["status"] in FINISHED)
            # One version per change, and only changes move it.
            assert row["version"] == self.first_version + self.changes

    run_state_machine_as_test(Lifecycle, settings=settings(max_examples=30,
                                                           stateful_step_count=20))
    # The runs reached every transition of the table, the head-only ones included: otherwise
    # the properties above were checked on a part of it only.
    assert walked == {(old, new) for old, nexts in TABLE.items() for new in nexts}
