"""`manage.py run_portal` serves the portal with its background worker, and Ctrl-C stops both.

This test starts real processes on a database of its own; it does not touch the test database.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30
STOP_TIMEOUT = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                            text=True, check=False)
    return [int(line) for line in result.stdout.split()]


def descendants_of(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children_of(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def is_running(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_run_portal_serves_with_a_worker_and_stops_both_on_ctrl_c(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "CERT_PORTAL_ENV_FILE": os.devnull,
        "STATIC_ROOT": str(tmp_path / "staticfiles"),
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    migrate = subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=PROJECT_DIR,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    log = (tmp_path / "run_portal.log").open("w")
    portal = subprocess.Popen([*manage, "run_portal", "--addr", f"127.0.0.1:{port}"], env=env,
                              cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    started: list[int] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while get_status(f"http://127.0.0.1:{port}/") != 200:
            assert portal.poll() is None, (tmp_path / "run_portal.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "run_portal.log").read_text()
            time.sleep(0.2)

        children = children_of(portal.pid)
        started = descendants_of(portal.pid)
        lines = {pid: command_line(pid) for pid in children}
        assert len(children) == 2, lines
        worker = [pid for pid, line in lines.items() if "manage.py qcluster" in line]
        server = [pid for pid, line in lines.items() if "manage.py runserver" in line]
        assert len(worker) == 1 and len(server) == 1, lines
        assert is_running(worker[0])
        # The worker's own processes (sentinel, workers, monitor...): on a busy machine the web
        # server can answer before the cluster has forked them, so wait for them, bounded.
        deadline = time.monotonic() + START_TIMEOUT
        while len(started) <= 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            started = descendants_of(portal.pid)
        assert len(started) > 2, started

        portal.send_signal(signal.SIGINT)

        assert portal.wait(timeout=STOP_TIMEOUT) == 0, (tmp_path / "run_portal.log").read_text()
        deadline = time.monotonic() + 5
        while any(is_running(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in started if is_running(pid)] == []
        assert get_status(f"http://127.0.0.1:{port}/") is None
        assert "Stopped the web server and the worker." in (tmp_path / "run_portal.log").read_text()
    finally:
        # Only what this test started, and only while it is still that process.
        for pid in [portal.pid, *started]:
            if is_running(pid) and "manage.py" in command_line(pid):
                os.kill(pid, signal.SIGKILL)
        portal.wait(timeout=10)
        log.close()
