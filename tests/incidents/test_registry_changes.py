"""Registry changes that concern incidents: deactivation and moves (DOMAIN.md §1, §2)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.access import visible_incidents
from incidents.models import Status
from incidents.services import incident_transition
from organizations.models import Cert
from organizations.services import RegistryRuleError, cert_create, cert_update
from tests.factories import make_incident


def test_a_cert_with_open_incidents_cannot_be_deactivated(certs, member):
    soc = certs["punjab-it-board-cert"]
    head = member("punjab-it-board-cert", "head")
    incident = make_incident(owner_cert=soc, actor=head)

    with pytest.raises(RegistryRuleError) as refused:
        cert_update(cert=soc, actor=None, is_active=False)

    assert "tree.open_incidents" in {violation.code for violation in refused.value.violations}
    assert "owns 1 open incident" in str(refused.value)
    assert Cert.objects.get(pk=soc.pk).is_active

    incident_transition(incident=incident, actor=head, to_status=Status.REJECTED)
    cert_update(cert=soc, actor=None, is_active=False)
    assert not Cert.objects.get(pk=soc.pk).is_active


def test_moving_a_cert_re_derives_who_above_it_sees_its_incidents(certs, member):
    # A local CERT moves from Punjab to Sindh (with Sindh's region): Punjab's staff stop seeing
    # its incidents and Sindh's start, without running sync_incident_permissions by hand.
    rawalpindi = certs["rawalpindi"]
    incident = make_incident(owner_cert=rawalpindi, actor=member("rawalpindi", "handler"))
    punjab_handler, sindh_handler = member("punjab", "handler"), member("sindh", "handler")
    assert incident in visible_incidents(punjab_handler)
    assert incident not in visible_incidents(sindh_handler)

    cert_update(cert=rawalpindi, actor=None, parent=certs["sindh"], region="PK-SD")

    assert incident not in visible_incidents(punjab_handler)
    assert incident in visible_incidents(sindh_handler)


def test_an_organizational_cert_without_incidents_moves_and_deactivates_freely(certs):
    soc = cert_create(actor=None, kind="organizational", name="Spare SOC", short_name="SPARE",
                      slug="spare", parent=certs["lahore"])
    cert_update(cert=soc, actor=None, parent=certs["punjab"])
    cert_update(cert=soc, actor=None, is_active=False)
    assert not Cert.objects.get(pk=soc.pk).is_active


def test_the_admin_refuses_deactivating_a_cert_with_open_incidents(client, certs, member):
    from django.contrib.auth import get_user_model

    from tests.organizations.test_admin import form_data
    from tests.twofactor import sign_in

    soc = certs["punjab-it-board-cert"]
    make_incident(owner_cert=soc, actor=member("punjab-it-board-cert", "handler"))
    # The admin asks for both factors (issue 9).
    sign_in(client, get_user_model().objects.create_superuser("root", "root@x.example", "pw"))

    response = client.post(f"/admin/organizations/cert/{soc.pk}/change/",
                           form_data(soc, is_active=False))

    assert response.status_code == 200
    assert "owns 1 open incident" in response.content.decode()
    assert Cert.objects.get(pk=soc.pk).is_active


def test_past_the_cap_the_refusal_says_so_without_counting_every_open_incident(
        certs, member, monkeypatch):
    from incidents import registry

    monkeypatch.setattr(registry, "OPEN_INCIDENTS_COUNT_CAP", 2)
    soc = certs["punjab-it-board-cert"]
    head = member("punjab-it-board-cert", "head")
    for _ in range(2):
        make_incident(owner_cert=soc, actor=head)

    with pytest.raises(RegistryRuleError) as refused:
        cert_update(cert=soc, actor=None, is_active=False)
    assert "owns 2 open incidents: escalate" in str(refused.value)

    make_incident(owner_cert=soc, actor=head)
    with CaptureQueriesContext(connection) as queries, pytest.raises(RegistryRuleError) as refused:
        cert_update(cert=soc, actor=None, is_active=False)

    assert "owns 2+ open incidents: escalate, refer or resolve them first." in str(refused.value)
    [count] = [query["sql"] for query in queries.captured_queries
               if "COUNT(" in query["sql"] and "incidents_incident" in query["sql"]]
    assert "LIMIT 3" in count  # the cap and one more, to know it was passed
    assert Cert.objects.get(pk=soc.pk).is_active


def test_a_move_re_derives_the_grants_of_its_subtree_in_streamed_batches(
        certs, member, monkeypatch):
    from incidents import registry

    batches, real_sync = [], registry.sync_grants

    def recorded(ids):
        batches.append(ids)
        return real_sync(ids)

    monkeypatch.setattr(registry, "RESYNC_BATCH", 2)
    monkeypatch.setattr(registry, "sync_grants", recorded)
    rawalpindi, handler = certs["rawalpindi"], member("rawalpindi", "handler")
    moved = [make_incident(owner_cert=rawalpindi, actor=handler).pk for _ in range(3)]
    make_incident(owner_cert=certs["lahore"], actor=member("lahore", "handler"))  # stays put

    with CaptureQueriesContext(connection) as queries:
        cert_update(cert=rawalpindi, actor=None, parent=certs["sindh"], region="PK-SD")

    assert batches == [moved[:2], moved[2:]]
    id_reads = [query["sql"] for query in queries.captured_queries
                if 'SELECT "incidents_incident"."id" AS "pk" FROM' in query["sql"]]
    # One streamed read of them all, then one keyset read of any created meanwhile.
    assert len(id_reads) == 2
    assert "LIMIT" not in id_reads[0] and id_reads[1].endswith("LIMIT 2")
    sindh_handler = member("sindh", "handler")
    assert set(visible_incidents(sindh_handler).values_list("pk", flat=True)) == set(moved)
