#!/usr/bin/env python3
"""Load test: the portal served as production serves it, under many concurrent clients.

Serves the portal with `manage.py run_portal --server gunicorn` (what `make serve` runs: gunicorn
with cert_portal/gunicorn_conf.py and several workers, whitenoise, and its own `qcluster`) on a
free port of 127.0.0.1, against a database of its own (PostgreSQL by default, created and dropped;
an SQLite file for the smoke test) loaded with the national structure and the demo data. Then
`--clients` threads (standard-library http.client, one connection and cookie set each) send, for
`--duration` seconds, a mix of:

- public incident submissions: GET /report/ (CSRF cookie and token, submission key), POST it with
  a unique marker in the description, then GET the receipt page and read the reference;
- public pages: the CERT directory, a CERT's profile, advisories list, detail and feed, the
  report status form;
- dashboard pages as signed-in heads and handlers with both factors (sessions made directly in
  the database, as tests/twofactor.py makes them): the queue, its "new" tab, an incident's
  workspace, the advisories;
- API reads with an API key from `manage.py create_api_key`: incident list and detail, advisories.

Reports requests served, errors by status (every 5xx, every connection error or time-out and every
status a page should not answer), p50/p95/p99 latency overall and per kind, requests per second,
and checks in the database, by the markers, that every accepted submission is there exactly once
with the reference its receipt showed and that no refused one is. Prints a table, writes JSON to
bench/results/, and exits 1 on any 5xx, any other error, or any lost or duplicated submission.

    .venv/bin/python bench/load_test.py                     # 50 clients for 60 s on PostgreSQL
    .venv/bin/python bench/load_test.py --clients 100 --duration 120 --web-workers 8

See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import http.cookies
import json
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report_submissions import (  # noqa: E402 - the project root must be importable first
    FormParser,
    free_port,
    manage,
    percentile,
    portal_env,
    postgres_admin,
    stop_server,
)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/cert_portal_load_{suffix}"
RESULTS_DIR = ROOT / "bench" / "results"
# collectstatic with the manifest and compression takes minutes on a small machine: the load test
# (and tests/test_serve.py) collect once into this folder and reuse it while it is current.
STATIC_CACHE = ROOT / "var" / "load-test-static"
REQUEST_TIMEOUT = 60  # seconds, per HTTP request
START_TIMEOUT = 90  # seconds for gunicorn and the worker to answer
# Heads and handlers of CERTs at every level of the tree (national, provincial, local,
# sectoral, CII), from load_national_structure --demo.
STAFF = ["national.head", "national.handler", "punjab.head", "punjab.handler", "lahore.handler",
         "sindh.handler", "banking.head", "banking.handler", "cii.head", "cii.handler",
         "telecom.handler", "federal.handler"]
API_CERT = "banking"
# What a client does next, with its weight: a submission is three requests.
MIX = {"submission": 2, "public": 4, "dashboard": 3, "api": 3}
WORKSPACE_LINK = re.compile(r'href="/dashboard/incidents/(?!new/)([^/"?#]+)/"')
ADVISORY_LINK = re.compile(r'href="/advisories/(?!feed/|subscription/)([^/"?#]+)/"')
RECEIPT_REFERENCE = re.compile(r"<dd><code>([^<]+)</code></dd>")

# Makes one session per member past both factors, as the sign-in page leaves it after a right
# password and a right code (tests/twofactor.py): the persistent id of a confirmed TOTP device.
SESSIONS_SCRIPT = """
import json, sys
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
cookies = {}
for user in get_user_model().objects.filter(username__in=json.load(sys.stdin)):
    device = (TOTPDevice.objects.filter(user=user, confirmed=True).first()
              or TOTPDevice.objects.create(user=user, name="load test", confirmed=True))
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    cookies[user.username] = client.cookies[settings.SESSION_COOKIE_NAME].value
print("LOAD-SESSIONS " + json.dumps({"name": settings.SESSION_COOKIE_NAME, "cookies": cookies}))
"""

# Every incident whose description holds this run's tag, by marker, with its reference.
COUNT_SCRIPT = """
import json, re, sys
from incidents.models import Incident
tag = sys.stdin.read().strip()
found = {}
for reference, description in Incident.objects.filter(description__contains=tag).values_list(
        "reference", "description"):
    for marker in set(re.findall(re.escape(tag) + r"-[0-9]+-[0-9]+", description)):
        found.setdefault(marker, []).append(reference)
print("LOAD-COUNTS " + json.dumps(found))
"""


# --- one client ---------------------------------------------------------------------------------

@dataclass
class Sample:
    kind: str
    status: int | str  # the HTTP status, or the exception's name
    latency: float  # seconds
    ok: bool


@dataclass
class Submission:
    marker: str
    outcome: str  # accepted, refused (a definite answer that is not the receipt), unknown
    status: int | str = ""
    reference: str = ""


@dataclass
class Targets:
    """What the clients request, found once the portal is up."""
    sessions: dict[str, str]  # member's username: session cookie
    session_cookie: str  # its name
    api_secret: str
    workspaces: dict[str, list[str]] = field(default_factory=dict)  # per member
    advisories: list[str] = field(default_factory=list)
    api_incidents: list[str] = field(default_factory=list)


class Browser:
    """One connection to the portal and the cookies it was given, like one browser tab."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            # A connection the server closed (gunicorn's sync workers close each one) is opened
            # again by the next request; the failure itself is the caller's figure.
            self.connection.close()
            raise
        for value in response.headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie()
            cookie.load(value)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return response.status, dict(response.headers.items()), payload

    def close(self) -> None:
        self.connection.close()


class Client(threading.Thread):
    def __init__(self, number: int, *, port: int, tag: str, targets: Targets, deadline: float,
                 seed: int):
        super().__init__(name=f"client-{number}", daemon=True)
        self.number, self.port, self.tag, self.targets = number, port, tag, targets
        self.deadline = deadline
        self.rng = random.Random(seed * 1000 + number)
        self.samples: list[Sample] = []
        self.submissions: list[Submission] = []
        self.failures: list[str] = []  # a few answers of failed requests, for the report
        self.sent = 0

    def timed(self, browser: Browser, kind: str, method: str, path: str, *, expect=(200,),
              body: bytes | None = None, headers: dict[str, str] | None = None):
        """One request, recorded with its kind; (status, headers, body) or None on an error."""
        started = time.perf_counter()
        try:
            status, answer_headers, payload = browser.request(method, path, body, headers)
        except Exception as error:  # noqa: BLE001 - every failure is a figure of the report
            self.samples.append(Sample(kind, type(error).__name__, time.perf_counter() - started,
                                       False))
            self._remember(f"{kind} {method} {path}: {type(error).__name__}: {error}")
            return None
        ok = status in expect
        self.samples.append(Sample(kind, status, time.perf_counter() - started, ok))
        if not ok:
            self._remember(f"{kind} {method} {path}: {status} "
                           f"{payload[:300].decode('utf-8', 'replace')!r}")
        return status, answer_headers, payload

    def _remember(self, line: str) -> None:
        if len(self.failures) < 5:
            self.failures.append(line)

    def run(self) -> None:
        kinds, weights = list(MIX), list(MIX.values())
        staff = self.rng.choice(sorted(self.targets.sessions))
        while time.monotonic() < self.deadline:
            kind = self.rng.choices(kinds, weights)[0]
            if kind == "submission":
                self.submit()
            elif kind == "public":
                self.public()
            elif kind == "dashboard":
                self.dashboard(staff)
                staff = self.rng.choice(sorted(self.targets.sessions))
            else:
                self.api()

    def submit(self) -> None:
        browser = Browser(self.port)  # a new reporter: cookies of their own
        try:
            answer = self.timed(browser, "report form", "GET", "/report/")
            if answer is None or answer[0] != 200:
                return
            form = FormParser()
            form.feed(answer[2].decode("utf-8", "replace"))
            token = form.hidden.get("csrfmiddlewaretoken", "")
            key = form.hidden.get("submission_key", "")
            if not token or not key:
                self._remember("report form: no CSRF token or submission key")
                return
            self.sent += 1
            marker = f"{self.tag}-{self.number}-{self.sent}"
            categories = form.radios.get("category") or ["other"]
            fields = {
                "csrfmiddlewaretoken": token, "submission_key": key,
                "category": self.rng.choice(categories),
                "title": f"Load test report {self.number}-{self.sent}",
                "description": f"Sent by the load test ({marker}). A message asked for a PIN "
                               "and linked to a fake bank login page.",
                "sector": self.rng.choice(form.options.get("sector") or [""]),
                "region": self.rng.choice(form.options.get("region") or [""]),
                "affected_organization": f"Organization {self.sent % 17}",
                "impact": "Unknown so far.",
                "indicators": f"198.51.100.{self.sent % 250}",
                "reporter_name": f"Load reporter {self.number}", "website": "",
            }
            submission = Submission(marker, "unknown")
            self.submissions.append(submission)
            answer = self.timed(browser, "report submit", "POST", "/report/", expect=(302,),
                                body=urllib.parse.urlencode(fields).encode(), headers={
                                    "Content-Type": "application/x-www-form-urlencoded",
                                    "Referer": f"http://127.0.0.1:{self.port}/report/"})
            if answer is None:
                submission.status = self.samples[-1].status
                return  # no answer: stored or not, the count below must find it at most once
            status, headers, _ = answer
            submission.status = status
            location = urllib.parse.urlsplit(headers.get("Location", "")).path
            if status != 302 or location != "/report/received/":
                submission.outcome = "refused"
                return
            submission.outcome = "accepted"
            answer = self.timed(browser, "receipt", "GET", location)
            if answer is not None and answer[0] == 200:
                found = RECEIPT_REFERENCE.search(answer[2].decode("utf-8", "replace"))
                submission.reference = found.group(1) if found else ""
                if not found:
                    self._remember("receipt: no reference on the page")
        finally:
            browser.close()

    def public(self) -> None:
        paths = ["/", "/certs/national/", "/certs/banking/", "/advisories/",
                 "/advisories/feed/rss/", "/report/status/"]
        paths += [f"/advisories/{reference}/" for reference in self.targets.advisories[:5]]
        browser = Browser(self.port)
        try:
            self.timed(browser, "public page", "GET", self.rng.choice(paths))
        finally:
            browser.close()

    def dashboard(self, username: str) -> None:
        paths = ["/dashboard/", "/dashboard/?tab=new", "/dashboard/advisories/"]
        paths += [f"/dashboard/incidents/{reference}/"
                  for reference in self.targets.workspaces.get(username, [])[:3]]
        browser = Browser(self.port)
        browser.cookies[self.targets.session_cookie] = self.targets.sessions[username]
        try:
            self.timed(browser, "dashboard", "GET", self.rng.choice(paths))
        finally:
            browser.close()

    def api(self) -> None:
        paths = ["/api/v1/incidents/", "/api/v1/advisories/"]
        paths += [f"/api/v1/incidents/{reference}/" for reference in self.targets.api_incidents[:5]]
        browser = Browser(self.port)
        try:
            self.timed(browser, "api", "GET", self.rng.choice(paths),
                       headers={"Authorization": f"Bearer {self.targets.api_secret}",
                                "Accept": "application/json"})
        finally:
            browser.close()


# --- the portal ---------------------------------------------------------------------------------

def collect_static(env: dict[str, str], out=print) -> Path:
    """STATIC_CACHE filled by collectstatic (the manifest whitenoise serves from with DEBUG off),
    again only when a file of static/ or the installed packages is newer than its manifest."""
    manifest = STATIC_CACHE / "staticfiles.json"
    sources = [path for path in (ROOT / "static").rglob("*") if path.is_file()]
    sources += list((ROOT / ".venv").glob(".installed-*"))
    newest = max((path.stat().st_mtime for path in sources), default=0.0)
    if not manifest.is_file() or manifest.stat().st_mtime < newest:
        out(f"Collecting the static files into {STATIC_CACHE} (once; reused while current).")
        manage({**env, "STATIC_ROOT": str(STATIC_CACHE)}, "collectstatic", "--noinput",
               "--clear", timeout=1800)
    return STATIC_CACHE


def prepare(env: dict[str, str], out) -> Targets:
    """Migrate and load the national structure and demo data; make sessions and an API key."""
    started = time.monotonic()
    env["STATIC_ROOT"] = str(collect_static(env, out))
    for args in (("migrate", "--noinput"), ("load_national_structure", "--demo"), ("load_routing_rules",),
                 ("load_demo_incidents",), ("load_demo_advisories",)):
        manage(env, *args, timeout=900)
    output = manage(env, "create_api_key", "--cert", API_CERT, "--scope", "read",
                    "--name", "Load test")
    secret = re.search(r"secret:\s+(\S+)", output).group(1)
    output = manage(env, "shell", "-c", SESSIONS_SCRIPT, stdin=json.dumps(STAFF))
    line = next(line for line in output.splitlines() if line.startswith("LOAD-SESSIONS "))
    made = json.loads(line.removeprefix("LOAD-SESSIONS "))
    sessions = made["cookies"]
    missing = sorted(set(STAFF) - set(sessions))
    if missing:
        raise SystemExit(f"No such demo users: {', '.join(missing)}")
    out(f"Database ready in {time.monotonic() - started:.0f} s: national structure, demo data, "
        f"{len(sessions)} signed-in members, an API key of {API_CERT}.")
    return Targets(sessions=sessions, session_cookie=made["name"], api_secret=secret)


def discover(port: int, targets: Targets) -> None:
    """Find incident and advisory addresses to request, as a member or the public would: from
    the queue, the advisories page and the API list. Each answer must be 200, which proves the
    sessions and the key before the clients start."""
    browser = Browser(port)
    try:
        for username, cookie in targets.sessions.items():
            browser.cookies = {targets.session_cookie: cookie}
            status, _, body = browser.request("GET", "/dashboard/?tab=all")
            if status != 200:
                raise SystemExit(f"/dashboard/ as {username} answered {status}, not 200: the "
                                 "session made for the load test is not accepted.")
            targets.workspaces[username] = list(dict.fromkeys(
                WORKSPACE_LINK.findall(body.decode("utf-8", "replace"))))
        browser.cookies = {}
        status, _, body = browser.request("GET", "/advisories/")
        targets.advisories = list(dict.fromkeys(ADVISORY_LINK.findall(body.decode())))
        status, _, body = browser.request(
            "GET", "/api/v1/incidents/", headers={"Authorization": f"Bearer {targets.api_secret}"})
        if status != 200:
            raise SystemExit(f"/api/v1/incidents/ answered {status} to the load test's key.")
        listing = json.loads(body)
        rows = listing.get("results", listing) if isinstance(listing, dict) else listing
        targets.api_incidents = [row["reference"] for row in rows if "reference" in row]
    finally:
        browser.close()


def wait_until_up(port: int, portal: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if portal.poll() is not None:
            raise SystemExit(f"The portal stopped at start-up ({portal.returncode}):\n"
                             f"{log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"The portal did not answer within {START_TIMEOUT} s:\n"
                     f"{log.read_text()[-3000:]}")


def count_submissions(env: dict[str, str], tag: str) -> dict[str, list[str]]:
    output = manage(env, "shell", "-c", COUNT_SCRIPT, stdin=tag, timeout=300)
    line = next(line for line in output.splitlines() if line.startswith("LOAD-COUNTS "))
    return json.loads(line.removeprefix("LOAD-COUNTS "))


# --- the report ---------------------------------------------------------------------------------

def latency_row(samples: list[Sample]) -> dict:
    values = [sample.latency * 1000 for sample in samples]
    return {"requests": len(values),
            "p50_ms": round(percentile(values, 0.50), 1) if values else None,
            "p95_ms": round(percentile(values, 0.95), 1) if values else None,
            "p99_ms": round(percentile(values, 0.99), 1) if values else None,
            "max_ms": round(max(values), 1) if values else None}


def check_submissions(submissions: list[Submission], found: dict[str, list[str]]) -> dict:
    """Compare what the clients were told with what the database holds, marker by marker."""
    accepted = [s for s in submissions if s.outcome == "accepted"]
    refused = [s for s in submissions if s.outcome == "refused"]
    unknown = [s for s in submissions if s.outcome == "unknown"]
    lost = [s.marker for s in accepted if len(found.get(s.marker, [])) == 0]
    duplicated = [s.marker for s in submissions if len(found.get(s.marker, [])) > 1]
    wrong_reference = [s.marker for s in accepted
                       if len(found.get(s.marker, [])) == 1 and s.reference
                       and found[s.marker][0] != s.reference]
    no_receipt = [s.marker for s in accepted if not s.reference]
    refused_stored = [s.marker for s in refused if found.get(s.marker)]
    sent = {s.marker for s in submissions}
    unexpected = sorted(set(found) - sent)
    return {
        "sent": len(submissions), "accepted": len(accepted), "refused": len(refused),
        "refused_by_status": dict(Counter(str(s.status) for s in refused)),
        "no_answer": len(unknown),
        "no_answer_stored": sum(1 for s in unknown if found.get(s.marker)),
        "incidents_found": sum(len(refs) for refs in found.values()),
        "lost": lost, "duplicated": duplicated, "wrong_reference": wrong_reference,
        "receipt_without_reference": no_receipt, "refused_but_stored": refused_stored,
        "unexpected_markers": unexpected,
    }


def print_table(result: dict, out) -> None:
    out("")
    out(f"{'kind':<15} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8}")
    for kind, row in [*result["per_kind"].items(), ("all", result["overall"])]:
        out(f"{kind:<15} {row['requests']:>8} {row.get('errors', 0):>6} {row['p50_ms']!s:>8} "
            f"{row['p95_ms']!s:>8} {row['p99_ms']!s:>8} {row['max_ms']!s:>8}")
    out("")
    overall = result["overall"]
    out(f"Requests served: {overall['requests']} in {result['elapsed_s']} s "
        f"({result['requests_per_s']}/s) by {result['clients']} clients; "
        f"5xx: {result['server_errors']}; by status: {result['by_status']}")
    checks = result["submissions"]
    out(f"Submissions: {checks['sent']} sent, {checks['accepted']} accepted, "
        f"{checks['refused']} refused {checks['refused_by_status']}, {checks['no_answer']} "
        f"without an answer ({checks['no_answer_stored']} of them stored); in the database: "
        f"{checks['incidents_found']} incidents with a marker; lost {len(checks['lost'])}, "
        f"duplicated {len(checks['duplicated'])}, wrong reference "
        f"{len(checks['wrong_reference'])}, refused but stored "
        f"{len(checks['refused_but_stored'])}.")
    if result["failures"]:
        out("First failures:")
        for line in result["failures"][:10]:
            out(f"  {line}")
    out(f"Verdict: {'PASS' if result['passed'] else 'FAIL'}"
        + ("" if result["passed"] else f" ({'; '.join(result['reasons'])})"))


def default_web_workers() -> int:
    return min(2 * (os.cpu_count() or 1) + 1, 12)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="Concurrent clients (50).")
    parser.add_argument("--duration", type=float, default=60.0,
                        help="Seconds the clients send requests (60).")
    parser.add_argument("--web-workers", type=int, default=default_web_workers(),
                        help="gunicorn workers (WEB_CONCURRENCY; default 2 x CPUs + 1, at most 12).")
    parser.add_argument("--database-url", default="",
                        help="postgres://.../NAME (created, then dropped; it must not exist) or "
                             "sqlite:///PATH; default a PostgreSQL database "
                             + DEFAULT_DATABASE.format(suffix="<random>") + ".")
    parser.add_argument("--json", default="", help="Where to write the JSON result (default "
                        "bench/results/load-<UTC time>.json).")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", action="store_true",
                        help="Keep the database and the temporary folder (server log) afterwards.")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.duration <= 0 or args.web_workers < 1:
        parser.error("--clients, --duration and --web-workers must be positive.")

    def out(line: str) -> None:
        print(line, flush=True)

    database_url = args.database_url or DEFAULT_DATABASE.format(suffix=secrets.token_hex(4))
    is_postgres = database_url.startswith(("postgres://", "postgresql://"))
    database_name = urllib.parse.urlsplit(database_url).path.lstrip("/")
    workdir = Path(tempfile.mkdtemp(prefix="cert-load-"))
    env = portal_env(database_url, workdir)
    port = free_port()
    env.update({
        "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
        # Plain HTTP on loopback, as `make serve`; production keeps these at their defaults.
        "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0",
        "ATTACHMENT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        # Every client comes from 127.0.0.1: the per-client limits would stop the run, not the
        # portal. The load test measures the portal without them.
        "FOLLOW_UP_RATE_LIMIT": "0", "ADVISORY_SUBSCRIBE_RATE_LIMIT": "0", "API_RATE_LIMIT": "0",
        "WEB_CONCURRENCY": str(args.web_workers),
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    })
    tag = f"LOADRUN{secrets.token_hex(4)}"
    log_path = workdir / "portal.log"
    portal = None
    created = False
    try:
        if is_postgres:
            postgres_admin(database_url, f'CREATE DATABASE "{database_name}"')
            created = True
            out(f"Created the PostgreSQL database {database_name}.")
        targets = prepare(env, out)
        with log_path.open("w") as log:
            portal = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "run_portal", "--server", "gunicorn",
                 "--addr", f"127.0.0.1:{port}"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_up(port, portal, log_path)
        discover(port, targets)
        out(f"gunicorn ({args.web_workers} workers) and qcluster on 127.0.0.1:{port}; "
            f"{args.clients} clients for {args.duration:g} s.")

        started = time.monotonic()
        deadline = started + args.duration
        clients = [Client(n, port=port, tag=tag, targets=targets, deadline=deadline,
                          seed=args.seed) for n in range(args.clients)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(args.duration + REQUEST_TIMEOUT * 3 + 30)
        elapsed = time.monotonic() - started
        hung = [client.name for client in clients if client.is_alive()]
        worker_alive = portal.poll() is None

        samples = [sample for client in clients for sample in client.samples]
        submissions = [s for client in clients for s in client.submissions]
        found = count_submissions(env, tag)
    finally:
        if portal is not None:
            stop_server(portal)
        if created and not args.keep:
            postgres_admin(database_url, f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
            out(f"Dropped the database {database_name}.")

    server_log = log_path.read_text(errors="replace")
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    per_kind = {kind: {**latency_row(rows), "errors": sum(1 for s in rows if not s.ok)}
                for kind, rows in sorted(by_kind.items())}
    by_status = dict(sorted(Counter(str(s.status) for s in samples).items()))
    server_errors = sum(1 for s in samples if isinstance(s.status, int) and s.status >= 500)
    errors = sum(1 for s in samples if not s.ok)
    checks = check_submissions(submissions, found)
    reasons = []
    if server_errors:
        reasons.append(f"{server_errors} answers 5xx")
    if errors - server_errors:
        reasons.append(f"{errors - server_errors} other errors (connection, time-out or "
                       "unexpected status)")
    for name in ("lost", "duplicated", "wrong_reference", "refused_but_stored",
                 "receipt_without_reference", "unexpected_markers"):
        if checks[name]:
            reasons.append(f"{len(checks[name])} submissions {name.replace('_', ' ')}")
    if hung:
        reasons.append(f"{len(hung)} clients still waiting at the end")
    if not worker_alive:
        reasons.append("the portal (gunicorn or qcluster) stopped during the run")
    if "WORKER TIMEOUT" in server_log or "Traceback" in server_log:
        reasons.append("the server log shows a worker time-out or a traceback")
    if not checks["accepted"]:
        reasons.append("no submission was accepted")
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "clients": args.clients, "duration_s": args.duration, "web_workers": args.web_workers,
        "database": "postgresql" if is_postgres else "sqlite",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "mix": MIX, "elapsed_s": round(elapsed, 1),
        "requests_per_s": round(len(samples) / elapsed, 1),
        "overall": latency_row(samples), "per_kind": per_kind, "by_status": by_status,
        "server_errors": server_errors, "errors": errors, "submissions": checks,
        "failures": [line for client in clients for line in client.failures][:20],
        "passed": not reasons, "reasons": reasons,
    }
    result["overall"]["errors"] = errors
    print_table(result, out)
    target = Path(args.json) if args.json else (
        RESULTS_DIR / f"load-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=2) + "\n")
    out(f"JSON: {target}")
    if args.keep:
        out(f"Kept {workdir} (server log: {log_path}).")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
