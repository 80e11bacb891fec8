"""The production settings (issue 13, item 2): Django's deployment checks pass with no warning,
passwords are hashed with Argon2 (older hashes upgraded at sign-in), and the password rules are
ASVS 5.0 V6.2's. tests/settings.py hashes with MD5 for speed, so the hashers and validators are
read from the real settings module, started in a fresh interpreter with production variables."""

from __future__ import annotations

import secrets

import pytest
from django.contrib.auth.hashers import identify_hasher, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings

from tests import startup
from tests.factories import UserFactory
from tests.security.test_headers import PRODUCTION, production_settings


def production_check(tmp_path, **variables):
    """`manage.py check --deploy --fail-level WARNING` as .ci/run runs it: production variables,
    a random 50-character SECRET_KEY, a throwaway SQLite database."""
    return startup.manage("check", "--deploy", "--fail-level", "WARNING", **{
        **PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50)[:50],
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", **variables})


def test_check_deploy_with_production_settings_finds_no_issue(tmp_path):
    result = production_check(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_check_deploy_would_warn_without_the_https_settings(tmp_path):
    """The check above can fail: with HSTS and the redirect off it warns about both."""
    result = production_check(tmp_path, SECURE_HSTS_SECONDS="0", SECURE_SSL_REDIRECT="0")

    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


@pytest.fixture(scope="module")
def production_passwords() -> dict:
    return production_settings("PASSWORD_HASHERS", "AUTH_PASSWORD_VALIDATORS")


def test_the_production_settings_hash_new_passwords_with_argon2id(production_passwords):
    hashers = production_passwords["PASSWORD_HASHERS"]
    assert hashers[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in hashers[1:]

    with override_settings(PASSWORD_HASHERS=hashers):
        encoded = make_password("a long passphrase of a handler")

    assert encoded.startswith("argon2$argon2id$")


@pytest.mark.django_db
def test_a_pbkdf2_hash_still_signs_in_and_is_rehashed_with_argon2(production_passwords):
    with override_settings(PASSWORD_HASHERS=production_passwords["PASSWORD_HASHERS"]):
        user = UserFactory()
        user.password = make_password("an old handler password", hasher="pbkdf2_sha256")
        user.save(update_fields=["password"])
        assert identify_hasher(user.password).algorithm == "pbkdf2_sha256"

        assert user.check_password("an old handler password")

        user.refresh_from_db()
        assert identify_hasher(user.password).algorithm == "argon2"
        assert user.check_password("an old handler password")
        assert not user.check_password("another password")


@pytest.mark.django_db
def test_the_password_rules_are_those_of_asvs_v6_2(production_passwords):
    user = UserFactory(username="sana.khan", email="sana.khan@cert.example.gov.pk")

    def refused(password: str) -> bool:
        try:
            validate_password(password, user)
        except ValidationError:
            return True
        return False

    with override_settings(AUTH_PASSWORD_VALIDATORS=production_passwords[
            "AUTH_PASSWORD_VALIDATORS"]):
        assert refused("elevenchars")  # V6.2.1: at least 12
        assert not refused("twelve chars")
        assert not refused("x" * 64 + " and then some more")  # V6.2.9: 64 and more allowed
        assert not refused("7" * 5 + "31904682517")  # V6.2.5: any composition, digits only too
        assert not refused("alllowercasewords")
        assert refused("qwerty123456")  # V6.2.4: among the common leaked passwords
        assert refused("sana.khan2026")  # V6.2.11: the member's own name
