"""An advisory drawn from an incident (issue 10, item 8): the incident page's "Draft an advisory"
for those who work the incident and write advisories, the editor prefilled from the incident, the
link kept on the advisory, the label no less strict than the incident's, and the incident page
listing the advisories drawn from it only to those who may see both.

The incident is Lahore's, TLP:AMBER: Lahore's members work it by role; Punjab, above Lahore,
oversees it (view only); Sindh has nothing to do with it."""

from __future__ import annotations

import re

import pytest

from advisories.models import Advisory, AdvisoryRevision
from advisories.services import advisory_approve, advisory_create, advisory_submit
from incidents.services import incident_add_observable
from tests.advisories.support import content
from tests.advisories.test_dashboard_editor import typed
from tests.advisories.test_dashboard_list import client_for
from tests.factories import make_incident

pytestmark = pytest.mark.django_db

NEW = "/dashboard/advisories/new/"
DRAFT_BUTTON = ">Draft an advisory</a>"


@pytest.fixture
def incident(certs):
    incident = make_incident(owner_cert=certs["lahore"], title="VPN appliance exploited",
                             tlp="TLP:AMBER", description=(
                                 "Attackers exploit the VPN appliance.\nThree banks are affected.\n\n"
                                 "Reporter's phone number and other details follow."))
    for kind, value in (("domain", "evil.example"), ("ipv4", "203.0.113.7"), ("cve", "CVE-2026-4242")):
        incident_add_observable(incident=incident, actor=None, type=kind, value=value)
    return incident


def incident_page(client, incident):
    response = client.get(f"/dashboard/incidents/{incident.reference}/")
    assert response.status_code == 200
    return response.content.decode()


def test_draft_an_advisory_is_offered_to_those_who_work_the_incident_and_write(member, incident):
    for role in ("head", "handler", "analyst"):
        page = incident_page(client_for(member("lahore", role)), incident)
        assert DRAFT_BUTTON in page, role
        assert f'href="/dashboard/advisories/new/?incident={incident.reference}"' in page
    assert DRAFT_BUTTON not in incident_page(client_for(member("lahore", "liaison")), incident)
    assert DRAFT_BUTTON not in incident_page(client_for(member("punjab", "head")), incident)  # oversight


def test_the_editor_is_prefilled_from_the_incident(member, incident):
    html = client_for(member("lahore", "handler")).get(NEW, {"incident": incident.reference}).content.decode()

    assert 'value="VPN appliance exploited"' in html
    summary = re.search(r'<textarea name="summary"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert summary.strip() == "Attackers exploit the VPN appliance.\nThree banks are affected."
    assert re.search(r'<option value="TLP:AMBER" selected>TLP:AMBER</option>', html)
    assert re.search(r'<textarea name="cve_ids"[^>]*>\s*CVE-2026-4242</textarea>', html)
    indicators = html[html.index('<ul class="plain-list indicator-list">'):]
    indicators = indicators[:indicators.index("</ul>")]
    for value in ("evil.example", "203.0.113.7", "CVE-2026-4242"):
        assert value in indicators
    assert f'<input type="hidden" name="incident" value="{incident.reference}"' in html
    assert "marked TLP:AMBER: the advisory keeps that label or a stricter one." in html


def test_the_advisory_keeps_its_source_and_the_incidents_observables(member, incident):
    client = client_for(member("lahore", "handler"))

    # Indicators posted with the form are not taken: they come from the incident.
    saved = client.post(NEW, typed(incident=incident.reference, tlp="TLP:AMBER",
                                   indicators="ipv4|198.51.100.1"))
    assert saved.status_code == 302
    advisory = Advisory.objects.get()
    assert advisory.source_incident == incident
    assert advisory.author_cert.slug == "lahore"
    assert sorted(map(tuple, (item.values() for item in advisory.revisions.get().indicators))) == [
        ("cve", "CVE-2026-4242"), ("domain", "evil.example"), ("ipv4", "203.0.113.7")]
    detail = client.get(saved["Location"]).content.decode()
    assert f'href="/dashboard/incidents/{incident.reference}/"' in detail


def test_a_label_less_strict_than_the_incidents_is_refused(member, incident):
    client = client_for(member("lahore", "handler"))

    for label in ("TLP:GREEN", "TLP:CLEAR"):
        refused = client.post(NEW, typed(incident=incident.reference, tlp=label))
        assert refused.status_code == 400
        assert (f"This advisory is drawn from {incident.reference}, marked TLP:AMBER: choose that "
                "label or a stricter one.") in refused.content.decode()
        hidden = f'<input type="hidden" name="incident" value="{incident.reference}"'
        assert hidden in refused.content.decode()
    assert not Advisory.objects.exists()
    assert client.post(NEW, typed(incident=incident.reference, tlp="TLP:AMBER+STRICT")).status_code == 302


def test_only_an_incident_one_works_can_be_drawn_from(member, incident):
    oversight = client_for(member("punjab", "head"))
    refused = oversight.get(NEW, {"incident": incident.reference})
    assert refused.status_code == 403
    assert f"You may draw an advisory only from an incident you work; {incident.reference}" in (
        refused.content.decode())
    assert oversight.post(NEW, typed(incident=incident.reference, tlp="TLP:RED")).status_code == 403
    # An incident one may not see is answered like one that does not exist.
    stranger = client_for(member("sindh", "handler"))
    assert stranger.get(NEW, {"incident": incident.reference}).status_code == 404
    assert stranger.post(NEW, typed(incident=incident.reference, tlp="TLP:AMBER")).status_code == 404
    assert stranger.get(NEW, {"incident": "PK-2026-999999"}).status_code == 404
    assert not Advisory.objects.exists()


def test_the_incident_lists_its_advisories_to_those_who_may_see_both(certs, member, incident):
    author, head = member("lahore", "handler"), member("lahore", "head")
    own_draft = advisory_create(actor=author, cert=certs["lahore"], source_incident=incident,
                                content=content(title="Lahore's draft", tlp="TLP:AMBER"))
    for_punjab = advisory_create(actor=author, cert=certs["lahore"], source_incident=incident,
                                 content=content(title="For Punjab too", tlp="TLP:AMBER",
                                                 audience_ids=[certs["punjab"].pk]))
    for_banking = advisory_create(actor=author, cert=certs["lahore"], source_incident=incident,
                                  content=content(title="For the banks", tlp="TLP:AMBER",
                                                  audience_ids=[certs["banking"].pk]))
    for advisory in (for_punjab, for_banking):
        advisory_submit(actor=author, advisory=advisory)
        advisory_approve(actor=head, advisory=advisory)

    lahore = incident_page(client_for(member("lahore", "liaison")), incident)
    for advisory in (own_draft, for_punjab, for_banking):
        assert advisory.reference in lahore
    assert "Lahore&#x27;s draft" in lahore
    # Punjab sees the incident (oversight) and the advisory addressed to it, not the others.
    punjab = incident_page(client_for(member("punjab", "analyst")), incident)
    assert for_punjab.reference in punjab
    assert own_draft.reference not in punjab and for_banking.reference not in punjab
    # Banking reads its advisory but may not see the incident: no page, no link.
    banking = client_for(member("banking", "analyst"))
    assert banking.get(f"/dashboard/incidents/{incident.reference}/").status_code == 404
    detail = banking.get(f"/dashboard/advisories/{for_banking.reference}/").content.decode()
    assert "For the banks" in detail and incident.reference not in detail


def test_the_incident_page_without_advisories_costs_no_query_for_them(certs, member, incident,
                                                                      django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(member("lahore", "liaison"))  # no "Draft" button to ask about either
    url = f"/dashboard/incidents/{incident.reference}/"
    client.get(url)
    with CaptureQueriesContext(connection) as without:
        client.get(url)
    advisory_create(actor=member("lahore", "handler"), cert=certs["lahore"], source_incident=incident,
                    content=content(title="Drawn", tlp="TLP:AMBER"))
    with CaptureQueriesContext(connection) as with_one:
        page = client.get(url).content.decode()
    assert "Drawn" in page
    assert len(with_one) == len(without) + 1
    for number in range(5):
        advisory_create(actor=member("lahore", "handler"), cert=certs["lahore"],
                        source_incident=incident, content=content(title=f"More {number}", tlp="TLP:RED",
                                                                   reader_ids=[member("lahore", "head").pk]))
    with django_assert_num_queries(len(with_one)):
        client.get(url)
    assert AdvisoryRevision.objects.filter(advisory__source_incident=incident).count() == 6
