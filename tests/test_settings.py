"""Settings come from the environment; a bad value stops start-up with a message naming it."""

import json
import os
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured

from cert_portal.env import env_bool, env_database, env_int, load_dotenv
from tests import startup

# --- The helpers of cert_portal/env.py -------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("YES", True), (" on ", True),
    ("0", False), ("false", False), ("No", False), ("off", False), ("", False),
])
def test_env_bool_reads_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("CERT_TEST_FLAG", value)

    assert env_bool("CERT_TEST_FLAG", not expected) is expected


def test_env_bool_without_the_variable_gives_the_default(monkeypatch):
    monkeypatch.delenv("CERT_TEST_FLAG", raising=False)

    assert env_bool("CERT_TEST_FLAG", True) is True
    assert env_bool("CERT_TEST_FLAG", False) is False


def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CERT_TEST_FLAG", "maybe")

    with pytest.raises(ImproperlyConfigured, match=r"CERT_TEST_FLAG='maybe' is not a boolean"):
        env_bool("CERT_TEST_FLAG", False)


def test_env_int_reads_a_whole_number_or_the_default(monkeypatch):
    monkeypatch.setenv("CERT_TEST_NUMBER", " 42 ")
    assert env_int("CERT_TEST_NUMBER", 7) == 42

    monkeypatch.setenv("CERT_TEST_NUMBER", "")
    assert env_int("CERT_TEST_NUMBER", 7) == 7

    monkeypatch.delenv("CERT_TEST_NUMBER")
    assert env_int("CERT_TEST_NUMBER", 7) == 7


@pytest.mark.parametrize("value", ["ten", "1.5", "12abc"])
def test_env_int_refuses_what_is_not_a_whole_number(monkeypatch, value):
    monkeypatch.setenv("CERT_TEST_NUMBER", value)

    with pytest.raises(ImproperlyConfigured, match=r"CERT_TEST_NUMBER=.* is not a whole number"):
        env_int("CERT_TEST_NUMBER", 7)


def test_env_int_refuses_a_number_below_the_minimum(monkeypatch):
    monkeypatch.setenv("CERT_TEST_NUMBER", "0")

    with pytest.raises(ImproperlyConfigured, match=r"CERT_TEST_NUMBER=0 is too small.*at least 1"):
        env_int("CERT_TEST_NUMBER", 7, minimum=1)
    assert env_int("CERT_TEST_NUMBER", 7, minimum=0) == 0


def test_env_database_reads_sqlite(monkeypatch, tmp_path):
    monkeypatch.setenv("CERT_TEST_DB", f"sqlite:///{tmp_path}/portal.sqlite3")

    config = env_database("CERT_TEST_DB", "sqlite:///unused.sqlite3")

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == f"{tmp_path}/portal.sqlite3"


def test_env_database_reads_postgres(monkeypatch):
    monkeypatch.setenv("CERT_TEST_DB", "postgres://cert:secret@db.example:5433/cert_portal")

    config = env_database("CERT_TEST_DB", "sqlite:///unused.sqlite3")

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) \
        == ("cert", "secret", "db.example", 5433, "cert_portal")


def test_env_database_without_the_variable_uses_the_default(monkeypatch):
    monkeypatch.delenv("CERT_TEST_DB", raising=False)

    assert env_database("CERT_TEST_DB", "sqlite:////srv/default.sqlite3")["NAME"] \
        == "/srv/default.sqlite3"


@pytest.mark.parametrize("value, reason", [
    ("mysql://user@host/cert", "selects django.db.backends.mysql"),
    ("garbage", "is not a database URL we can use"),
    ("ftp://x", "is not a database URL we can use"),
    ("postgres://host", "names no database"),
])
def test_env_database_refuses_what_the_portal_cannot_use(monkeypatch, value, reason):
    monkeypatch.setenv("CERT_TEST_DB", value)

    with pytest.raises(ImproperlyConfigured) as error:
        env_database("CERT_TEST_DB", "sqlite:///unused.sqlite3")

    assert f"CERT_TEST_DB={value!r}" in str(error.value)
    assert reason in str(error.value)


DOTENV_KEYS = ["CERT_TEST_PLAIN", "CERT_TEST_QUOTED", "CERT_TEST_SINGLE", "CERT_TEST_SET",
               "CERT_TEST_EMPTY", "CERT_TEST_EQUALS"]


@pytest.fixture
def clean_dotenv_keys(monkeypatch):
    """Make sure the keys are unset, and unset again after the test whatever load_dotenv did."""
    for key in DOTENV_KEYS:
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)


def test_load_dotenv_reads_key_value_lines(tmp_path, monkeypatch, clean_dotenv_keys):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# a comment\n"
        "\n"
        "CERT_TEST_PLAIN=plain value\n"
        'CERT_TEST_QUOTED="quoted # value"\n'
        "  CERT_TEST_SINGLE = 'single'  \n"
        "CERT_TEST_EMPTY=\n"
        "CERT_TEST_EQUALS=a=b=c\n"
        "CERT_TEST_SET=from the file\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CERT_TEST_SET", "from the environment")

    load_dotenv(env_file)

    assert os.environ["CERT_TEST_PLAIN"] == "plain value"
    assert os.environ["CERT_TEST_QUOTED"] == "quoted # value"
    assert os.environ["CERT_TEST_SINGLE"] == "single"
    assert os.environ["CERT_TEST_EMPTY"] == ""
    assert os.environ["CERT_TEST_EQUALS"] == "a=b=c"
    assert os.environ["CERT_TEST_SET"] == "from the environment"  # never overridden


@pytest.mark.parametrize("bad_line", ["JUST_A_WORD", "NOT A KEY=1", "=value", "export X=1"])
def test_load_dotenv_refuses_a_bad_line_naming_file_and_line(tmp_path, clean_dotenv_keys,
                                                             bad_line):
    env_file = tmp_path / "portal.env"
    env_file.write_text(f"CERT_TEST_PLAIN=1\n{bad_line}\n", encoding="utf-8")

    with pytest.raises(ImproperlyConfigured) as error:
        load_dotenv(env_file)

    assert f"{env_file}, line 2" in str(error.value)
    assert repr(bad_line) in str(error.value)


def test_load_dotenv_without_the_file_does_nothing(tmp_path, clean_dotenv_keys):
    load_dotenv(tmp_path / "missing.env")

    assert "CERT_TEST_PLAIN" not in os.environ


# --- The real settings module, started the way manage.py starts it ---------------------------

def start_django(**variables: str) -> subprocess.CompletedProcess:
    """The real settings with only `variables` set; prints the background-task settings as JSON."""
    return startup.start_django("json.dumps(settings.Q_CLUSTER)", **variables)


def assert_refused(result: subprocess.CompletedProcess, *names: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    for name in names:
        assert name in last_line, result.stderr


def test_start_up_without_secret_key_and_debug_off_fails_naming_secret_key():
    assert_refused(start_django(DEBUG="0"), "SECRET_KEY is not set")


def test_start_up_with_a_short_secret_key_fails_naming_secret_key():
    assert_refused(start_django(DEBUG="0", SECRET_KEY="short"), "SECRET_KEY is too short")


def test_start_up_with_a_bad_debug_value_fails_naming_debug():
    assert_refused(start_django(DEBUG="maybe"), "DEBUG='maybe'")


def test_start_up_with_an_unusable_database_url_fails_naming_database_url():
    assert_refused(start_django(DEBUG="1", DATABASE_URL="ftp://x"), "DATABASE_URL='ftp://x'")


def test_start_up_with_a_task_timeout_too_close_to_the_retry_fails_naming_both():
    assert_refused(start_django(DEBUG="1", Q_TIMEOUT="200", Q_RETRY="300"),
                   "Q_TIMEOUT=200", "Q_RETRY=300")


def test_the_sla_pass_budget_is_a_third_of_the_task_timeout_and_must_stay_below_it():
    default = start_django_printing("SLA_PASS_TIME_BUDGET_SECONDS", DEBUG="1", Q_TIMEOUT="90",
                                    Q_RETRY="300")
    assert (default.returncode, default.stdout.strip()) == (0, "30"), default.stderr

    assert_refused(start_django(DEBUG="1", Q_TIMEOUT="60", SLA_PASS_TIME_BUDGET_SECONDS="60"),
                   "SLA_PASS_TIME_BUDGET_SECONDS=60", "Q_TIMEOUT=60")


def test_start_up_reads_a_bad_value_from_the_env_file(tmp_path):
    env_file = tmp_path / "portal.env"
    env_file.write_text("DEBUG=1\nQ_WORKERS=many\n", encoding="utf-8")

    assert_refused(start_django(CERT_PORTAL_ENV_FILE=str(env_file)), "Q_WORKERS='many'")


def test_start_up_uses_the_database_as_task_broker_by_default():
    result = start_django(DEBUG="1")

    assert result.returncode == 0, result.stderr
    q_cluster = json.loads(result.stdout.strip().splitlines()[-1])
    assert q_cluster["orm"] == "default"
    assert "redis" not in q_cluster
    assert q_cluster["timeout"] * 2 <= q_cluster["retry"]


def test_start_up_with_redis_url_uses_redis_as_task_broker():
    result = start_django(DEBUG="0", SECRET_KEY="x" * 40, REDIS_URL="redis://127.0.0.1:6399/3",
                          PORTAL_BASE_URL="https://cert.example.gov.pk")

    assert result.returncode == 0, result.stderr
    q_cluster = json.loads(result.stdout.strip().splitlines()[-1])
    assert q_cluster["redis"] == "redis://127.0.0.1:6399/3"
    assert "orm" not in q_cluster


# --- PORTAL_BASE_URL: where the links in e-mails point (issue 7, finding 8) -------------------

def start_django_printing(setting: str, **variables: str) -> subprocess.CompletedProcess:
    return startup.start_django(f"settings.{setting}", **variables)


def test_start_up_without_debug_and_without_portal_base_url_fails_naming_it():
    result = start_django(DEBUG="0", SECRET_KEY="x" * 40)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PORTAL_BASE_URL is not set" in result.stderr


def test_start_up_with_a_portal_base_url_that_is_no_web_address_fails_naming_it():
    result = start_django(DEBUG="1", PORTAL_BASE_URL="cert.example.gov.pk")

    assert result.returncode != 0
    assert "PORTAL_BASE_URL='cert.example.gov.pk'" in result.stderr


def test_portal_base_url_is_read_without_its_trailing_slash_and_defaults_only_with_debug():
    given = start_django_printing("PORTAL_BASE_URL", DEBUG="0", SECRET_KEY="x" * 40,
                                  PORTAL_BASE_URL="https://cert.example.gov.pk/")
    assert given.returncode == 0, given.stderr
    assert given.stdout.strip() == "https://cert.example.gov.pk"

    local = start_django_printing("PORTAL_BASE_URL", DEBUG="1")
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip() == "http://127.0.0.1:8000"


# --- STAFF_IDLE_MINUTES: staff are signed out after that long without a request (issue 9) ------

def test_staff_idle_minutes_defaults_to_thirty_and_refuses_less_than_one():
    default = start_django_printing("STAFF_IDLE_MINUTES", DEBUG="1")
    assert (default.returncode, default.stdout.strip()) == (0, "30"), default.stderr
    given = start_django_printing("STAFF_IDLE_MINUTES", DEBUG="1", STAFF_IDLE_MINUTES="10")
    assert given.stdout.strip() == "10", given.stderr

    assert_refused(start_django(DEBUG="1", STAFF_IDLE_MINUTES="0"), "STAFF_IDLE_MINUTES=0")
    assert_refused(start_django(DEBUG="1", STAFF_IDLE_MINUTES="half an hour"),
                   "STAFF_IDLE_MINUTES='half an hour'")
