"""/.well-known/security.txt (RFC 9116) with its CSAF line, checked with sectxt (issue 10), and
the `check_security_txt` command that .ci/run runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from sectxt import Parser

pytestmark = pytest.mark.django_db

BASE = "https://cert.example.gov.pk"
URL = f"{BASE}/.well-known/security.txt"


@pytest.fixture
def https_portal(settings):
    settings.PORTAL_BASE_URL = BASE
    settings.ALLOWED_HOSTS = ["testserver", "cert.example.gov.pk"]
    return settings


def fields(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.split(": ", 1)
            found.setdefault(name, []).append(value)
    return found


def test_security_txt_parses_without_errors(client, certs, https_portal):
    response = client.get("/.well-known/security.txt", secure=True)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    parser = Parser(response.content, urls=URL)
    assert parser.errors == []
    assert parser.is_valid()
    values = fields(response.content.decode())
    national = certs["national"]
    assert values["Contact"] == [f"mailto:{national.email}", "tel:+92-51-000-0000"]
    assert parser.contact_email == national.email
    assert values["Preferred-Languages"] == ["en, ur"]
    assert parser.preferred_languages == ["en", "ur"]
    assert values["Canonical"] == [URL]
    assert values["CSAF"] == [f"{BASE}/.well-known/csaf/provider-metadata.json"]
    assert values["Policy"] == [f"{BASE}/certs/{national.slug}/"]
    expires = datetime.strptime(values["Expires"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    now = datetime.now(UTC)
    assert now < expires <= now + timedelta(days=365)


def test_the_setting_replaces_the_registry_contact(client, certs, https_portal):
    https_portal.SECURITY_TXT_CONTACT = "mailto:security@cert.example.gov.pk, https://cert.example.gov.pk/report/"
    response = client.get("/.well-known/security.txt", secure=True)
    assert fields(response.content.decode())["Contact"] == [
        "mailto:security@cert.example.gov.pk", "https://cert.example.gov.pk/report/"]
    assert Parser(response.content, urls=URL).errors == []


def test_a_pgp_fingerprint_becomes_the_encryption_field(client, certs, https_portal):
    fingerprint = "8F5F267907B2C4559DB360DB2294BA7D2B2298B1"
    type(certs["national"]).objects.filter(pk=certs["national"].pk).update(pgp_fingerprint=fingerprint)
    response = client.get("/.well-known/security.txt", secure=True)
    assert fields(response.content.decode())["Encryption"] == [f"openpgp4fpr:{fingerprint}"]
    parser = Parser(response.content, urls=URL)
    assert parser.errors == []
    assert "no_encryption" not in {item["code"] for item in parser.recommendations}


def test_without_any_contact_there_is_no_security_txt(client, certs, https_portal):
    type(certs["national"]).objects.filter(pk=certs["national"].pk).update(email="", hotline="")
    assert client.get("/.well-known/security.txt", secure=True).status_code == 404


def test_check_security_txt_passes_on_https(certs, https_portal):
    out = StringIO()
    call_command("check_security_txt", stdout=out, stderr=StringIO())
    assert f"Checked {URL} with sectxt:" in out.getvalue()
    assert "CSAF: https://cert.example.gov.pk/.well-known/csaf/provider-metadata.json" in out.getvalue()
    assert "security.txt: no errors." in out.getvalue()


def test_check_security_txt_fails_on_errors(certs, settings):
    """RFC 9116 wants https:// addresses: a portal served over plain HTTP fails the check, and
    the command says which lines are wrong."""
    settings.PORTAL_BASE_URL = "http://portal.example"
    err = StringIO()
    with pytest.raises(CommandError, match=r"security.txt has \d+ error\(s\)"):
        call_command("check_security_txt", stdout=StringIO(), stderr=err)
    assert "no_https: Web URI must begin with 'https://'." in err.getvalue()
