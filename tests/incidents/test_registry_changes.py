"""Registry changes that concern incidents: deactivation and moves (DOMAIN.md §1, §2)."""

import pytest

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

    soc = certs["punjab-it-board-cert"]
    make_incident(owner_cert=soc, actor=member("punjab-it-board-cert", "handler"))
    client.force_login(get_user_model().objects.create_superuser("root", "root@x.example", "pw"))

    response = client.post(f"/admin/organizations/cert/{soc.pk}/change/",
                           form_data(soc, is_active=False))

    assert response.status_code == 200
    assert "owns 1 open incident" in response.content.decode()
    assert Cert.objects.get(pk=soc.pk).is_active
