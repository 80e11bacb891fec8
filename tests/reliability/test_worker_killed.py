"""A real django-q2 worker killed in the middle of an escalation, or of its e-mail, and restarted:
exactly one escalation and exactly one e-mail in the end (issue 13, item 4).

The worker is `manage.py qcluster` in a process group of its own, with the settings of
tests/faults (which stop it the first time it reaches the chosen point) and a database it shares
with nothing else: a migrated SQLite file, or on PostgreSQL runs a database of its own
(cert_portal_faults_*), copied from one migrated template per module. Small Q_TIMEOUT and Q_RETRY
make django-q2 deliver the killed task again within seconds. The test reads the worker's database
through a management command (tests/faults/management/commands/faults_state.py), so the pytest
database is never involved.

What the tests do not cover, because the code does not promise it: a worker killed after the mail
server accepted a message and before the outbox row was marked sent sends that message again
after restart (incidents/notifications.py marks a row sent after `send_mail` returns). The window
is the time between the relay's answer and one UPDATE.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
# The task is stopped within a second of starting, well inside Q_TIMEOUT; a claim is taken over
# after OUTBOX_STALE_CLAIM_SECONDS, which must be above Q_TIMEOUT; Q_RETRY (at least twice
# Q_TIMEOUT) is how long after its start django-q2 delivers the killed task again.
WORKER_ENV = {"Q_TIMEOUT": "4", "Q_RETRY": "12", "Q_WORKERS": "1",
              "OUTBOX_STALE_CLAIM_SECONDS": "5"}
STARTUP_SECONDS = 60
REDELIVERY_SECONDS = 12 + 60


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _postgres(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(statement)


def _env(database_url: str, faults_dir: Path, pause: str = "") -> dict[str, str]:
    return {**os.environ, **WORKER_ENV, "DJANGO_SETTINGS_MODULE": "tests.faults.settings",
            "DATABASE_URL": database_url, "FAULTS_DIR": str(faults_dir), "FAULTS_PAUSE": pause,
            "PYTHONUNBUFFERED": "1"}


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A migrated database to copy for each test: (how to make a copy, cleanup)."""
    folder = tmp_path_factory.mktemp("faults-template")
    server = _postgres_url()
    if server:
        template = f"cert_portal_faults_{uuid.uuid4().hex[:8]}_template"
        _postgres(server, f'CREATE DATABASE "{template}"')
        _manage(_env(_with_database(server, template), folder), "migrate", "-v0")
        created = []

        def copy(name: str) -> str:
            database = f"cert_portal_faults_{uuid.uuid4().hex[:8]}_{name}"
            _postgres(server, f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
            created.append(database)
            return _with_database(server, database)

        yield copy
        for database in [*created, template]:
            _postgres(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    else:
        template = folder / "template.sqlite3"
        _manage(_env(f"sqlite:///{template}", folder), "migrate", "-v0")

        def copy(name: str) -> str:
            # The migrating process has exited, so its WAL is checkpointed into the file.
            database = folder / f"{name}.sqlite3"
            shutil.copyfile(template, database)
            return f"sqlite:///{database}"

        yield copy


class Worker:
    """`manage.py qcluster` in a process group of its own, so that SIGKILL reaches the cluster's
    sentinel, pusher, monitor and worker processes at once, as a machine losing power would."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"], cwd=BASE_DIR, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self.process = None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


class Scenario:
    def __init__(self, database_url: str, folder: Path, pause: str):
        self.folder = folder
        self.env = _env(database_url, folder, pause)
        self.pause = pause
        self.worker = Worker(self.env, folder / "worker.log")
        self.incident_id = int(_manage(self.env, "faults_setup").split()[-1])

    def state(self) -> dict:
        return json.loads(_manage(self.env, "faults_state", str(self.incident_id)))

    def mails(self) -> list[Path]:
        outbox = self.folder / "mail"
        return sorted(outbox.glob("*.eml")) if outbox.exists() else []

    def wait_for(self, what: str, condition, seconds: float) -> None:
        """Poll `condition` until it holds; fail with what was awaited and the worker's log."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                self.worker.kill()
                pytest.fail(f"Waited {seconds} s for {what}. Worker log:\n{self.worker.log_tail()}")
            time.sleep(0.05)

    def run_until_paused(self) -> None:
        marker = self.folder / f"paused-{self.pause}"
        self.worker.start()
        self.wait_for(f"the worker to stop at {self.pause!r}", marker.exists, STARTUP_SECONDS)
        self.wait_for("the marker's pid", lambda: marker.read_text().strip() != "", 5)
        self.worker.kill()

    def restart_until_done(self) -> dict:
        """Restart the worker, wait until the notification is sent and the queue is empty (no
        schedule is left in the database, so nothing else can run), stop it, return the state."""
        self.worker.start()
        finished = {}

        def done() -> bool:
            finished.update(self.state())
            return finished["notifications_sent"] >= 1 and finished["queued_tasks"] == 0

        self.wait_for("the escalation's e-mail to be sent and the queue to drain", done,
                      REDELIVERY_SECONDS)
        self.worker.kill()
        return self.state()


@pytest.fixture
def scenario(migrated, tmp_path):
    made: list[Scenario] = []

    def make(pause: str) -> Scenario:
        made.append(Scenario(migrated(pause), tmp_path, pause))
        return made[-1]

    yield make
    for each in made:
        each.worker.kill()


def assert_escalated_once(scenario: Scenario, state: dict) -> None:
    assert state["owner"] == "government", state
    assert state["escalated_events"] == 1, state
    assert state["notifications"] == 1, state
    assert state["notifications_sent"] == 1, state
    mails = scenario.mails()
    assert len(mails) == 1, [mail.name for mail in mails]
    message = message_from_bytes(mails[0].read_bytes())
    assert message["To"] == "duty.handler@cert.example"
    subject = " ".join(str(make_header(decode_header(message["Subject"]))).split())
    assert f"{state['reference']} escalated to your cert".lower() in subject.lower(), subject


def test_worker_killed_inside_the_escalation_transaction_escalates_once(scenario):
    killed = scenario("escalation")

    killed.run_until_paused()

    # Killed after the incident's UPDATE, the ownership period, the ESCALATED event and the
    # notification were written, before the commit: none of it is in the database.
    after_kill = killed.state()
    assert after_kill["owner"] == "federal", after_kill
    assert after_kill["escalated_events"] == 0, after_kill
    assert after_kill["notifications"] == 0, after_kill
    assert after_kill["queued_tasks"] == 1, after_kill  # the SLA pass, not acknowledged
    assert killed.mails() == []

    assert_escalated_once(killed, killed.restart_until_done())


def test_worker_killed_while_sending_the_escalation_mail_sends_it_once(scenario):
    killed = scenario("email")

    killed.run_until_paused()

    # The escalation is committed; its notification is claimed by the dead worker, not sent.
    after_kill = killed.state()
    assert after_kill["owner"] == "government", after_kill
    assert after_kill["escalated_events"] == 1, after_kill
    assert after_kill["notifications"] == 1, after_kill
    assert after_kill["notifications_sent"] == 0, after_kill
    assert killed.mails() == []

    # django-q2 delivers the delivery task again after Q_RETRY; the outbox takes over the dead
    # worker's claim once it is older than OUTBOX_STALE_CLAIM_SECONDS.
    assert_escalated_once(killed, killed.restart_until_done())
