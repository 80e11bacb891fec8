import os
import signal
import subprocess  # nosec B404 # runs our own manage.py and gunicorn, fixed argument lists
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

# gunicorn's settings (workers, timeouts, logs, trusted proxy): see that file.
GUNICORN_CONFIG = Path(__file__).resolve().parents[2] / "gunicorn_conf.py"


def base_url_for(addr: str) -> str:
    """The address to put in e-mail links for a portal served on `addr` (runserver's syntax:
    "port", "host:port" or "[v6]:port"). A wildcard host is served on every interface; the
    local one is the one address sure to reach it."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        host, port = "", addr
    if host in ("", "0", "0.0.0.0", "[::]"):  # nosec B104 # recognises the all-interfaces address the operator typed, binds nothing
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def child_environment(addr: str) -> dict[str, str]:
    """The environment of the two children: ours, plus PORTAL_BASE_URL for the address we serve
    on unless the environment (or .env, read by the settings already) sets it. Both children
    need it: the web server writes no e-mail, the worker does."""
    env = dict(os.environ)
    if not env.get("PORTAL_BASE_URL"):
        env["PORTAL_BASE_URL"] = base_url_for(addr)
    return env


def _default_sigint():
    # A child inherits an ignored SIGINT (e.g. when make was started in the background); give it
    # back the default so that the stop signal we forward takes effect.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def web_server_command(server: str, addr: str, manage: list[str]) -> list[str]:
    """The web server's command line: Django's development server, or gunicorn serving
    cert_portal.wsgi with cert_portal/gunicorn_conf.py as production does (`make serve`)."""
    if server == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG),
                "--bind", addr, "cert_portal.wsgi:application"]
    return [*manage, "runserver", addr, "--noreload"]


class Command(BaseCommand):
    help = ("Serve the portal and run its background worker (django-q2) together; Ctrl-C stops "
            "both, and if either stops the other is stopped and the command fails. With "
            "--server gunicorn it serves as production does (`make serve`); production itself "
            "runs gunicorn and `manage.py qcluster` under its service manager.")

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000",
                            help="Address and port to serve on (default 127.0.0.1:8000).")
        parser.add_argument("--server", choices=("runserver", "gunicorn"), default="runserver",
                            help="runserver (default; `make run`) or gunicorn (`make serve`).")

    def handle(self, *args, addr: str, server: str = "runserver", **options):
        manage = [sys.executable, os.path.abspath(sys.argv[0])]
        if not manage[1].endswith("manage.py"):
            manage = [sys.executable, "-m", "django"]
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        # Each child leads its own process group, so that stopping it also reaches the worker
        # processes that qcluster forks.
        env = child_environment(addr)
        children = [
            ("worker", subprocess.Popen([*manage, "qcluster"], preexec_fn=_default_sigint,  # nosec B603 # argv list of our own manage.py, no shell, no user input
                                        start_new_session=True, env=env)),
            ("web server", subprocess.Popen(web_server_command(server, addr, manage),  # nosec B603 # argv list built from our settings and the operator's --addr, no shell
                                            preexec_fn=_default_sigint, start_new_session=True,
                                            env=env)),
        ]
        self.stdout.write(f"Portal on http://{addr}/ ({server}) with its background worker. "
                          "Press Ctrl-C to stop both.")
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    self._stop_all(children)
                    raise CommandError(f"The {name} stopped (exit status {child.returncode}); "
                                       "stopped the rest too.")
            time.sleep(0.5)
        self._stop_all(children)
        self.stdout.write("Stopped the web server and the worker.")

    def _stop_all(self, children) -> None:
        """SIGINT to each child's group, then SIGTERM, then SIGKILL, waiting a little between."""
        for sig, grace in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            running = [child for _, child in children if child.poll() is None]
            if not running:
                break
            for child in running:
                try:
                    os.killpg(child.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            for child in running:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for _, child in children:
            # The group may still hold grandchildren whose leader has exited.
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
