#!/usr/bin/env python3
"""Benchmark of the public report form (/report/) against a served portal.

Simulated reporters (one cookie jar each) GET /report/, read the CSRF token and the hidden
submission_key, and POST a valid report, some with a small PNG attachment; about 5% of the
reports are sent a second time with the same submission_key, which must not create a second
incident. Prints throughput and p50/p95/max POST latency, then checks in the database that the
public-form incidents created equal the accepted unique submissions and that their attachments
equal those sent (exit status 1 if not).

By default it serves its own portal (`manage.py runserver --noreload`, threaded) on a free port
of 127.0.0.1 with a fresh temporary SQLite database, or a fresh PostgreSQL database with
`--database-url postgres://...` (created, then dropped). `--url` targets a running portal
instead; rows are then counted only if `--database-url` names that portal's database.

The HTTP client is the standard library only (urllib + http.cookiejar, concurrent.futures).
Run it with the portal's interpreter: `.venv/bin/python bench/report_submissions.py`.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import html.parser
import http.cookiejar
import json
import math
import os
import platform
import random
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "manage.py"
RECEIVED_PATH = "/report/received/"
REQUEST_TIMEOUT = 60  # seconds, per HTTP request


# --- the form page ------------------------------------------------------------------------------

class FormParser(html.parser.HTMLParser):
    """Hidden inputs, radio values and select options of the report form."""

    def __init__(self):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input":
            kind, name = attrs.get("type", "text"), attrs.get("name")
            if kind == "hidden" and name:
                self.hidden[name] = attrs.get("value") or ""
            elif kind == "radio" and name:
                self.radios.setdefault(name, []).append(attrs.get("value") or "")
        elif tag == "select":
            self._select = attrs.get("name")
            self.options.setdefault(self._select, [])
        elif tag == "option" and self._select:
            self.options[self._select].append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def png_bytes(seed: int) -> bytes:
    """A valid 4x4 PNG whose colour depends on `seed`, so that every file differs."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    pixel = bytes(((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    raw = b"".join(b"\x00" + pixel * 4 for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, str, bytes]]):
    """Body and content type of a multipart/form-data request, built by hand."""
    boundary = "----bench" + secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + value.encode() + b"\r\n")
    for name, filename, content_type, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                     + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# --- one simulated reporter ---------------------------------------------------------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 302 itself is the answer we measure


@dataclass
class Outcome:
    index: int
    key: str = ""
    accepted: bool = False
    status: str = ""  # HTTP status, or the exception's name
    latency: float = 0.0  # seconds, the POST of the unique submission
    attachments: int = 0
    duplicate_statuses: list[str] = field(default_factory=list)
    duplicate_latencies: list[float] = field(default_factory=list)
    detail: str = ""


def _request(opener, url: str, data: bytes | None = None, headers=None):
    """(status, location, body) of one request; a 3xx is returned, not followed."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=REQUEST_TIMEOUT) as response:
            return response.status, response.headers.get("Location", ""), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get("Location", ""), error.read()


def _accepted(status: int, location: str) -> bool:
    return status == 302 and urllib.parse.urlsplit(location).path == RECEIVED_PATH


def submit_one(base: str, index: int, rng: random.Random, *, attach: int, email: bool,
               duplicate: str, deadline: float) -> Outcome:
    outcome = Outcome(index)
    if time.monotonic() > deadline:
        outcome.status = "not-started(timeout)"
        return outcome
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    try:
        status, _, body = _request(opener, base + "/report/")
        if status != 200:
            outcome.status = f"GET {status}"
            return outcome
        page = FormParser()
        page.feed(body.decode("utf-8", "replace"))
        outcome.key = page.hidden.get("submission_key", "")
        token = page.hidden.get("csrfmiddlewaretoken", "")
        categories = page.radios.get("category") or ["other"]
        sectors = page.options.get("sector") or [""]
        regions = page.options.get("region") or [""]
        if not outcome.key or not token:
            outcome.status = "GET: no submission_key or CSRF token in the form"
            return outcome
        fields = [
            ("csrfmiddlewaretoken", token), ("submission_key", outcome.key),
            ("category", categories[index % len(categories)]),
            ("title", f"Benchmark report {index}: suspicious message"),
            ("description", f"Report {index} sent by the benchmark. A message asked for a PIN "
                            f"and linked to http://example{index}[.]com/login. " * 3),
            ("sector", rng.choice(sectors)), ("region", rng.choice(regions)),
            ("affected_organization", f"Organization {index % 17}"),
            ("impact", "Unknown so far."), ("indicators", f"198.51.100.{index % 250}"),
            ("reporter_name", f"Reporter {index}"), ("website", ""),
        ]
        if index % 5 == 0:
            fields.append(("is_public_body", "on"))
        if index % 7 == 0:
            fields.append(("is_cii", "on"))
        if email:
            fields += [("reporter_email", f"reporter{index}@example.org"),
                       ("reporter_consents_to_contact", "on")]
        files = [("attachments", f"screenshot-{index}-{n}.png", "image/png",
                  png_bytes(index * 10 + n)) for n in range(attach)]
        body, content_type = multipart(fields, files)
        headers = {"Content-Type": content_type, "Referer": base + "/report/"}

        def post():
            started = time.perf_counter()
            try:
                status, location, answer = _request(opener, base + "/report/", body, headers)
            except Exception as error:  # noqa: BLE001 - every failure is a figure to report
                return f"{type(error).__name__}", False, time.perf_counter() - started, str(error)
            elapsed = time.perf_counter() - started
            detail = "" if status == 302 else answer[:20000].decode("utf-8", "replace")
            return str(status), _accepted(status, location), elapsed, detail

        if duplicate == "race":
            # The same form sent twice at once (a double click): exactly one incident.
            with ThreadPoolExecutor(2) as pair:
                first, second = pair.submit(post), pair.submit(post)
                results = [first.result(), second.result()]
            results.sort(key=lambda result: result[2])
            (outcome.status, outcome.accepted, outcome.latency, outcome.detail) = results[0]
            if not outcome.accepted and results[1][1]:
                results.reverse()
                (outcome.status, outcome.accepted, outcome.latency, outcome.detail) = results[0]
            outcome.duplicate_statuses.append(results[1][0] + ("" if results[1][1] else "!"))
            outcome.duplicate_latencies.append(results[1][2])
        else:
            outcome.status, outcome.accepted, outcome.latency, outcome.detail = post()
            if duplicate == "again":
                status, accepted, elapsed, _ = post()
                outcome.duplicate_statuses.append(status + ("" if accepted else "!"))
                outcome.duplicate_latencies.append(elapsed)
        if outcome.accepted:
            outcome.attachments = attach
    except Exception as error:  # noqa: BLE001
        outcome.status = f"{type(error).__name__}"
        outcome.detail = str(error)
    return outcome


# --- the portal: its environment, database and server -------------------------------------------

def portal_env(database_url: str, workdir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in {"DJANGO_SETTINGS_MODULE", "REDIS_URL"}}
    env.update({
        "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
        "REPORT_RATE_LIMIT": "0", "STATUS_RATE_LIMIT": "0", "CERT_PORTAL_ENV_FILE": "/dev/null",
        "SECURE_COOKIES": "0", "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(workdir / "media"), "STATIC_ROOT": str(workdir / "static"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, str(MANAGE), *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout, input=stdin)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                         f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base: str, server: subprocess.Popen | None, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"The server stopped at start-up (exit status {server.returncode}).")
        try:
            with urllib.request.urlopen(base + "/report/", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base}/report/ did not answer before the deadline.")


def stop_server(server: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if server.poll() is not None:
            return
        os.killpg(server.pid, sig)  # the group of the server this script started, only
        try:
            server.wait(grace)
        except subprocess.TimeoutExpired:
            continue


def postgres_admin(url: str, statement: str) -> None:
    import psycopg  # the portal's own driver; only the HTTP client is limited to the stdlib

    parts = urllib.parse.urlsplit(url)
    admin = urllib.parse.urlunsplit((parts.scheme.replace("postgres", "postgresql", 1)
                                     if parts.scheme == "postgres" else parts.scheme,
                                     parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        connection.execute(statement)


COUNT_SCRIPT = """
import json, sys
from incidents.models import Attachment, Incident, Source
keys = json.load(sys.stdin)
public = Incident.objects.filter(source=Source.PUBLIC_FORM)
ours = public.filter(submission_key__in=keys)
print("BENCH-COUNTS " + json.dumps({
    "public_incidents": public.count(),
    "public_attachments": Attachment.objects.filter(incident__source=Source.PUBLIC_FORM).count(),
    "our_incidents": ours.count(),
    "our_distinct_keys": ours.values("submission_key").distinct().count(),
    "our_attachments": Attachment.objects.filter(incident__in=ours).count(),
    "our_owner_certs": ours.values("owner_cert").distinct().count(),
    "vendor": __import__("django.db").db.connection.vendor,
}))
"""


def count_rows(env: dict[str, str], keys: list[str]) -> dict:
    output = manage(env, "shell", "-c", COUNT_SCRIPT, stdin=json.dumps(keys), timeout=120)
    line = next(line for line in output.splitlines() if line.startswith("BENCH-COUNTS "))
    return json.loads(line.removeprefix("BENCH-COUNTS "))


# --- the run ------------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def plan(reports: int, duplicate_share: float, seed: int):
    """Per report: attachments (0-2), whether it gives an e-mail, and its duplicate kind."""
    rng = random.Random(seed)
    duplicates = max(1, round(reports * duplicate_share)) if duplicate_share > 0 else 0
    chosen = set(rng.sample(range(reports), min(duplicates, reports)))
    tasks = []
    for index in range(reports):
        attach = 1 if index % 4 == 1 else 2 if index % 10 == 3 else 0
        duplicate = ("race" if index % 2 else "again") if index in chosen else ""
        tasks.append((index, attach, index % 3 == 0, duplicate))
    return tasks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=200, help="unique submissions (200)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent reporters (8)")
    parser.add_argument("--duplicates", type=float, default=0.05,
                        help="share of reports sent again with the same submission_key (0.05)")
    parser.add_argument("--url", help="a running portal on 127.0.0.1, e.g. http://127.0.0.1:8000")
    parser.add_argument("--database-url",
                        help="postgres://... : a fresh database is created from this URL's name "
                             "and dropped at the end; with --url: that portal's database, to "
                             "count rows in")
    parser.add_argument("--timeout", type=float, default=300, help="whole run, seconds (300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary files")
    args = parser.parse_args(argv)
    if not 1 <= args.reports <= 100_000 or not 1 <= args.concurrency <= 256:
        parser.error("--reports must be 1..100000 and --concurrency 1..256")
    if args.url and urllib.parse.urlsplit(args.url).hostname not in {"127.0.0.1", "localhost"}:
        parser.error("--url must be on 127.0.0.1: this benchmark sends traffic nowhere else")
    deadline = time.monotonic() + args.timeout

    workdir = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    server: subprocess.Popen | None = None
    created_database: str | None = None
    env: dict[str, str] | None = None
    log_path = workdir / "server.log"
    try:
        if args.url:
            base = args.url.rstrip("/")
            if args.database_url:
                env = portal_env(args.database_url, workdir)
            database = args.database_url or "(not counted: no --database-url)"
        else:
            if args.database_url:
                parts = urllib.parse.urlsplit(args.database_url)
                if not parts.scheme.startswith("postgres"):
                    parser.error("--database-url must be postgres://... (SQLite is the default)")
                created_database = f"{parts.path.strip('/') or 'bench'}_{secrets.token_hex(4)}"
                postgres_admin(args.database_url, f'CREATE DATABASE "{created_database}"')
                database = urllib.parse.urlunsplit(parts._replace(path="/" + created_database))
            else:
                database = f"sqlite:///{workdir / 'db.sqlite3'}"
            env = portal_env(database, workdir)
            print(f"Preparing {database} ...", flush=True)
            manage(env, "migrate", "--noinput")
            manage(env, "load_national_structure")
            manage(env, "load_routing_rules")
            # DEBUG=0 uses the manifest static storage: pages need the collected manifest.
            manage(env, "collectstatic", "--noinput")
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            with open(log_path, "wb") as log:
                server = subprocess.Popen(
                    [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
                    env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True)
        wait_until_up(base, server, deadline)
        before = count_rows(env, []) if env else None

        tasks = plan(args.reports, args.duplicates, args.seed)
        print(f"Sending {args.reports} reports with {args.concurrency} concurrent reporters to "
              f"{base} ...", flush=True)
        lock = threading.Lock()
        rngs: dict[int, random.Random] = {}

        def run(task):
            index, attach, email, duplicate = task
            with lock:
                rng = rngs.setdefault(index, random.Random(args.seed * 1_000_003 + index))
            return submit_one(base, index, rng, attach=attach, email=email,
                              duplicate=duplicate, deadline=deadline)

        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            futures = [pool.submit(run, task) for task in tasks]
            done, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
            timed_out = bool(pending)
            for future in pending:
                future.cancel()
        wall = time.perf_counter() - started
        outcomes = [future.result() for future in futures if future.done()
                    and not future.cancelled()]

        accepted = [outcome for outcome in outcomes if outcome.accepted]
        rejected = Counter(outcome.status for outcome in outcomes if not outcome.accepted)
        duplicate_statuses = Counter(status for outcome in outcomes
                                     for status in outcome.duplicate_statuses)
        latencies = [outcome.latency * 1000 for outcome in outcomes
                     if outcome.latency and outcome.status.isdigit()]
        duplicate_latencies = [value * 1000 for outcome in outcomes
                               for value in outcome.duplicate_latencies]
        sent_attachments = sum(outcome.attachments for outcome in accepted)
        locked_log = 0
        if log_path.exists():
            locked_log = log_path.read_text("utf-8", "replace").count("database is locked")
        locked_pages = sum("database is locked" in outcome.detail for outcome in outcomes)

        print()
        print(f"Measured on: {platform.node()}, nproc={os.cpu_count()}, "
              f"Python {platform.python_version()}, {platform.platform()}")
        print(f"Portal: {base} ({'runserver --noreload, threaded' if server else 'external'}), "
              f"database: {database}")
        rows = [
            ("reports planned", args.reports),
            ("concurrency", args.concurrency),
            ("accepted (302 to /report/received/)", len(accepted)),
            ("rejected", sum(rejected.values())),
            *[(f"  rejected: {status}", count) for status, count in sorted(rejected.items())],
            ("duplicates resubmitted (same key)", sum(duplicate_statuses.values())),
            *[(f"  duplicate answered {status}", count)
              for status, count in sorted(duplicate_statuses.items())],
            ("attachments sent (accepted reports)", sent_attachments),
            ("wall time, s", f"{wall:.2f}"),
            ("throughput, accepted/s", f"{len(accepted) / wall:.1f}" if wall else "-"),
            ("POST latency p50, ms", f"{percentile(latencies, 0.50):.0f}"),
            ("POST latency p95, ms", f"{percentile(latencies, 0.95):.0f}"),
            ("POST latency max, ms", f"{max(latencies):.0f}" if latencies else "-"),
            ("duplicate POST latency p50, ms", f"{percentile(duplicate_latencies, 0.5):.0f}"
             if duplicate_latencies else "-"),
            ("'database is locked' in server log", locked_log if server else "n/a"),
            ("'database is locked' in answers", locked_pages),
        ]
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            print(f"  {label:<{width}}  {value}")
        for outcome in [o for o in outcomes if not o.accepted][:3]:
            print(f"  example rejection #{outcome.index} ({outcome.status}): "
                  f"{' '.join(outcome.detail.split())[:300]}")

        failures = []
        if timed_out:
            failures.append(f"the run exceeded --timeout {args.timeout:.0f} s "
                            f"({len(pending)} reports not finished)")
        bad_duplicates = sum(count for status, count in duplicate_statuses.items()
                             if status.endswith("!"))
        if bad_duplicates:
            failures.append(f"{bad_duplicates} duplicate POSTs were not answered with the receipt "
                            "redirect")
        if env is None:
            print("\nRows not counted: give --database-url with --url to check them.")
        else:
            after = count_rows(env, [outcome.key for outcome in accepted])
            created = after["public_incidents"] - before["public_incidents"]
            attachments = after["public_attachments"] - before["public_attachments"]
            print(f"\nDatabase ({after['vendor']}): public_form incidents created {created}, "
                  f"of our accepted keys {after['our_incidents']}; attachments created "
                  f"{attachments}; routed to {after['our_owner_certs']} different CERTs")
            if created != len(accepted) or after["our_incidents"] != len(accepted):
                failures.append(f"{created} public_form incidents created "
                                f"({after['our_incidents']} with our accepted keys), but "
                                f"{len(accepted)} submissions accepted")
            if attachments != sent_attachments or after["our_attachments"] != sent_attachments:
                failures.append(f"{attachments} attachments created, {sent_attachments} sent")
        if failures:
            print("\nFAILED: " + "; ".join(failures))
            return 1
        if rejected:
            print("\nCounts match; some submissions were rejected (see above).")
        else:
            print("\nOK: every submission accepted, counts match, duplicates created nothing.")
        return 0
    finally:
        if server is not None:
            stop_server(server)
            if log_path.exists() and "database is locked" in log_path.read_text("utf-8",
                                                                                 "replace"):
                print(f"(server log kept: {log_path})")
                args.keep = True
        if created_database:
            try:
                postgres_admin(args.database_url,
                               f'DROP DATABASE IF EXISTS "{created_database}" WITH (FORCE)')
            except Exception as error:  # noqa: BLE001
                print(f"Could not drop database {created_database}: {error}", file=sys.stderr)
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"Temporary files kept in {workdir}")


if __name__ == "__main__":
    sys.exit(main())
