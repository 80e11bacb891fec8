"""What the statistics pages and downloads disclose (issue 12): every persona on every statistics
page and CSV. Allowed pages answer 200, another subtree 404 (like a page that does not exist); no
page or download ever contains an incident's reference or title, nor a link to an incident; a
small cell of a label the viewer may not read says only "fewer than N"."""

from __future__ import annotations

import re

import pytest

from incidents.statistics.refresh import refresh
from tests.factories import make_incident
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

TABLES = ("child", "classification", "severity", "tlp", "sector", "region", "source", "status",
          "series", "regions")

# persona -> (CERT, role, the statistics pages it may open, pages of other subtrees).
PERSONAS = {
    "national head": ("national", "head", ["national", "government", "punjab", "lahore", "cii",
                                           "banking"], []),
    "provincial handler": ("punjab", "handler", ["punjab", "lahore"],
                           ["national", "government", "sindh", "karachi", "banking"]),
    "local analyst": ("lahore", "analyst", ["lahore"], ["punjab", "rawalpindi", "karachi",
                                                         "national"]),
    "sectoral liaison": ("banking", "liaison", ["banking", "example-bank-soc"],
                         ["cii", "telecom", "punjab", "lahore"]),
}
ALL_SLUGS = {"national", "government", "punjab", "lahore", "cii", "banking", "sindh", "karachi"}


@pytest.fixture
def incidents(certs, clock, member):
    """Incidents of every TLP across the tree, with titles that must never leak."""
    made = [
        make_incident(owner_cert=certs["lahore"], title="Secret RED ransomware at Lahore hospital",
                      tlp="TLP:RED", severity=4, region="PK-PB"),
        make_incident(owner_cert=certs["karachi"], title="Strict port intrusion at Karachi",
                      tlp="TLP:AMBER+STRICT", severity=3, region="PK-SD"),
        make_incident(owner_cert=certs["punjab"], title="Amber phishing of Punjab offices",
                      tlp="TLP:AMBER", region="PK-PB"),
        make_incident(owner_cert=certs["banking"], title="Green card skimming at banks",
                      tlp="TLP:GREEN"),
        make_incident(owner_cert=certs["example-bank-soc"], title="Red wire fraud at Example Bank",
                      tlp="TLP:RED", severity=4),
        make_incident(owner_cert=certs["national"], title="Clear defacement of a federal site",
                      tlp="TLP:CLEAR"),
    ]
    refresh()
    return made


def _pages(slug: str) -> list[str]:
    return [f"/dashboard/statistics/{slug}/",
            f"/dashboard/statistics/{slug}/?interval=week&date_from=2026-01-01&date_to=2026-03-31",
            *[f"/dashboard/statistics/{slug}/{table}.csv" for table in TABLES]]


def _assert_discloses_no_incident(text: str, incidents) -> None:
    for incident in incidents:
        assert incident.reference not in text
        assert incident.title not in text
        assert str(incident.public_id) not in text
    assert not re.search(r"/dashboard/incidents/(?!new/)", text)


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_on_each_statistics_page_and_download(client, member, incidents, persona):
    slug, role, allowed, forbidden = PERSONAS[persona]
    sign_in(client, member(slug, role))
    home = client.get("/dashboard/statistics/")
    assert home.status_code == 200
    _assert_discloses_no_incident(home.content.decode(), incidents)
    for cert in allowed:
        for path in _pages(cert):
            response = client.get(path)
            assert response.status_code == 200, path
            _assert_discloses_no_incident(response.content.decode(), incidents)
    for cert in forbidden:
        for path in _pages(cert):
            assert client.get(path).status_code == 404, path
    assert client.get("/dashboard/statistics/no-such-cert/").status_code == 404


def test_an_outsider_gets_no_statistics_at_all(client, outsider, incidents):
    sign_in(client, outsider)
    for slug in ALL_SLUGS:
        for path in _pages(slug):
            response = client.get(path)
            assert response.status_code == 403, path
            text = response.content.decode()
            _assert_discloses_no_incident(text, incidents)
            assert "Opened in the range" not in text
            assert "text/csv" not in response["Content-Type"]


def test_an_anonymous_visitor_is_sent_to_sign_in(client, incidents):
    response = client.get("/dashboard/statistics/national/tlp.csv")
    assert response.status_code == 302
    assert "/dashboard/statistics/" not in response.content.decode()


def test_a_small_cell_above_its_owner_is_shown_as_fewer_than_n(client, member, incidents):
    """The national head counts the Lahore RED incident, but as "fewer than 3"; Lahore itself,
    which owns it, sees the 1."""
    sign_in(client, member("national", "head"))
    national = client.get("/dashboard/statistics/national/tlp.csv").content.decode()
    assert re.search(r"TLP:RED,fewer than 3", national)
    page = client.get("/dashboard/statistics/").content.decode()
    assert "fewer than 3" in page
    # Totals still count every incident of the tree, whatever its TLP.
    assert re.search(r"Opened in the range</dt><dd>6<", page)
    client.logout()
    sign_in(client, member("lahore", "analyst"))
    lahore = client.get("/dashboard/statistics/lahore/tlp.csv").content.decode()
    assert re.search(r"TLP:RED,1\r\n", lahore)
    assert "fewer than" not in lahore
