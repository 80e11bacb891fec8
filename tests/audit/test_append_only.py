"""The audit trail is append-only (issue 13): the application cannot change or delete an event,
PostgreSQL refuses UPDATE and DELETE from anyone (a trigger), and removing the user or the CERT
an event names leaves the event as it was."""

# ruff: noqa: F811 - pytest fixtures imported from the other suites are parameters here

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from cert_portal.audit.models import AppendOnlyError, AuditEvent, AuditKind
from cert_portal.audit.record import record
from organizations.models import Cert
from organizations.services import cert_create
from tests.factories import UserFactory
from tests.incidents.conftest import certs, member  # noqa: F401

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the trigger that refuses UPDATE and DELETE exists on PostgreSQL only; SQLite has the "
           "model's refusal, tested below")


@pytest.fixture
def event(db) -> AuditEvent:
    return record(AuditKind.SIGN_IN_FAILED, request=None, actor_label="someone",
                  detail={"stage": "password", "reason": "unknown_user"})


@on_postgresql
@pytest.mark.parametrize("statement", [
    "UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s",
    "DELETE FROM audit_auditevent WHERE id = %s",
])
def test_postgresql_refuses_update_and_delete_in_sql(event, statement):
    operation = statement.split()[0]
    with pytest.raises(DatabaseError, match=f"The audit trail is append-only: {operation} on "
                                            "audit_auditevent is refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    event.refresh_from_db()
    assert event.actor_label == "someone"


@on_postgresql
def test_postgresql_still_takes_new_events(event):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent WHERE id = %s", [event.pk])
        assert cursor.fetchone() == (1,)
    assert record(AuditKind.SIGN_OUT, request=None).pk > event.pk


def test_an_event_saved_again_is_refused(event):
    event.actor_label = "someone else"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).actor_label == "someone"


def test_an_event_is_never_deleted(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk)._raw_delete(connection.alias)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_queryset_never_updates(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="someone else")
    event.actor_label = "someone else"
    # bulk_update's own atomic block has no savepoint: give it one, as a view's request has.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["actor_label"])
    assert AuditEvent.objects.get(pk=event.pk).actor_label == "someone"


def test_deleting_a_user_leaves_their_events(db):
    user = UserFactory(username="leaving.soon")
    kept = record(AuditKind.SIGN_IN, request=None, actor=user, obj=user)
    user_pk = user.pk
    user.delete()
    kept = AuditEvent.objects.get(pk=kept.pk)
    assert (kept.actor_id, kept.actor_label, kept.object_id) == (user_pk, "leaving.soon",
                                                                str(user_pk))


def test_deleting_a_cert_leaves_its_events(certs, member):
    soc = cert_create(actor=member("banking", "head"), kind="organizational",
                      parent=certs["banking"], name="Example Microfinance SOC",
                      short_name="EM SOC", slug="example-microfinance-soc")
    events = list(AuditEvent.objects.filter(object_type="cert", object_id=str(soc.pk)))
    assert [e.detail["action"] for e in events] == ["create"]
    viewed = record(AuditKind.INCIDENT_VIEWED, request=None, cert=soc, object_cert=soc,
                    object_type="incident", object_id="1", object_label="PK-INC-2026-000001")
    Cert.objects.filter(pk=soc.pk).delete()
    assert not Cert.objects.filter(pk=soc.pk).exists()
    viewed = AuditEvent.objects.get(pk=viewed.pk)
    assert (viewed.cert_id, viewed.object_cert_id) == (soc.pk, soc.pk)
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in events]).count() == 1
