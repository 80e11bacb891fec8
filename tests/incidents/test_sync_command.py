"""`manage.py sync_incident_permissions` re-derives every incident's grants."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import IncidentGroupObjectPermission
from tests.factories import make_incident


def grant_rows():
    return set(IncidentGroupObjectPermission.objects.values_list(
        "content_object_id", "group_id", "permission_id"))


def test_sync_command_repairs_missing_and_extra_grants(certs, member):
    first = make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))
    make_incident(owner_cert=certs["banking"], actor=member("banking", "handler"))
    expected = grant_rows()
    # Damage: one grant lost, one foreign grant added.
    IncidentGroupObjectPermission.objects.filter(content_object=first).first().delete()
    stray = IncidentGroupObjectPermission.objects.filter(content_object=first).first()
    IncidentGroupObjectPermission.objects.create(
        content_object=first, group_id=certs["telecom"].group_id, permission_id=stray.permission_id)

    out = io.StringIO()
    call_command("sync_incident_permissions", "--batch-size", "1", stdout=out)

    assert grant_rows() == expected
    assert "Checked 2 incidents: 1 grants added, 1 revoked." in out.getvalue()
    out = io.StringIO()
    call_command("sync_incident_permissions", stdout=out)
    assert "0 grants added, 0 revoked" in out.getvalue()


def test_sync_command_refuses_a_bad_batch_size(db):
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("sync_incident_permissions", "--batch-size", "0")


def test_sync_command_reads_the_incidents_in_streamed_batches(certs, member, monkeypatch):
    from incidents.management.commands import sync_incident_permissions

    batches, real_sync = [], sync_incident_permissions.sync_grants

    def recorded(ids):
        batches.append(ids)
        return real_sync(ids)

    monkeypatch.setattr(sync_incident_permissions, "sync_grants", recorded)
    handler = member("lahore", "handler")
    ids = [make_incident(owner_cert=certs["lahore"], actor=handler).pk for _ in range(5)]

    out = io.StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("sync_incident_permissions", "--batch-size", "2", "--verbosity", "2",
                     stdout=out)

    assert batches == [ids[:2], ids[2:4], ids[4:]]
    id_reads = [query["sql"] for query in queries.captured_queries
                if 'SELECT "incidents_incident"."id" AS "pk" FROM' in query["sql"]]
    # One streamed read of them all, then one keyset read of any created meanwhile.
    assert len(id_reads) == 2
    assert "LIMIT" not in id_reads[0] and id_reads[1].endswith("LIMIT 2")
    assert out.getvalue().splitlines() == [
        f"  2 incidents, up to id {ids[1]}", f"  4 incidents, up to id {ids[3]}",
        f"  5 incidents, up to id {ids[4]}", "Checked 5 incidents: 0 grants added, 0 revoked."]
