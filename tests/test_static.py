"""With DEBUG off the app server itself serves the static files, through WhiteNoise, under
content-hashed names that browsers may cache for good."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

PRODUCTION_STATIC_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/static/css/portal\.([0-9a-f]{12})\.css)">')


@pytest.fixture
def collected_static(settings, tmp_path):
    """The production storage of cert_portal/settings.py, filled by collectstatic."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": PRODUCTION_STATIC_STORAGE}}
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings.STATIC_ROOT


def test_pages_link_the_hashed_stylesheet_and_whitenoise_serves_it(db, collected_static):
    assert (collected_static / "staticfiles.json").is_file()
    # A new client builds a new handler, whose WhiteNoise middleware scans the new STATIC_ROOT.
    client = Client()

    page = client.get("/")

    assert page.status_code == 200
    match = STYLESHEET.search(page.content.decode())
    assert match, page.content.decode()[:800]
    url, digest = match.groups()
    assert (collected_static / "css" / f"portal.{digest}.css").is_file()

    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    body = b"".join(response.streaming_content)
    assert b"--brand:" in body
    assert body == (collected_static / "css" / f"portal.{digest}.css").read_bytes()
    cache_control = response["Cache-Control"]
    max_age = int(re.search(r"max-age=(\d+)", cache_control).group(1))
    assert max_age >= 365 * 24 * 3600
    assert "immutable" in cache_control


def test_whitenoise_serves_the_compressed_stylesheet_to_clients_that_accept_it(
        db, collected_static):
    client = Client()
    url = STYLESHEET.search(client.get("/").content.decode()).group(1)

    response = client.get(url, headers={"accept-encoding": "gzip"})

    assert response.status_code == 200
    assert response["Content-Encoding"] in {"gzip", "br"}
    assert response["Vary"] == "Accept-Encoding"


def test_an_unhashed_or_unknown_static_file_is_not_cached_for_long(db, collected_static):
    client = Client()

    plain = client.get("/static/css/portal.css")
    missing = client.get("/static/css/missing.css")

    assert plain.status_code == 200
    assert "immutable" not in plain["Cache-Control"]
    assert missing.status_code == 404
