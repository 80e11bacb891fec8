"""`make serve`: the portal served as production serves it (issue 13, item 3).

`manage.py run_portal --server gunicorn` is what `make serve` runs after migrate and collectstatic:
gunicorn with cert_portal/gunicorn_conf.py serving cert_portal.wsgi with DEBUG off, whitenoise's
static files, and `manage.py qcluster` as a separate process, supervised together. These tests
start the real processes with `make serve`'s environment on a database of their own (not the
test database): PostgreSQL when the suite runs on PostgreSQL (a database created and dropped
here), otherwise an SQLite file, since what is tested (the processes, the static files, the
signals) is the same on both and the suite must run where no PostgreSQL is.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from bench.load_test import STATIC_CACHE, collect_static
from bench.report_submissions import postgres_admin
from tests.test_run_portal import (
    PROJECT_DIR,
    children_of,
    command_line,
    descendants_of,
    free_port,
    is_running,
)

START_TIMEOUT = 90
STOP_TIMEOUT = 60


def fetch(url: str):
    """(status, headers, body) of a GET, errors included; None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.fixture(scope="module")
def serve_env(tmp_path_factory):
    """The environment `make serve` gives run_portal, on a migrated database of this module's."""
    workdir = tmp_path_factory.mktemp("serve")
    suite_database = os.environ.get("DATABASE_URL", "")
    if suite_database.startswith(("postgres://", "postgresql://")):
        parts = urllib.parse.urlsplit(suite_database)
        name = f"cert_portal_serve_{secrets.token_hex(4)}"
        database_url = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
        postgres_admin(database_url, f'CREATE DATABASE "{name}"')
    else:
        name, database_url = None, f"sqlite:///{workdir}/db.sqlite3"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONUNBUFFERED": "1",
        "CERT_PORTAL_ENV_FILE": os.devnull,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ATTACHMENT_ENCRYPTION_KEYS": "BrZR1lfjpG-1yQflLY1XJvcMV0wDp9xuXWpjyQNdvlA=",
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "0", "SECURE_HSTS_SECONDS": "0",
        "MEDIA_ROOT": str(workdir / "media"),
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "WEB_CONCURRENCY": "2",
        # Replaced by each server's own address (Served); migrate needs one with DEBUG off.
        "PORTAL_BASE_URL": "http://127.0.0.1",
    }
    env["STATIC_ROOT"] = str(collect_static(env, out=lambda line: None))
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env,
                             cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stderr
    yield env
    if name:
        postgres_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Served:
    """`manage.py run_portal --server gunicorn` started on a free port, its output in a file."""

    def __init__(self, env, log_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_portal", "--server", "gunicorn",
             "--addr", f"127.0.0.1:{self.port}"],
            env={**env, "PORTAL_BASE_URL": self.base}, cwd=PROJECT_DIR, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.started: list[int] = []

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while (answer := fetch(self.base + "/")) is None or answer[0] != 200:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.3)
        self.started = descendants_of(self.process.pid)

    def children(self) -> dict[str, int]:
        """The supervised children by what they run: "worker" (qcluster), "web" (gunicorn)."""
        found = {}
        for pid in children_of(self.process.pid):
            line = command_line(pid)
            if "manage.py qcluster" in line:
                found["worker"] = pid
            elif "gunicorn" in line:
                found["web"] = pid
        return found

    def all_stopped(self) -> bool:
        deadline = time.monotonic() + 10
        while any(is_running(pid) for pid in self.started) and time.monotonic() < deadline:
            time.sleep(0.1)
        return not any(is_running(pid) for pid in self.started)

    def cleanup(self) -> None:
        # Only what this test started, and only while it is still that process.
        for pid in [self.process.pid, *self.started]:
            if is_running(pid) and ("manage.py" in command_line(pid)
                                    or "gunicorn" in command_line(pid)):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def served(serve_env, tmp_path):
    portal = Served(serve_env, tmp_path / "serve.log")
    try:
        portal.wait_until_up()
        yield portal
    finally:
        portal.cleanup()


def test_serve_answers_through_gunicorn_with_debug_off_and_whitenoise(served):
    status, headers, body = fetch(served.base + "/")
    assert status == 200
    assert headers["Server"].startswith("gunicorn")

    # DEBUG off: an unknown address gets the portal's 404 page, not Django's technical one.
    status, _, body = fetch(served.base + "/no-such-page-h4/")
    assert status == 404
    assert b"Using the URLconf" not in body and b"DEBUG = True" not in body

    # A static file under its hashed name from the manifest, served by whitenoise with the
    # far-future caching it gives only to files whose name carries their hash.
    manifest = json.loads((STATIC_CACHE / "staticfiles.json").read_text())["paths"]
    css = next(name for name in manifest if name.endswith(".css") and name.startswith("css/"))
    status, headers, body = fetch(f"{served.base}/static/{manifest[css]}")
    assert status == 200
    assert "immutable" in headers["Cache-Control"]
    assert body == (PROJECT_DIR / "static" / css).read_bytes()

    # gunicorn's access log goes to standard output.
    assert re.search(r'"GET /no-such-page-h4/ HTTP/1\.[01]" 404', served.output())


def test_serve_runs_a_separate_worker_and_ctrl_c_stops_everything(served):
    children = served.children()
    assert set(children) == {"worker", "web"}, served.output()
    assert is_running(children["worker"])
    web_workers = children_of(children["web"])
    assert len(web_workers) == 2, served.output()  # WEB_CONCURRENCY
    assert len(children_of(children["worker"])) >= 1  # qcluster's sentinel, workers, monitor

    served.process.send_signal(signal.SIGINT)

    assert served.process.wait(timeout=STOP_TIMEOUT) == 0, served.output()
    assert served.all_stopped(), [command_line(pid) for pid in served.started]
    assert fetch(served.base + "/") is None
    assert "Stopped the web server and the worker." in served.output()


def test_a_killed_worker_stops_the_web_server_and_fails(served):
    worker = served.children()["worker"]

    os.kill(worker, signal.SIGKILL)

    assert served.process.wait(timeout=STOP_TIMEOUT) != 0, served.output()
    assert "The worker stopped" in served.output()
    assert served.all_stopped(), [command_line(pid) for pid in served.started]
    assert fetch(served.base + "/") is None
