"""The CSAF provider's directory distribution (issue 10, point 5): provider-metadata.json,
the public white/ folder, and the access-protected green/, amber/ and red/ folders."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from advisories.csaf.directory import document_path
from advisories.csaf.document import file_name
from tests.csaf_validator.support import (
    PROVIDER_SCHEMA_ID,
    csaf_advisories,  # noqa: F401  (fixture)
    schema_errors,
    served_document,
)
from tests.twofactor import sign_in

pytestmark = pytest.mark.django_db

WELL_KNOWN = "/.well-known/csaf"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def lines(response) -> list[str]:
    return body(response).decode().splitlines()


def relative(advisory) -> str:
    """<year>/<file>.json, as index.txt writes it."""
    return document_path(advisory).split("/", 4)[4]


def member_client(user) -> Client:
    return sign_in(Client(), user)


# --- provider-metadata.json ---------------------------------------------------------------

def test_provider_metadata_is_valid_and_names_every_folder(client, certs, settings):
    settings.PORTAL_BASE_URL = "https://cert.example.gov.pk"
    response = client.get(f"{WELL_KNOWN}/provider-metadata.json", HTTP_ACCEPT_LANGUAGE="ur")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    metadata = json.loads(response.content)
    assert schema_errors(PROVIDER_SCHEMA_ID, metadata) == []
    assert metadata["canonical_url"] == "https://cert.example.gov.pk/.well-known/csaf/provider-metadata.json"
    assert metadata["role"] == "csaf_provider"
    assert metadata["metadata_version"] == "2.0"
    assert metadata["publisher"]["name"] == certs["national"].name
    assert metadata["publisher"]["category"] == "coordinator"
    assert metadata["publisher"]["namespace"] == "https://cert.example.gov.pk"
    assert metadata["publisher"]["issuing_authority"].startswith("National CERT in Pakistan's")
    assert metadata["distributions"] == [
        {"directory_url": f"https://cert.example.gov.pk/.well-known/csaf/{folder}/"}
        for folder in ("white", "green", "amber", "red")]


def test_the_provider_schema_check_can_fail(client, certs):
    metadata = json.loads(client.get(f"{WELL_KNOWN}/provider-metadata.json").content)
    metadata["role"] = "csaf_vendor"
    metadata["canonical_url"] = "https://cert.example.gov.pk/metadata.json"
    errors = "\n".join(schema_errors(PROVIDER_SCHEMA_ID, metadata))
    assert "/role: 'csaf_vendor' is not one of" in errors
    assert "/canonical_url: " in errors


# --- white/: public --------------------------------------------------------------------

def test_white_index_and_changes_list_exactly_the_published_clear_documents(
        client, csaf_advisories, make_advisory):  # noqa: F811
    draft = make_advisory(tlp="TLP:CLEAR", published=False)
    clear = [csaf_advisories[name] for name in ("clear_security", "clear_informational", "clear_revised")]
    response = client.get(f"{WELL_KNOWN}/white/index.txt")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    index = lines(response)
    assert sorted(index) == sorted(relative(advisory) for advisory in clear)
    assert all(line.startswith("2026/pk-adv-2026-") and line.endswith(".json") for line in index)
    assert draft.reference.lower() not in "\n".join(index)

    response = client.get(f"{WELL_KNOWN}/white/changes.csv")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    changes = lines(response)
    newest_first = sorted(clear, key=lambda advisory: advisory.last_published_at, reverse=True)
    assert [line.split(",")[0] for line in changes] == [f'"{relative(a)}"' for a in newest_first]
    # The revised advisory was published last: its second revision's date comes first.
    assert newest_first[0] == csaf_advisories["clear_revised"]
    for line, advisory in zip(changes, newest_first, strict=True):
        current = json.loads(served_document(advisory))["document"]["tracking"]["current_release_date"]
        assert line == f'"{relative(advisory)}","{current}"'


def test_white_documents_and_their_hashes(client, csaf_advisories):  # noqa: F811
    advisory = csaf_advisories["clear_security"]
    path = document_path(advisory)
    assert path == f"{WELL_KNOWN}/white/2026/{advisory.reference.lower()}.json"
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    data = response.content
    assert data == served_document(advisory)
    assert json.loads(data)["document"]["tracking"]["id"] == advisory.reference
    name = file_name(advisory.reference)
    for algorithm in ("sha256", "sha512"):
        response = client.get(f"{path}.{algorithm}")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content.decode() == f"{hashlib.new(algorithm, data).hexdigest()}  {name}\n"
    # The same bytes again, also for someone who reads the pages in Urdu: the hash holds between
    # two downloads.
    assert client.get(path).content == data
    assert Client().get(path, HTTP_ACCEPT_LANGUAGE="ur").content == data


def test_white_listings_link_the_files(client, csaf_advisories):  # noqa: F811
    folder = client.get(f"{WELL_KNOWN}/white/")
    assert folder.status_code == 200
    text = body(folder).decode()
    assert '<a href="index.txt">' in text and '<a href="changes.csv">' in text
    assert '<a href="2026/">' in text
    year = body(client.get(f"{WELL_KNOWN}/white/2026/")).decode()
    name = file_name(csaf_advisories["clear_security"].reference)
    for suffix in ("", ".sha256", ".sha512"):
        assert f'<a href="{name}{suffix}">' in year
    assert file_name(csaf_advisories["amber_cve_without_products"].reference) not in year
    assert client.get(f"{WELL_KNOWN}/white/2025/").status_code == 200
    assert client.get(f"{WELL_KNOWN}/purple/").status_code == 404


def test_stricter_labels_never_appear_in_white_nor_for_the_public(client, csaf_advisories):  # noqa: F811
    index = "\n".join(lines(client.get(f"{WELL_KNOWN}/white/index.txt")))
    changes = "\n".join(lines(client.get(f"{WELL_KNOWN}/white/changes.csv")))
    for name in ("green_products_indicators", "green_withdrawn", "amber_cve_without_products",
                 "amber_strict_security", "red_cvss_v4_only"):
        advisory = csaf_advisories[name]
        stem = advisory.reference.lower()
        assert stem not in index and stem not in changes, name
        real_path = document_path(advisory)
        assert "/white/" not in real_path
        would_be = real_path.replace(real_path.split("/")[3], "white")
        for path in (would_be, f"{would_be}.sha256", real_path, f"{real_path}.sha512"):
            assert client.get(path).status_code == 404, path


def test_unpublished_wrong_year_and_misspelt_names_are_404(client, csaf_advisories, make_advisory):  # noqa: F811
    draft = make_advisory(tlp="TLP:CLEAR", published=False)
    assert client.get(f"{WELL_KNOWN}/white/2026/{file_name(draft.reference)}").status_code == 404
    advisory = csaf_advisories["clear_security"]
    name = file_name(advisory.reference)
    assert client.get(f"{WELL_KNOWN}/white/2025/{name}").status_code == 404
    assert client.get(f"{WELL_KNOWN}/white/2026/{name.upper()}").status_code == 404
    assert client.get(f"{WELL_KNOWN}/white/2026/{name[:-5]}_.json").status_code == 404
    assert client.get(f"{WELL_KNOWN}/white/2026/{name}.md5").status_code == 404
    assert client.post(f"{WELL_KNOWN}/white/2026/{name}").status_code == 405


# --- green/, amber/, red/: access-protected ------------------------------------------------

def test_amber_folder_allowed_member_sees_it_others_get_404(
        client, csaf_advisories, member, outsider):  # noqa: F811
    advisory = csaf_advisories["amber_cve_without_products"]
    path = document_path(advisory)
    assert path.startswith(f"{WELL_KNOWN}/amber/2026/")
    audience = member_client(member("banking", "analyst"))
    response = audience.get(path)
    assert response.status_code == 200
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert json.loads(response.content)["document"]["distribution"]["tlp"]["label"] == "AMBER"
    assert audience.get(f"{path}.sha256").status_code == 200
    assert lines(audience.get(f"{WELL_KNOWN}/amber/index.txt")) == [relative(advisory)]
    changes = lines(audience.get(f"{WELL_KNOWN}/amber/changes.csv"))
    assert [line.split(",")[0] for line in changes] == [f'"{relative(advisory)}"']
    assert member_client(member("national", "liaison")).get(path).status_code == 200  # author CERT

    other = member_client(member("telecom", "head"))
    assert other.get(path).status_code == 404
    assert other.get(f"{path}.sha512").status_code == 404
    assert lines(other.get(f"{WELL_KNOWN}/amber/index.txt")) == []
    for stranger in (member_client(outsider), client):
        for url in (path, f"{path}.sha256", f"{WELL_KNOWN}/amber/index.txt",
                    f"{WELL_KNOWN}/amber/changes.csv", f"{WELL_KNOWN}/amber/", f"{WELL_KNOWN}/amber/2026/"):
            assert stranger.get(url).status_code == 404, url


def test_protected_folders_need_the_second_factor(csaf_advisories, member):  # noqa: F811
    path = document_path(csaf_advisories["amber_cve_without_products"])
    password_only = Client()
    password_only.force_login(member("banking", "analyst"))
    assert password_only.get(path).status_code == 404
    assert password_only.get(f"{WELL_KNOWN}/amber/index.txt").status_code == 404


def test_green_folder_is_for_every_member(client, csaf_advisories, member, outsider):  # noqa: F811
    green = [csaf_advisories["green_products_indicators"], csaf_advisories["green_withdrawn"]]
    reader = member_client(member("lahore", "liaison"))
    assert sorted(lines(reader.get(f"{WELL_KNOWN}/green/index.txt"))) == sorted(map(relative, green))
    for advisory in green:
        assert reader.get(document_path(advisory)).status_code == 200
        assert client.get(document_path(advisory)).status_code == 404
        assert member_client(outsider).get(document_path(advisory)).status_code == 404
    # A member still finds TLP:CLEAR documents in white/ only.
    clear = csaf_advisories["clear_security"]
    assert reader.get(document_path(clear).replace("/white/", "/green/")).status_code == 404


def test_red_folder_holds_amber_strict_and_red(csaf_advisories, member):  # noqa: F811
    strict = csaf_advisories["amber_strict_security"]
    red = csaf_advisories["red_cvss_v4_only"]
    assert document_path(strict).startswith(f"{WELL_KNOWN}/red/")
    assert document_path(red).startswith(f"{WELL_KNOWN}/red/")
    audience = member_client(member("banking", "head"))
    assert audience.get(document_path(strict)).status_code == 200
    assert audience.get(document_path(red)).status_code == 404
    assert lines(audience.get(f"{WELL_KNOWN}/red/index.txt")) == [relative(strict)]
    named = member_client(member("punjab", "analyst"))
    assert named.get(document_path(red)).status_code == 200
    assert named.get(document_path(strict)).status_code == 404
    assert lines(named.get(f"{WELL_KNOWN}/red/index.txt")) == [relative(red)]
    not_named = member_client(member("punjab", "handler"))
    assert not_named.get(document_path(red)).status_code == 404
    assert lines(not_named.get(f"{WELL_KNOWN}/red/index.txt")) == []
    author = member_client(member("national", "analyst"))
    both = sorted([relative(strict), relative(red)])
    assert sorted(lines(author.get(f"{WELL_KNOWN}/red/index.txt"))) == both


# --- query counts -----------------------------------------------------------------------

def test_listings_cost_the_same_number_of_queries_at_3_and_30(client, make_advisory, member, certs, clock):
    audience = member_client(member("banking", "analyst"))
    banking = [certs["banking"].pk]

    def publish(count):
        for _ in range(count):
            make_advisory(tlp="TLP:CLEAR")
            make_advisory(tlp="TLP:AMBER", audience_ids=banking)
            clock.advance(minutes=1)

    def cost(requester, url) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = requester.get(url)
            rows = [line for line in lines(response) if "pk-adv-" in line]
        return len(queries), len(rows)

    urls = [(client, f"{WELL_KNOWN}/white/index.txt"), (client, f"{WELL_KNOWN}/white/changes.csv"),
            (audience, f"{WELL_KNOWN}/amber/index.txt"), (audience, f"{WELL_KNOWN}/amber/changes.csv"),
            (client, f"{WELL_KNOWN}/white/2026/")]
    publish(3)
    small = [cost(requester, url) for requester, url in urls]
    publish(27)
    large = [cost(requester, url) for requester, url in urls]
    assert [rows for _, rows in small] == [3, 3, 3, 3, 3 * 3]  # the year lists hashes too
    assert [rows for _, rows in large] == [30, 30, 30, 30, 30 * 3]
    assert [queries for queries, _ in small] == [queries for queries, _ in large]
    assert small[0][0] <= 2 and small[2][0] <= 8
