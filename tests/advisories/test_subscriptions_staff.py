"""A member's advisory e-mail settings (issue 10, point 7): the staff page and its service."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.shortcuts import resolve_url
from django.test import Client

from advisories.distribution import distribute
from advisories.models import MemberSubscription
from organizations.models import Sector
from tests.twofactor import sign_in

PAGE = "/dashboard/advisories/subscription/"


def test_anonymous_is_sent_to_sign_in_and_an_outsider_is_refused(client, outsider, settings):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    refused = sign_in(Client(), outsider).get(PAGE)
    assert refused.status_code == 403
    assert "not a member of any active CERT" in refused.content.decode()
    assert sign_in(Client(), outsider).post(PAGE, {"mode": "all", "min_severity": 0}).status_code \
        == 403
    assert not MemberSubscription.objects.exists()


def test_a_member_sees_the_default_and_saves_choices(member):
    user = member("lahore", "analyst")
    client = sign_in(Client(), user)
    page = client.get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "You have not chosen yet" in text
    [checked] = re.findall(r'<input type="radio" name="mode" value="(\w+)"[^>]* checked>', text)
    assert checked == "filtered"  # the default: high or above
    assert '<label for="id_products">' in text

    banking, telecom = Sector.objects.get(slug="banking"), Sector.objects.get(slug="telecom")
    response = client.post(PAGE, {"mode": "filtered", "min_severity": "4",
                                  "sectors": [banking.pk, telecom.pk],
                                  "products": "  Example   CORP \n\nFortinet / FortiGate\nexample corp"})

    assert (response.status_code, response["Location"]) == (302, PAGE)
    saved = MemberSubscription.objects.get(user=user)
    assert (saved.mode, saved.min_severity) == ("filtered", 4)
    assert saved.products == "example corp\nfortinet / fortigate"
    assert set(saved.sectors.all()) == {banking, telecom}
    again = client.get(PAGE).content.decode()
    assert "You have not chosen yet" not in again
    assert "fortinet / fortigate" in again


@pytest.mark.parametrize(("data", "says"), [
    ({"mode": "filtered", "min_severity": "3", "products": "example corp\n / gateway"},
     "Line 2: write"),
    ({"mode": "filtered", "min_severity": "3", "products": "vendor /"}, "Line 1: write"),
    ({"mode": "sometimes", "min_severity": "3"}, "Select a valid choice"),
    ({"mode": "all", "min_severity": "7"}, "Select a valid choice"),
    ({"mode": "all", "min_severity": "3", "sectors": ["999999"]}, "Select a valid choice"),
])
def test_bad_choices_are_refused_with_a_message_and_nothing_is_saved(member, data, says):
    client = sign_in(Client(), member("lahore", "analyst"))
    response = client.post(PAGE, data)
    assert response.status_code == 400
    assert says in response.content.decode()
    assert "Your choices were not saved" in response.content.decode()
    assert not MemberSubscription.objects.exists()


def test_the_choice_decides_the_next_email_and_the_email_links_to_this_page(member,
                                                                             make_advisory):
    user = member("lahore", "analyst")
    client = sign_in(Client(), user)
    advisory = make_advisory(tlp="TLP:GREEN", severity=4)
    distribute(advisory.current_revision_id)
    [message] = [m for m in mail.outbox if m.to == [user.email]]
    assert f"http://portal.test.example{PAGE}" in message.body

    client.post(PAGE, {"mode": "none", "min_severity": "0"})
    mail.outbox.clear()
    distribute(make_advisory(tlp="TLP:GREEN", severity=4).current_revision_id)
    assert [m for m in mail.outbox if m.to == [user.email]] == []
    assert mail.outbox  # others still got it


def test_the_page_is_in_urdu_for_an_urdu_reader(member):
    client = sign_in(Client(), member("lahore", "analyst"))
    client.cookies["django_language"] = "ur"
    page = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="ur").content.decode()
    assert 'lang="ur"' in page
    assert "Advisory e-mails" not in page
