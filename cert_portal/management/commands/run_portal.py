import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Serve the portal and run its background worker (django-q2) together; Ctrl-C stops "
            "both. Meant for a local installation: production runs a WSGI server and "
            "`manage.py qcluster` under its service manager.")

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000",
                            help="Address and port to serve on (default 127.0.0.1:8000).")

    def handle(self, *args, addr: str, **options):
        manage = [sys.executable, os.path.abspath(sys.argv[0])]
        if not manage[1].endswith("manage.py"):
            manage = [sys.executable, "-m", "django"]
        env = dict(os.environ)
        children = [
            ("worker", subprocess.Popen([*manage, "qcluster"], env=env)),
            ("web server", subprocess.Popen([*manage, "runserver", addr, "--noreload"], env=env)),
        ]
        self.stdout.write(f"Portal on http://{addr}/ with its background worker. "
                          "Press Ctrl-C to stop both.")
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, child in children:
                    if child.poll() is not None:
                        self._stop_all(children)
                        raise CommandError(f"The {name} stopped (exit status {child.returncode}); "
                                           "stopped the rest too.")
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        self._stop_all(children)
        self.stdout.write("Stopped the web server and the worker.")

    def _stop_all(self, children) -> None:
        for _, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for _, child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
