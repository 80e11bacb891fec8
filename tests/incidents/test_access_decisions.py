"""Decisions that used to be taken outside incidents.access (issue 7, finding 3): who may open an
incident for a CERT, who may be assigned one, and who may use the staff interface. Each is asked
of the access module and of every interface that offers it (form, service, admin), which must all
give the same answer."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents import access
from incidents.forms import AssignForm, IncidentCreateForm
from incidents.models import Incident
from incidents.services import incident_assign, incident_create
from organizations.services import cert_update, membership_add
from tests.factories import CertFactory, UserFactory, make_incident
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def deactivate(user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    return fresh(user)


def service_lets_open(user, cert) -> bool:
    """Whether incident_create accepts `user` as the opener of an incident owned by `cert`."""
    try:
        incident_create(actor=user, owner_cert=cert, title="Probe", classification="fraud",
                        incident_type="phishing")
    except ValidationError as error:
        assert set(error.message_dict) == {"owner_cert"}, error.message_dict
        return False
    return True


@pytest.fixture
def wound_up_cert(certs, member):
    """A local CERT below Punjab that was deactivated; its former handler is also a Lahore
    liaison."""
    multan = CertFactory(kind="local", parent=certs["punjab"], region="PK-PB", slug="multan",
                         name="Multan District CERT")
    user = member("lahore", "liaison")
    membership_add(cert=multan, user=user, role="handler", actor=None)
    cert_update(cert=multan, actor=None, is_active=False)
    multan.refresh_from_db()
    return multan


def test_the_form_offers_exactly_the_certs_the_service_accepts(certs, member, wound_up_cert):
    many_hats = member("lahore", "handler")
    membership_add(cert=certs["sindh"], user=many_hats, role="liaison", actor=None)
    membership_add(cert=certs["punjab"], user=many_hats, role="analyst", actor=None)
    people = {
        "handler here, analyst there, liaison elsewhere": fresh(many_hats),
        "liaison, and handler of a wound-up CERT": fresh(member("lahore", "liaison")),
        "head": member("sindh", "head"),
        "outsider": UserFactory(username="nobody", is_staff=True),
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    expected = {
        "handler here, analyst there, liaison elsewhere": {"lahore", "punjab"},
        "liaison, and handler of a wound-up CERT": set(),
        "head": {"sindh"},
        "outsider": set(),
        "superuser": set(),
    }
    every_cert = [*certs.values(), wound_up_cert]
    for who, user in people.items():
        offered = {cert.slug for cert in
                   IncidentCreateForm(user=user).fields["owner_cert"].queryset}
        decided = {cert.slug for cert in access.certs_to_open_incidents_for(user)}
        accepted = {cert.slug for cert in every_cert if service_lets_open(user, cert)}
        assert offered == decided == accepted == expected[who], who
        assert {cert.slug for cert in every_cert
                if access.may_open_incident_for(user, cert)} == expected[who], who


def test_a_deactivated_user_may_open_nothing(certs, member):
    user = deactivate(member("lahore", "handler"))

    assert list(IncidentCreateForm(user=user).fields["owner_cert"].queryset) == []
    assert not access.may_open_incident_for(user, certs["lahore"])
    assert not service_lets_open(user, certs["lahore"])
    assert not Incident.objects.filter(title="Probe").exists()


def test_assignable_people_are_the_active_members_of_the_owner_in_form_and_service(certs,
                                                                                   member):
    handler = member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler)
    liaison, analyst = member("lahore", "liaison"), member("lahore", "analyst")
    departed = deactivate(member("lahore", "head"))
    outsider = member("punjab", "handler")  # oversight sees the incident, but does not own it

    offered = set(AssignForm(incident=incident, user=handler).fields["assignee"].queryset)
    assert offered == set(access.assignable_users(incident)) == {handler, liaison, analyst}

    for person in (liaison, analyst):
        incident_assign(incident=incident, actor=handler, assignee=person)
        incident.refresh_from_db()
        assert incident.assignee == person
    for person in (departed, outsider):
        with pytest.raises(ValidationError) as refused:
            incident_assign(incident=Incident.objects.get(pk=incident.pk), actor=handler,
                            assignee=person)
        assert "assignee" in refused.value.message_dict
        incident.refresh_from_db()
        assert incident.assignee == analyst


def test_who_may_use_the_staff_interface(certs, member, wound_up_cert, client):
    lahore_liaison = member("lahore", "liaison")
    only_wound_up = UserFactory(username="multan.only", is_staff=True)
    membership_add(cert=certs["karachi"], user=only_wound_up, role="handler", actor=None)
    cert_update(cert=certs["karachi"], actor=None, is_active=False)
    people = {
        "member": (lahore_liaison, True),
        "member of a wound-up CERT only": (fresh(only_wound_up), False),
        "outsider": (UserFactory(username="nobody", is_staff=True), False),
        "superuser": (UserFactory(username="root", is_staff=True, is_superuser=True), False),
        "deactivated member": (deactivate(member("sindh", "head")), False),
    }
    for who, (user, allowed) in people.items():
        assert access.may_use_staff_interface(fresh(user)) is allowed, who
        if not user.is_active:
            continue  # the sign-in page does not sign them in at all
        sign_in(client, user)
        response = client.get(reverse("dashboard:queue"))
        assert response.status_code == (200 if allowed else 403), who
