"""The public pages: the CERT directory at / and each CERT's profile at /certs/<slug>/."""

from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from organizations.services import cert_update
from tests.factories import CertFactory


class _TreeParser(HTMLParser):
    """Read the directory's nested <ul class="tree"> into {CERT name: parent CERT name or None},
    plus the names in document order."""

    def __init__(self):
        super().__init__()
        self.stack: list[dict] = []  # open <li>s of the tree, innermost last
        self.ul_depth = 0
        self.tree_ul_depths: list[int] = []
        self.capturing: dict | None = None
        self.parent_of: dict[str, str | None] = {}
        self.order: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "ul":
            self.ul_depth += 1
            if "tree" in classes:
                self.tree_ul_depths.append(self.ul_depth)
        elif tag == "li" and self.tree_ul_depths and self.tree_ul_depths[-1] == self.ul_depth:
            self.stack.append({"name": None})
        elif tag == "span" and "cert-name" in classes and self.stack:
            self.capturing = self.stack[-1]
            self.capturing["name"] = ""

    def handle_endtag(self, tag):
        if tag == "ul":
            if self.tree_ul_depths and self.tree_ul_depths[-1] == self.ul_depth:
                self.tree_ul_depths.pop()
            self.ul_depth -= 1
        elif tag == "li" and self.stack and self.tree_ul_depths \
                and self.tree_ul_depths[-1] == self.ul_depth:
            self.stack.pop()
        elif tag == "span" and self.capturing is not None:
            node = self.capturing
            node["name"] = node["name"].strip()
            parents = [entry["name"] for entry in self.stack[:-1]]
            self.parent_of[node["name"]] = parents[-1] if parents else None
            self.order.append(node["name"])
            self.capturing = None

    def handle_data(self, data):
        if self.capturing is not None:
            self.capturing["name"] += data


def directory_tree(html: str) -> _TreeParser:
    parser = _TreeParser()
    parser.feed(html)
    return parser


def chain_to_root(parent_of: dict[str, str | None], name: str) -> list[str]:
    chain = [name]
    while parent_of[chain[-1]] is not None:
        chain.append(parent_of[chain[-1]])
    return chain


# --- The directory ---------------------------------------------------------------------------

def test_directory_shows_every_active_cert_nested_under_its_parent(client, registry):
    response = client.get("/")

    assert response.status_code == 200
    tree = directory_tree(response.content.decode())
    assert set(tree.parent_of) == {cert.name for cert in registry.values()}
    assert len(tree.order) == len(registry)  # each CERT once
    for cert in registry.values():
        expected_parent = cert.parent.name if cert.parent else None
        assert tree.parent_of[cert.name] == expected_parent, cert.slug
    assert chain_to_root(tree.parent_of, "Lahore Metropolitan CERT") == [
        "Lahore Metropolitan CERT", "Punjab Government CERT", "Government CERT", "National CERT",
    ]
    assert chain_to_root(tree.parent_of, "Example Bank SOC") == [
        "Example Bank SOC", "Banking Sector CERT",
        "Critical Information Infrastructure CERT", "National CERT",
    ]


def test_directory_lists_a_parent_before_its_children_and_links_profiles(client, registry):
    html = client.get("/").content.decode()

    order = directory_tree(html).order
    assert order[0] == "National CERT"
    assert order.index("Government CERT") < order.index("Punjab Government CERT") \
        < order.index("Lahore Metropolitan CERT")
    assert 'href="/certs/lahore/"' in html
    assert "Local government CERT" in html  # the kind badge
    assert "Punjab" in html  # the region
    assert "Banking" in html  # the sector


def test_directory_hides_inactive_certs(client, registry):
    cert_update(cert=registry["example-bank-soc"], actor=None, is_active=False)

    html = client.get("/").content.decode()

    tree = directory_tree(html)
    assert "Example Bank SOC" not in tree.parent_of
    assert "Example Bank SOC" not in html
    assert "/certs/example-bank-soc/" not in html
    assert len(tree.parent_of) == len(registry) - 1
    assert tree.parent_of["Banking Sector CERT"] == "Critical Information Infrastructure CERT"


def test_directory_without_certs_shows_the_empty_state(client, empty_registry):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "No CERT is registered yet." in html
    assert "manage.py load_national_structure" in html
    assert 'class="tree' not in html


def _count_queries(client, url: str) -> tuple[int, bytes]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries), response.content


def test_directory_query_count_does_not_grow_with_the_registry(client, registry):
    before, _ = _count_queries(client, "/")

    parents = [registry[slug] for slug in ("banking", "telecom", "lahore", "federal", "sindh")]
    for number in range(25):
        CertFactory(parent=parents[number % len(parents)], name=f"Extra Organization {number} SOC")
    after, content = _count_queries(client, "/")

    assert content.decode().count("Extra Organization") == 25
    assert after == before
    assert before <= 2


# --- The profile page ------------------------------------------------------------------------

def test_profile_shows_the_public_description_of_a_cert(client, registry):
    response = client.get("/certs/punjab/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Punjab Government CERT" in html
    assert "PB-CERT" in html
    assert "Provincial government CERT" in html
    assert "Punjab (PK-PB)" in html
    assert '<a href="/certs/government/">Government CERT</a>' in html  # reports to
    assert "incident@punjab.cert.example" in html
    assert "+92 51 000 0000" in html
    assert "https://punjab.cert.example/" in html
    assert "Asia/Karachi" in html
    assert "English, Urdu" in html
    assert "Government of the Punjab." in html  # constituency
    teams = html.split("Teams under this CERT", 1)[1]
    for child in ("Lahore Metropolitan CERT", "Rawalpindi District CERT", "Punjab IT Board CERT"):
        assert child in teams
    assert "Karachi Metropolitan CERT" not in html
    # The breadcrumbs walk the tree from the root.
    assert html.index('href="/certs/national/"') < html.index('href="/certs/government/"')


def test_profile_of_a_sectoral_cert_names_its_sector_and_regulator(client, registry):
    html = client.get("/certs/banking/").content.decode()

    assert "Banking — regulator: State Bank of Pakistan" in html
    assert "Sectoral CERT" in html
    assert '<a href="/certs/cii/">Critical Information Infrastructure CERT</a>' in html
    assert "Example Bank SOC" in html.split("Teams under this CERT", 1)[1]


def test_profile_of_the_national_cert_is_the_root(client, registry):
    html = client.get("/certs/national/").content.decode()

    assert "the root of the national tree" in html
    assert "runs the national security operations centre" in html  # the rule's note


def test_profile_without_children_or_contact_says_so(client, registry):
    html = client.get("/certs/example-bank-soc/").content.decode()

    assert "No team reports to this CERT." in html
    assert "not published" in html
    assert "Example Bank Limited." in html


def test_profile_hides_inactive_children(client, registry):
    cert_update(cert=registry["rawalpindi"], actor=None, is_active=False)

    html = client.get("/certs/punjab/").content.decode()

    assert "Lahore Metropolitan CERT" in html
    assert "Rawalpindi District CERT" not in html


@pytest.mark.parametrize("slug", ["no-such-cert", "rawalpindi"])
def test_profile_of_an_unknown_or_inactive_cert_is_not_found(client, registry, slug):
    cert_update(cert=registry["rawalpindi"], actor=None, is_active=False)

    response = client.get(f"/certs/{slug}/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "There is nothing at this address, or you may not see it." in html
    assert "Rawalpindi District CERT" not in html


def test_profile_query_count_does_not_depend_on_depth(client, registry):
    deep = CertFactory(parent=registry["lahore"], name="Lahore Waste Management SOC")
    counts = {}
    for slug in ("national", "government", "punjab", "lahore", deep.slug):
        counts[slug], content = _count_queries(client, f"/certs/{slug}/")
        assert b"<h1>" in content

    assert deep.depth == registry["lahore"].depth + 1 == 4
    below_root = {counts[slug] for slug in ("government", "punjab", "lahore", deep.slug)}
    assert len(below_root) == 1, counts
    # The root has no ancestors to look up: Django skips the empty `pk__in` query.
    assert counts["national"] <= below_root.pop() <= 3
