"""ATTACHMENT_STORAGE chooses where attachments and report PDFs are stored (issue 13): MEDIA_ROOT,
or a private S3-compatible bucket through django-storages, the optional extra "s3"."""

import importlib.util
import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from cert_portal import storage_config
from cert_portal.storage_config import FILESYSTEM_BACKEND, S3_BACKEND, attachment_storage
from tests import startup

S3_ENVIRONMENT = {
    "AWS_STORAGE_BUCKET_NAME": "cert-files",
    "AWS_S3_ENDPOINT_URL": "https://s3.example.gov.pk",
    "AWS_S3_REGION_NAME": "me-central-1",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret-example",
}


@pytest.fixture
def storages_installed(monkeypatch):
    """django-storages and boto3 as if installed (the extra is not, in the test environment)."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name in ("storages", "boto3"):
            return object()
        return real(name, *args, **kwargs)

    monkeypatch.setattr(storage_config.importlib.util, "find_spec", find_spec)


def test_filesystem_is_the_file_system_storage_under_media_root():
    assert attachment_storage("filesystem", S3_ENVIRONMENT) == {"BACKEND": FILESYSTEM_BACKEND}
    assert FILESYSTEM_BACKEND == "cert_portal.storage.FileSystemStorage"


def test_s3_maps_every_variable_to_a_private_bucket_without_signed_urls(storages_installed):
    assert attachment_storage("s3", S3_ENVIRONMENT) == {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            "bucket_name": "cert-files",
            "endpoint_url": "https://s3.example.gov.pk",
            "region_name": "me-central-1",
            "access_key": "AKIAEXAMPLE",
            "secret_key": "secret-example",
            "default_acl": "private",
            "querystring_auth": False,
            "file_overwrite": False,
        },
    }


def test_s3_leaves_unset_endpoint_region_and_credentials_to_the_library(storages_installed):
    options = attachment_storage("s3", {"AWS_STORAGE_BUCKET_NAME": "cert-files",
                                        "AWS_ACCESS_KEY_ID": " "})["OPTIONS"]

    assert options == {"bucket_name": "cert-files", "default_acl": "private",
                       "querystring_auth": False, "file_overwrite": False}


def test_s3_without_a_bucket_says_which_variable_to_set(storages_installed):
    with pytest.raises(ImproperlyConfigured, match="needs AWS_STORAGE_BUCKET_NAME"):
        attachment_storage("s3", {"AWS_S3_REGION_NAME": "me-central-1"})


def test_s3_without_django_storages_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(storage_config.importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "storages" else real(name, *a, **k))

    with pytest.raises(ImproperlyConfigured,
                       match=r"storages .*is not installed: pip install 'cert-portal\[s3\]'"):
        attachment_storage("s3", S3_ENVIRONMENT)


def test_the_settings_store_on_the_file_system_by_default():
    started = startup.start_django("json.dumps(settings.STORAGES['default'])", DEBUG="1")

    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout.splitlines()[-1]) == {"BACKEND": FILESYSTEM_BACKEND}


@pytest.mark.skipif(importlib.util.find_spec("storages") is not None,
                    reason="the extra s3 is installed here: start-up would go on")
def test_start_up_with_s3_but_without_the_extra_stops_with_the_install_command():
    started = startup.manage("check", DEBUG="1", ATTACHMENT_STORAGE="s3", **S3_ENVIRONMENT)

    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "pip install 'cert-portal[s3]'" in started.stderr


def test_start_up_refuses_an_unknown_storage_naming_the_variable():
    started = startup.manage("check", DEBUG="1", ATTACHMENT_STORAGE="ftp")

    assert started.returncode != 0
    assert "ATTACHMENT_STORAGE='ftp' is not one of: filesystem, s3" in started.stderr
