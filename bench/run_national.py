#!/usr/bin/env python3
"""The national bench: the staff dashboard, the public report and the SLA pass over a national
data set.

Runs in-process against a PostgreSQL database filled by `manage.py generate_national_dataset`:
django.test.Client signed in past both factors (force_login and a confirmed TOTP device, as
tests/twofactor.py does) for the requests, CaptureQueriesContext for the queries of each. Every
measure is warm-up requests, then N timed requests: median and p95 in ms, queries, the largest
row count a statement touched (EXPLAIN ANALYZE of each SELECT, once) and the ratio of the median
to the framework floor (bench/urls.py). Prints a table and writes JSON.

The read-only measures (lists: the queue's tabs; page: the incident workspace; search: the
queue's search) run in one transaction that is rolled back, so the sign-ins, TOTP devices and
visit records write nothing to the measured database. The others (report, move, sla-*) run on a
scratch copy (CREATE DATABASE <db>_scratch TEMPLATE <db>) that is dropped at the end.

    .venv/bin/python bench/run_national.py --database-url postgres://postgres@127.0.0.1:5432/bench_national \
        [--requests 25] [--json bench/results/x.json] [--only lists,page,...]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import html
import html.parser
import json
import math
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent

SCENARIOS = ("lists", "page", "search", "report", "move", "sla-idle", "sla-due10", "sla-backlog")
ALIASES = {"sla": ("sla-idle", "sla-due10", "sla-backlog"), "all": SCENARIOS}
READ_ONLY = ("lists", "page", "search")
ON_SCRATCH = ("report", "move", "sla-idle", "sla-due10", "sla-backlog")

QUEUE_URL = "/dashboard/"
WORKSPACE_URL = "/dashboard/incidents/{reference}/"
# A queue row's link to its workspace, /dashboard/incidents/<reference>/ (the menu's "new
# incident" page, /dashboard/incidents/new/, is no row).
WORKSPACE_LINK = re.compile(r'href="/dashboard/incidents/(?!new/)([^/"?#]+)/"')
# The queue's tabs the lists measure: "all" (everything the member may see: the grant walk), the
# active CERT's "new" and "overdue" (its own incidents: the owner index) and "oversight" (the
# grant walk narrowed to the open incidents of the CERTs below).
LIST_TABS = ("all", "new", "overdue", "oversight")
# Every tab of the queue (incidents.queue.Tab), for --tabs.
QUEUE_TABS = ("mine", "new", "overdue", "received", "oversight", "shared", "handed_over", "all")
SEARCH_TAB = "all"
CHANGED_LINK = re.compile(r'href="(\?[^"]*changed_since=[^"]*)"')
WORKSPACE_TAB = "timeline"
BUSY_TITLE = "Bench: busy incident"
PAGE_SIZES = (25, 100)
FAR_PAGE = 100
# Statements the transaction machinery sends, not the page: excluded from the query counts.
SAVEPOINT_SQL = re.compile(r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I)
COUNT_SQL = re.compile(r"\bCOUNT\s*\(", re.I)
LIMIT_SQL = re.compile(r"\bLIMIT\b", re.I)
# A sequential scan that reads this many rows is flagged in the table (small tables are scanned
# on purpose).
SEQ_SCAN_FLAG = 10_000


# --- the portal, in this process ----------------------------------------------------------------

def configure_django(database_url: str, workdir: Path) -> None:
    """Production settings with DEBUG off, on `database_url`, with what an in-process client
    needs: the bench urlconf, the test client's host, no rate limits on the public forms."""
    for name in ("REDIS_URL", "DJANGO_SETTINGS_MODULE"):
        os.environ.pop(name, None)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "cert_portal.settings",
        "CERT_PORTAL_ENV_FILE": os.devnull,  # a developer's .env must not change the figures
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PORTAL_BASE_URL": "http://bench.invalid",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": database_url,
        "SECURE_COOKIES": "0",
        "REPORT_RATE_LIMIT": "0", "STATUS_RATE_LIMIT": "0", "FOLLOW_UP_RATE_LIMIT": "0",
        "FOLLOW_UP_REPORT_RATE_LIMIT": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "MEDIA_ROOT": str(workdir / "media"), "STATIC_ROOT": str(workdir / "static"),
        # The SLA pass logs every chunk at INFO; the bench prints its own summary.
        "LOG_LEVEL": "WARNING",
    })
    (workdir / "static").mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    override_settings(
        ROOT_URLCONF="bench.urls",
        # DEBUG=0 uses the manifest storage, which needs `collectstatic`; a static URL costs the
        # same dictionary look-up either way.
        STORAGES={**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
    ).enable()


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Measure:
    name: str
    user: str
    url: str
    method: str = "GET"
    status: int | None = None
    requests: int = 0
    median_ms: float | None = None
    p95_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    queries: int | None = None
    queries_seen: list[int] = field(default_factory=list)  # per warm-up, to show variation
    rows_touched: int | None = None
    rows_touched_sql: str = ""
    unbounded_counts: list[str] = field(default_factory=list)
    seq_scans: list[dict] = field(default_factory=list)
    rows_shown: int | None = None
    floor_ms: float | None = None
    ratio: float | None = None
    # For page 100 of a list: its ratio to the floor over page 1's, i.e. page 100 against page 1
    # with each taken against the floor requests interleaved with it (so machine drift between the
    # two measures cancels out).
    vs_page_one: float | None = None
    notes: list[str] = field(default_factory=list)
    error: str = ""


def page_queries(captured) -> list[str]:
    return [query["sql"] for query in captured if not SAVEPOINT_SQL.match(query["sql"] or "")]


def unbounded_counts(statements: list[str]) -> list[str]:
    """COUNT( without a LIMIT anywhere in the statement: it reads every matching row."""
    return [sql[:300] for sql in statements if COUNT_SQL.search(sql) and not LIMIT_SQL.search(sql)]


def rows_touched(statements: list[str]) -> tuple[int | None, str, list[dict]]:
    """By EXPLAIN ANALYZE of each SELECT (run once more: the read-only measures' in their
    rolled-back transaction, the SLA pass's on the scratch copy): the most rows any plan node
    read (rows out + rows removed by its filters, times its loops), that statement, and the
    sequential scans with the rows each read."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None, "", []
    largest, largest_sql, seq_scans = 0, "", []
    for sql in statements:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        stack = [plan[0]["Plan"]]
        while stack:
            node = stack.pop()
            read = int((node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                        + node.get("Rows Removed by Index Recheck", 0))
                       * max(1, node.get("Actual Loops", 1)))
            if read > largest:
                largest, largest_sql = read, sql
            if node.get("Node Type") == "Seq Scan":
                seq_scans.append({"table": node.get("Relation Name"), "rows": read})
            stack.extend(node.get("Plans", []))
    return largest, largest_sql[:500], seq_scans


def measure(name: str, user: str, url: str, send, *, requests: int, warmup: int,
            explain: bool = True, method: str = "GET", expect=(200,),
            is_list: bool = False, floor=None) -> Measure:
    """Warm-up calls of `send()` (each with its queries captured), then `requests` timed calls
    without capture (capturing formats every statement: it would be part of the time).

    With `floor` (a callable: the user's floor request), a timed floor request follows each timed
    call, and the ratio is taken against the median of those: both then see the same load of the
    machine, which on a shared machine drifts more than the pages differ."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    result = Measure(name=name, user=user, url=url, method=method)
    response = None
    statements: list[str] = []
    for _ in range(warmup):
        with CaptureQueriesContext(connection) as captured:
            response = send()
        statements = page_queries(captured.captured_queries)
        result.queries_seen.append(len(statements))
    result.status = response.status_code
    if response.status_code not in expect:
        location = response.get("Location", "")
        result.error = f"answered {response.status_code}" + (f" -> {location}" if location else "")
        return result
    result.queries = result.queries_seen[-1]
    if len(set(result.queries_seen)) > 1:
        result.notes.append(f"queries varied over warm-ups: {result.queries_seen}")
    result.unbounded_counts = unbounded_counts(statements)
    if explain:
        result.rows_touched, result.rows_touched_sql, result.seq_scans = rows_touched(statements)
    if is_list:
        result.rows_shown = len(shown_references(response.content))
    gc.collect()
    times, floor_times = [], []
    for _ in range(requests):
        started = time.perf_counter()
        response = send()
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != result.status:
            result.notes.append(f"a timed request answered {response.status_code}")
        if floor is not None:
            started = time.perf_counter()
            floor()
            floor_times.append((time.perf_counter() - started) * 1000)
    result.requests = len(times)
    result.median_ms = statistics.median(times)
    result.p95_ms = percentile(times, 0.95)
    result.min_ms, result.max_ms = min(times), max(times)
    if floor_times:
        result.floor_ms = statistics.median(floor_times)
        result.ratio = result.median_ms / result.floor_ms
    return result


# --- pages and links ------------------------------------------------------------------------------

class NextLink(html.parser.HTMLParser):
    """The href of the first <a rel="next">, whatever the order of its attributes."""

    def __init__(self):
        super().__init__()
        self.href: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and self.href is None and "next" in (attrs.get("rel") or "").split():
            self.href = attrs.get("href")


def next_link(url: str, content: bytes) -> str | None:
    parser = NextLink()
    parser.feed(content.decode("utf-8", "replace"))
    if parser.href is None:
        return None
    return urllib.parse.urljoin(url, html.unescape(parser.href))


def queue_url(tab: str, **params) -> str:
    return f"{QUEUE_URL}?{urllib.parse.urlencode({'tab': tab, **params})}"


def workspace_url(reference: str, tab: str = WORKSPACE_TAB) -> str:
    return (WORKSPACE_URL.format(reference=urllib.parse.quote(reference, safe=""))
            + f"?{urllib.parse.urlencode({'tab': tab})}")


def shown_references(content: bytes) -> list[str]:
    """The references of a queue page's rows, in their order: its links to their workspaces."""
    found = WORKSPACE_LINK.findall(content.decode("utf-8", "replace"))
    return list(dict.fromkeys(urllib.parse.unquote(html.unescape(ref)) for ref in found))


def ids_of(references: list[str]) -> list[int]:
    """The primary keys of these incidents, in the order of `references` (the floor takes ids)."""
    from incidents.models import Incident

    by_reference = dict(Incident.objects.filter(reference__in=references)
                        .values_list("reference", "pk"))
    return [by_reference[ref] for ref in references if ref in by_reference]


@dataclass
class Persona:
    label: str
    username: str
    cert_slug: str
    cert_id: int
    role: str
    visible: int = 0
    owned: int = 0
    page_one_refs: list[str] = field(default_factory=list)
    page_one_ids: list[int] = field(default_factory=list)
    client: object = None
    user: object = None
    floor: object = None  # the user's floor request, a callable
    floor_ms: float | None = None


def personas(org_username: str | None) -> tuple[list[Persona], list[str]]:
    """The four users of the measures; the organizational CERT's handler is the one whose CERT
    owns the most incidents (among the generator's bench-org-* CERTs when there are any)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from incidents.models import Incident
    from organizations.models import Cert, Membership, Role

    notes = []
    wanted = [("national", "national.handler"), ("provincial", "punjab.handler"),
              ("sectoral", "banking.handler")]
    if org_username:
        wanted.append(("organizational", org_username))
    else:
        org_certs = Cert.objects.filter(kind="organizational", is_active=True)
        if org_certs.filter(slug__startswith="bench-org-").exists():
            org_certs = org_certs.filter(slug__startswith="bench-org-")
        busiest = (Incident.objects.filter(owner_cert__in=org_certs)
                   .values("owner_cert").annotate(n=Count("pk")).order_by("-n", "owner_cert"))
        chosen = None
        for row in busiest[:50]:
            members = Membership.objects.filter(cert_id=row["owner_cert"]).order_by("user__username")
            member = (members.filter(role=Role.HANDLER).first()
                      or members.filter(role=Role.HEAD).first() or members.first())
            if member is not None:
                chosen = member
                break
        if chosen is None:
            notes.append("no organizational CERT with members owns incidents: no organizational "
                         "user measured")
        else:
            wanted.append(("organizational", chosen.user.username))
            if chosen.role != Role.HANDLER:
                notes.append(f"organizational user {chosen.user.username} has the role "
                             f"{chosen.role}: the busiest organizational CERT has no handler")
    users = get_user_model().objects
    found = []
    for label, username in wanted:
        user = users.filter(username=username).first()
        membership = (Membership.objects.filter(user=user, cert__is_active=True)
                      .select_related("cert").order_by("cert__path", "cert_id").first()
                      if user is not None else None)
        if membership is None:
            notes.append(f"user {username} ({label}) missing or in no active CERT: not measured")
            continue
        found.append(Persona(label=label, username=username, cert_slug=membership.cert.slug,
                             cert_id=membership.cert_id, role=membership.role, user=user))
    return found, notes


def signed_in_client(user, cert_id: int | None = None):
    """A test client signed in as `user` past both factors, as the sign-in page leaves a session
    after a right password and a right TOTP code (tests/twofactor.py): force_login, and the
    persistent id of a confirmed TOTP device of the user in the session (the device is made when
    the user has none: inside the rolled-back transaction, so it is not kept). With `cert_id`,
    the dashboard works as that CERT (the header's switch).

    Without the last_login update: inside the rolled-back transaction that write would lock the
    user's row for the whole run."""
    from django.contrib.auth import user_logged_in
    from django.contrib.auth.models import update_last_login
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cert_portal.staff import ACTIVE_CERT_SESSION_KEY

    device = (TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
              or TOTPDevice.objects.create(user=user, name="bench authenticator", confirmed=True))
    client = Client()
    user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
    try:
        client.force_login(user)
    finally:
        user_logged_in.connect(update_last_login, dispatch_uid="update_last_login")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    if cert_id is not None:
        session[ACTIVE_CERT_SESSION_KEY] = cert_id
    session.save()
    return client


def sign_in(persona: Persona, away_hours: float) -> None:
    """Sign the persona in (both factors) as a member back from `away_hours` off the dashboard:
    their last visit ended then (recorded through the service the queue calls), so the queue's
    first page starts a new visit and, like every page after it, counts and marks what changed
    since. 0: a first visit ever (the generator records none), nothing counted."""
    from django.utils import timezone

    from incidents.access import visible_incidents
    from incidents.models import Incident
    from incidents.services import record_dashboard_visit

    if away_hours > 0:
        record_dashboard_visit(user=persona.user,
                               at=timezone.now() - timedelta(hours=away_hours))
    persona.client = signed_in_client(persona.user, persona.cert_id)
    persona.visible = visible_incidents(persona.user).count()
    persona.owned = Incident.objects.filter(owner_cert_id=persona.cert_id).count()


# --- the read-only measures -----------------------------------------------------------------------

def floor_and_lists(persona: Persona, args, include_lists: bool) -> list[Measure]:
    """Page 1 of the queue's "all" tab (its rows feed the floor), the floor, and with
    `include_lists` each of `--tabs` at each size, page 1 and page 100."""
    from django.urls import reverse

    from incidents.access import visible_incidents

    client = persona.client
    out: list[Measure] = []
    first_url = queue_url("all", size=PAGE_SIZES[0])
    response = client.get(first_url)
    refs = shown_references(response.content) if response.status_code == 200 else []
    ids = ids_of(refs)
    floor_note = ""
    if response.status_code != 200 or not ids:
        location = response.get("Location", "")
        ids = list(visible_incidents(persona.user).order_by("-reported_at", "-pk")
                   .values_list("pk", flat=True)[:PAGE_SIZES[0]])
        floor_note = (f"queue page 1 answered {response.status_code}"
                      f"{' -> ' + location if location else ''} with {len(refs)} rows: floor ids "
                      "taken from visible_incidents, newest first")
    persona.page_one_refs = refs[:PAGE_SIZES[0]]
    persona.page_one_ids = ids[:PAGE_SIZES[0]]
    floor_url = f"{reverse('bench_floor')}?ids={','.join(map(str, persona.page_one_ids))}"
    persona.floor = lambda: client.get(floor_url)
    floor = measure("floor (JSON, 25 rows by pk)", persona.username, floor_url,
                    persona.floor, requests=args.requests, warmup=args.warmup,
                    explain=args.explain)
    floor.rows_shown = len(persona.page_one_ids)
    if floor_note:
        floor.notes.append(floor_note)
    persona.floor_ms = floor.floor_ms = floor.median_ms
    floor.ratio = 1.0 if floor.median_ms else None
    out.append(floor)
    if not include_lists:
        return out
    for tab in args.tabs:
        for size in PAGE_SIZES:
            url = queue_url(tab, size=size)
            first = measure(f"queue {tab} size={size} page 1", persona.username, url,
                            lambda url=url: client.get(url), requests=args.requests,
                            warmup=args.warmup, explain=args.explain, is_list=True,
                            floor=persona.floor)
            out.append(first)
            if first.error:
                continue
            far_url, pages, note = far_page(client, url)
            if pages == 1:
                first.notes.append(f"the tab has one page: no page {FAR_PAGE}")
                continue
            far = measure(f"queue {tab} size={size} page {min(pages, FAR_PAGE)}",
                          persona.username, far_url, lambda far_url=far_url: client.get(far_url),
                          requests=args.requests, warmup=args.warmup, explain=args.explain,
                          is_list=True, floor=persona.floor)
            if note:
                far.notes.append(note)
            if far.ratio and first.ratio:
                far.vs_page_one = far.ratio / first.ratio
            out.append(far)
    changed_url = changed_link(first_url, client.get(first_url).content)
    if changed_url is not None:
        # The link a returning member follows first: "N incidents changed since your last visit".
        out.append(measure("queue all, changed since last visit", persona.username, changed_url,
                           lambda: client.get(changed_url), requests=args.requests,
                           warmup=args.warmup, explain=args.explain, is_list=True,
                           floor=persona.floor))
    return out


def changed_link(url: str, content: bytes) -> str | None:
    """The queue's link to the incidents changed since the member's previous visit (shown when
    there is a previous visit and something changed)."""
    found = CHANGED_LINK.search(content.decode("utf-8", "replace"))
    return urllib.parse.urljoin(url, html.unescape(found.group(1))) if found else None


def far_page(client, url: str) -> tuple[str, int, str]:
    """The URL of page FAR_PAGE, by following the queue's rel="next" link from `url` (setup, not
    measured; the queue's pages are keyset cursors, there is no page number to jump to), the
    page number reached, and a note; the last page when the tab has fewer pages."""
    response = client.get(url)
    if response.status_code != 200:
        return url, 1, f"page 1 answered {response.status_code}: page {FAR_PAGE} not reached"
    current = url
    for page in range(2, FAR_PAGE + 1):
        following = next_link(current, response.content)
        if following is None:
            return current, page - 1, (f"the tab has only {page - 1} pages: measured the last "
                                       "one")
        current = following
        response = client.get(current)
        if response.status_code != 200:
            return current, page, f"page {page} answered {response.status_code}"
    return current, FAR_PAGE, ""


BUSY_LABEL = "workspace, busy (200 comments)"


def incident_pages(persona: Persona, args) -> list[Measure]:
    """The workspace (its timeline tab) of the busy incident this persona's CERT owns (if it owns
    one), and of an ordinary one: the first of the persona's queue page 1 ("all" tab)."""
    from incidents.models import Incident

    out = []
    busy = (Incident.objects.filter(title=BUSY_TITLE, owner_cert_id=persona.cert_id)
            .order_by("pk").values_list("reference", flat=True).first())
    ordinary = next((ref for ref in persona.page_one_refs if ref != busy), None)
    pages = [("workspace, ordinary", ordinary)]
    if busy is not None:
        pages.insert(0, (BUSY_LABEL, busy))
    for label, reference in pages:
        if reference is None:
            missing = Measure(name=label, user=persona.username, url="")
            missing.error = "no incident on the user's queue page 1"
            out.append(missing)
            continue
        url = workspace_url(reference)
        out.append(measure(label, persona.username, url,
                           lambda url=url, client=persona.client: client.get(url),
                           requests=args.requests, warmup=args.warmup, explain=args.explain,
                           floor=persona.floor))
    return out


def other_busy_pages(people: list[Persona], args) -> list[Measure]:
    """The busy incidents no persona's CERT owns (the generator gives one to some organizational
    CERT), each for a handler (else head) of its owner; an error row if there are none at all."""
    from incidents.models import Incident
    from organizations.models import Membership, Role

    busy = list(Incident.objects.filter(title=BUSY_TITLE).order_by("pk")
                .values_list("reference", "owner_cert_id", "owner_cert__slug"))
    if not busy:
        missing = Measure(name=BUSY_LABEL, user="", url="")
        missing.error = f"no '{BUSY_TITLE}' in the data set"
        return [missing]
    out = []
    for reference, cert_id, slug in busy:
        if cert_id in {persona.cert_id for persona in people}:
            continue
        members = (Membership.objects.filter(cert_id=cert_id).select_related("user")
                   .order_by("user__username"))
        member = (members.filter(role=Role.HANDLER).first() or members.filter(role=Role.HEAD)
                  .first())
        if member is None:
            continue
        client = signed_in_client(member.user, cert_id)
        url = workspace_url(reference)
        out.append(measure(f"{BUSY_LABEL}, {slug}", member.user.username, url,
                           lambda url=url, client=client: client.get(url),
                           requests=args.requests, warmup=args.warmup, explain=args.explain))
    return out


def most_frequent_value() -> tuple[str, int] | None:
    """The observable value in the most incidents, and in how many."""
    from django.db import connection
    from django.db.models import Count

    from incidents.models import Observable

    # One row per (incident, type, value) (constraint observable_once_per_incident): a count of
    # rows is a count of incidents. The planner's statistics name the likely most frequent
    # values, so that only those are counted; without statistics, everything is grouped.
    candidates = Observable.objects.all()
    with connection.cursor() as cursor:
        cursor.execute("SELECT (most_common_vals::text)::text[] FROM pg_stats "
                       "WHERE tablename = %s AND attname = 'value'", [Observable._meta.db_table])
        row = cursor.fetchone()
    if row and row[0]:
        candidates = candidates.filter(value__in=row[0][:5])
    top = (candidates.values("type", "value").annotate(n=Count("pk")).order_by("-n", "value")
           .first())
    return (top["value"], top["n"]) if top else None


def rarest_value(persona: Persona) -> tuple[str, int] | None:
    """An observable value of an incident on the persona's list page 1 (so the persona may see
    it) that occurs in as few incidents as possible, ideally one."""
    from django.db.models import Count

    from incidents.models import Observable

    candidates = list(Observable.objects.filter(incident_id__in=persona.page_one_ids)
                      .values_list("type", "value").distinct()[:200])
    if not candidates:
        return None
    counts = {(row["type"], row["value"]): row["n"] for row in
              Observable.objects.filter(value__in=[value for _, value in candidates])
              .values("type", "value").annotate(n=Count("pk"))}
    rarest = min(candidates, key=lambda pair: (counts.get(pair, 0), pair))
    return rarest[1], counts.get(rarest, 0)


def searches(searchers: list[Persona], args) -> list[Measure]:
    """The queue's "all" tab searched (?q=) for the most frequent observable value and for a
    value of one incident (each searcher's own, from its queue page 1)."""
    out = []
    frequent = most_frequent_value()
    if frequent is None:
        missing = Measure(name="search", user="", url="")
        missing.error = "no observables in the database"
        return [missing]
    for persona in searchers:
        values = [("most frequent", *frequent)]
        rare = rarest_value(persona)
        if rare is not None:
            values.append(("once" if rare[1] == 1 else "rarest on page 1", *rare))
        for label, value, occurrences in values:
            url = queue_url(SEARCH_TAB, q=value)
            result = measure(f"search {label} (in {occurrences} incidents)", persona.username,
                             url, lambda url=url, client=persona.client: client.get(url),
                             requests=args.requests, warmup=args.warmup, explain=args.explain,
                             is_list=True, floor=persona.floor)
            result.notes.append(f"q={value}")
            out.append(result)
    return out


def read_only_measures(selected: set[str], args, report: dict) -> list[Measure]:
    """lists, page and search, in one transaction rolled back at the end: the sign-ins (session
    rows, TOTP devices), the visits the queue records and the workspace's "seen" marks leave
    nothing in the measured database."""
    from django.db import transaction

    measures: list[Measure] = []
    with transaction.atomic():
        people, notes = personas(args.org_user)
        report["notes"].extend(notes)
        for persona in people:
            sign_in(persona, args.away_hours)
            print(f"  {persona.label}: {persona.username} ({persona.role} at {persona.cert_slug}),"
                  f" sees {persona.visible} incidents, its CERT owns {persona.owned}", flush=True)
        for persona in people:
            measures.extend(floor_and_lists(persona, args, include_lists="lists" in selected))
            if "page" in selected:
                measures.extend(incident_pages(persona, args))
            print(f"  {persona.username}: done", flush=True)
        if "page" in selected:
            measures.extend(other_busy_pages(people, args))
        if "search" in selected:
            searchers = [p for p in people if p.label in ("national", "organizational")]
            measures.extend(searches(searchers, args))
        report["personas"] = [{"label": persona.label, "username": persona.username,
                               "cert": persona.cert_slug, "role": persona.role,
                               "away_hours": args.away_hours,
                               "visible_incidents": persona.visible,
                               "incidents_owned_by_cert": persona.owned,
                               "floor_median_ms": persona.floor_ms} for persona in people]
        transaction.set_rollback(True)
    return measures


# --- the scratch copy ------------------------------------------------------------------------------

def admin_connection(database_url: str):
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    return psycopg.connect(urllib.parse.urlunsplit((scheme, parts.netloc, "/postgres",
                                                    parts.query, "")),
                           autocommit=True, connect_timeout=10)


def create_scratch(database_url: str, source: str, scratch: str) -> float:
    """CREATE DATABASE scratch TEMPLATE source; PostgreSQL refuses while anyone is connected to
    the template, so Django's connections close first and anyone else's are named."""
    from django.db import connections

    connections.close_all()
    started = time.perf_counter()
    with admin_connection(database_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')  # an interrupted run's
        others = admin.execute("SELECT pid, usename, application_name, state FROM "
                               "pg_stat_activity WHERE datname = %s", [source]).fetchall()
        if others:
            raise SystemExit(f"Cannot copy {source}: other sessions are connected to it "
                             f"({others}). Close them (this runner never ends them) and run again.")
        version = admin.info.server_version
        strategy = " STRATEGY = FILE_COPY" if version >= 150000 else ""
        admin.execute(f'CREATE DATABASE "{scratch}" TEMPLATE "{source}"{strategy}')
    use_database(scratch)
    return time.perf_counter() - started


def use_database(name: str) -> None:
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def drop_scratch(database_url: str, scratch: str) -> None:
    from django.db import connections

    connections.close_all()
    with admin_connection(database_url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


# --- the public report ----------------------------------------------------------------------------

class ReportForm(html.parser.HTMLParser):
    """Radio values and select options of the report form."""

    def __init__(self):
        super().__init__()
        self.radios: dict[str, list[str]] = {}
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "radio" and attrs.get("name"):
            self.radios.setdefault(attrs["name"], []).append(attrs.get("value") or "")
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select and attrs.get("value"):
            self.options.setdefault(self._select, []).append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def report_post(args) -> list[Measure]:
    """POST /report/ as the public does (no attachment, no e-mail), a fresh submission_key each
    time; CSRF checks off (Client's default), rate limits off (settings)."""
    from django.test import Client

    from incidents.models import Incident, Source

    client = Client()
    form_page = client.get("/report/")
    if form_page.status_code != 200:
        failed = Measure(name="report POST", user="anonymous", url="/report/", method="POST")
        failed.error = f"GET /report/ answered {form_page.status_code}"
        return [failed]
    form = ReportForm()
    form.feed(form_page.content.decode())
    categories = form.radios.get("category") or ["other"]
    sectors = form.options.get("sector") or [""]
    regions = form.options.get("region") or [""]
    sent = [0]

    def send():
        index = sent[0]
        sent[0] += 1
        return client.post("/report/", {
            "submission_key": secrets.token_urlsafe(24),
            "category": categories[index % len(categories)],
            "title": f"Bench report {index}: suspicious message",
            "description": f"Report {index} from the bench. A message asked for a PIN and "
                           f"linked to http://example{index}[.]com/login.",
            "sector": sectors[index % len(sectors)], "region": regions[index % len(regions)],
            "affected_organization": f"Organization {index % 17}",
            "indicators": f"198.51.100.{index % 250}", "reporter_name": f"Reporter {index}",
            "website": "",
        })

    before = Incident.objects.filter(source=Source.PUBLIC_FORM).count()
    result = measure("report POST (public form)", "anonymous", "/report/", send,
                     requests=args.requests, warmup=args.warmup, explain=False, method="POST",
                     expect=(302,))
    created = Incident.objects.filter(source=Source.PUBLIC_FORM).count() - before
    result.notes.append(f"{created} public incidents created for {sent[0]} posts")
    if created != sent[0]:
        result.error = f"{created} incidents created for {sent[0]} accepted posts"
    return [result]


# --- the SLA pass -----------------------------------------------------------------------------------

def pass_report(result, seconds: float) -> dict:
    """What one run_sla_pass did: its totals, and its chunks when the pass reports them
    (incidents.sla returns chunk reports once the pass works in chunks)."""
    totals = result.as_dict()
    row = {"seconds": round(seconds, 3),
           "escalated": totals.get("escalated", 0),
           "alerted_at_root": totals.get("alerted_at_root", 0),
           "resolution_missed": totals.get("resolution_missed", 0)}
    more_due = getattr(result, "more_due", None)
    if more_due is not None:
        row["more_due"] = bool(more_due)
    chunks = getattr(result, "chunks", None)
    if chunks is None:
        chunks = getattr(result, "chunk_reports", None)
    if chunks is not None:
        row["chunks"] = len(chunks)
        row["max_chunk_seconds"] = 0.0
        row["steps"] = {}
        for chunk in chunks:
            step, rows, chunk_seconds = (
                (chunk["step"], chunk["rows"], chunk["seconds"]) if isinstance(chunk, dict)
                else (chunk.step, chunk.rows, chunk.seconds))
            summary = row["steps"].setdefault(step, {"chunks": 0, "rows": 0,
                                                     "max_chunk_seconds": 0.0})
            summary["chunks"] += 1
            summary["rows"] += rows
            summary["max_chunk_seconds"] = round(max(summary["max_chunk_seconds"],
                                                     chunk_seconds), 3)
            row["max_chunk_seconds"] = max(row["max_chunk_seconds"],
                                           summary["max_chunk_seconds"])
    return row


def did_something(row: dict) -> bool:
    return bool(row["escalated"] or row["alerted_at_root"] or row["resolution_missed"]
                or row.get("more_due"))


def drain(limit: int = 100_000) -> dict:
    """Run the pass until it finds nothing to do; per-pass reports and their sums."""
    from incidents.sla import run_sla_pass

    passes = []
    started = time.perf_counter()
    while len(passes) < limit:
        began = time.perf_counter()
        result = run_sla_pass()
        row = pass_report(result, time.perf_counter() - began)
        passes.append(row)
        if not did_something(row):
            break
    summary = {
        "passes": len(passes),
        "seconds": round(time.perf_counter() - started, 3),
        "escalated": sum(row["escalated"] for row in passes),
        "alerted_at_root": sum(row["alerted_at_root"] for row in passes),
        "resolution_missed": sum(row["resolution_missed"] for row in passes),
        "max_pass_seconds": max(row["seconds"] for row in passes),
        "first_pass": passes[0],
    }
    if any("chunks" in row for row in passes):
        summary["chunks"] = sum(row.get("chunks", 0) for row in passes)
        summary["max_chunk_seconds"] = max(row.get("max_chunk_seconds", 0.0) for row in passes)
        steps: dict[str, dict] = {}
        for row in passes:
            for step, each in row.get("steps", {}).items():
                total = steps.setdefault(step, {"chunks": 0, "rows": 0, "max_chunk_seconds": 0.0})
                total["chunks"] += each["chunks"]
                total["rows"] += each["rows"]
                total["max_chunk_seconds"] = max(total["max_chunk_seconds"],
                                                 each["max_chunk_seconds"])
        summary["steps"] = steps
    if len(passes) == limit:
        summary["error"] = f"still work to do after {limit} passes"
    return summary


def sla_idle(args) -> dict:
    """Drain what the data set has due (not measured), then time passes with nothing due."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.sla import run_sla_pass

    drained = drain()
    times, queries, rows = [], [], []
    for _ in range(args.idle_passes):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            result = run_sla_pass()
            times.append((time.perf_counter() - began) * 1000)
        statements = page_queries(captured.captured_queries)
        queries.append(len(statements))
        rows.append(pass_report(result, times[-1] / 1000))
    out = {"drained_first": {key: drained[key] for key in
                             ("passes", "seconds", "escalated", "alerted_at_root",
                              "resolution_missed")},
           "passes": len(times), "median_ms": round(statistics.median(times), 2),
           "max_ms": round(max(times), 2), "queries": queries}
    if args.explain:
        out["rows_touched"], out["rows_touched_sql"], out["seq_scans"] = rows_touched(statements)
    if any(did_something(row) for row in rows):
        out["error"] = f"a pass with nothing due did something: {rows}"
    return out


def open_incidents():
    from incidents.models import OPEN_STATUSES, Incident

    return Incident.objects.filter(status__in=OPEN_STATUSES)


def sla_due_share(args) -> dict:
    """Set the deadlines of a share of the open incidents (chosen by a hash of their id, so the
    same ones each run) into the past in one UPDATE, then drain."""
    from django.db.models import CharField
    from django.db.models.functions import MD5, Cast
    from django.utils import timezone

    from incidents.models import Incident

    drain()  # start from nothing due, as sla-idle does
    open_count = open_incidents().count()
    wanted = round(open_count * args.due_share)
    past = timezone.now() - timedelta(hours=1)
    chosen = (open_incidents().order_by(MD5(Cast("pk", CharField())))
              .values("pk")[:wanted])
    started = time.perf_counter()
    made_due = Incident.objects.filter(pk__in=chosen).update(
        ack_due_at=past, resolve_due_at=past, ack_alerted_for=None, resolution_missed_at=None)
    update_seconds = time.perf_counter() - started
    result = drain()
    result.update({"open_incidents": open_count, "made_due": made_due,
                   "update_seconds": round(update_seconds, 3)})
    return result


def sla_backlog(args) -> dict:
    """Make `--backlog` incidents new with a missed acknowledgement (open ones first, then closed
    ones reopened) in one UPDATE, drain them, and check that each was handled exactly once."""
    from django.db.models import BooleanField, Case, CharField, Count, F, Value, When
    from django.db.models.functions import MD5, Cast
    from django.utils import timezone

    from incidents.models import (
        OPEN_STATUSES,
        EventKind,
        Incident,
        Notification,
        OwnershipPeriod,
        Status,
        TimelineEvent,
    )
    from incidents.sla import ACK_MISSED_REASON

    drain()
    total = Incident.objects.count()
    wanted = min(args.backlog, total)
    now = timezone.now()
    chosen = (Incident.objects
              .annotate(is_open=Case(When(status__in=OPEN_STATUSES, then=Value(True)),
                                     default=Value(False), output_field=BooleanField()))
              .order_by("-is_open", MD5(Cast("pk", CharField()))).values("pk")[:wanted])
    started = time.perf_counter()
    made_due = Incident.objects.filter(pk__in=chosen).update(
        status=Status.NEW, ack_due_at=now - timedelta(hours=1), ack_alerted_for=None,
        acknowledged_at=None, resolved_at=None,
        # Resolution deadlines stay ahead: the backlog is the escalation's (the hand-over writes
        # ownership, timeline, notifications and grants for each incident).
        resolve_due_at=now + timedelta(days=30), resolution_missed_at=None)
    update_seconds = time.perf_counter() - started
    due_at_root = Incident.objects.filter(status=Status.NEW, ack_due_at__lte=now,
                                          owner_cert__parent__isnull=True).count()
    result = drain()
    result.update({"wanted": args.backlog, "made_due": made_due, "of_incidents": total,
                   "due_at_root": due_at_root, "update_seconds": round(update_seconds, 3)})
    if wanted < args.backlog:
        result["note"] = f"the data set has only {total} incidents: backlog of {wanted}"

    # Exactly once: one escalation event, one notification and one new current owner each.
    events = TimelineEvent.objects.filter(kind=EventKind.ESCALATED, reason=ACK_MISSED_REASON,
                                          at__gte=now)
    escalated_ids = events.values("incident_id")
    current = OwnershipPeriod.objects.filter(incident_id__in=escalated_ids, ended_at__isnull=True)
    notifications = Notification.objects.filter(kind=Notification.Kind.ESCALATED,
                                                created_at__gte=now)
    checks = {
        "escalation_events": events.count(),
        "incidents_escalated": events.values("incident_id").distinct().count(),
        "current_ownership_periods": current.count(),
        "incidents_with_current_period": current.values("incident_id").distinct().count(),
        "current_period_not_the_owner": current.exclude(cert_id=F("incident__owner_cert_id"))
        .count(),
        "escalation_notifications": notifications.count(),
        "incidents_notified": notifications.values("incident_id").distinct().count(),
        "duplicate_notification_keys": notifications.values("key").annotate(n=Count("pk"))
        .filter(n__gt=1).count(),
        "root_alert_events": TimelineEvent.objects.filter(kind=EventKind.ACK_MISSED,
                                                          at__gte=now).count(),
        "still_due_below_root": Incident.objects.filter(
            status=Status.NEW, ack_due_at__lte=now, owner_cert__parent__isnull=False).count(),
    }
    escalated = result["escalated"]
    failures = [name for name, value in (
        ("escalation_events", checks["escalation_events"]),
        ("incidents_escalated", checks["incidents_escalated"]),
        ("current_ownership_periods", checks["current_ownership_periods"]),
        ("incidents_with_current_period", checks["incidents_with_current_period"]),
        ("escalation_notifications", checks["escalation_notifications"]),
        ("incidents_notified", checks["incidents_notified"]),
    ) if value != escalated]
    failures += [name for name in ("current_period_not_the_owner", "duplicate_notification_keys",
                                   "still_due_below_root") if checks[name]]
    if checks["root_alert_events"] != result["alerted_at_root"]:
        failures.append("root_alert_events")
    checks["exactly_once"] = not failures
    if failures:
        result["error"] = f"exactly-once checks failed: {', '.join(failures)}"
    result["checks"] = checks
    return result


# --- moving a provincial CERT ----------------------------------------------------------------------

def move_provincial(args) -> dict:
    """Hang punjab's subtree under the national CERT (the registry rules allow a provincial CERT
    only under the government CERT, so the paths are rewritten as organizations.services.
    _move_subtree does), then time incidents.registry.resync_after_move(punjab)."""
    from django.db import transaction
    from django.db.models import CharField, F, Value
    from django.db.models.functions import Concat, Substr

    import incidents.registry
    from incidents.models import Incident, IncidentGroupObjectPermission
    from organizations.models import PATH_SEPARATOR, Cert

    punjab = Cert.objects.filter(slug=args.move_cert).first()
    national = Cert.objects.filter(parent__isnull=True).first()
    if punjab is None or national is None:
        return {"error": f"no CERT {args.move_cert!r} or no root CERT"}
    old_path, old_parent = punjab.path, punjab.parent.slug if punjab.parent_id else None
    new_path = f"{national.path}{punjab.pk}{PATH_SEPARATOR}"
    delta = (new_path.count(PATH_SEPARATOR) - 2) - punjab.depth
    with transaction.atomic():
        moved = Cert.objects.filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1),
                        output_field=CharField()),
            depth=F("depth") + delta)
        Cert.objects.filter(pk=punjab.pk).update(parent=national)
    punjab.refresh_from_db()
    subtree = Incident.objects.filter(owner_cert__path__startswith=punjab.path)
    incidents_in_subtree = subtree.count()
    grants_before = IncidentGroupObjectPermission.objects.count()

    applied = {"calls": 0, "granted": 0, "revoked": 0}
    real_sync = incidents.registry.sync_grants

    def counting_sync(ids):
        granted, revoked = real_sync(ids)
        applied["calls"] += 1
        applied["granted"] += granted
        applied["revoked"] += revoked
        return granted, revoked

    with mock.patch.object(incidents.registry, "sync_grants", counting_sync):
        started = time.perf_counter()
        incidents.registry.resync_after_move(punjab)
        seconds = time.perf_counter() - started
    grants_after = IncidentGroupObjectPermission.objects.count()
    result = {"cert": punjab.slug, "from_parent": old_parent, "to_parent": national.slug,
              "certs_moved": moved, "incidents_in_subtree": incidents_in_subtree,
              "seconds": round(seconds, 3), "grant_rows_net": grants_after - grants_before}
    if applied["calls"]:
        result.update({"sync_batches": applied["calls"], "grants_added": applied["granted"],
                       "grants_removed": applied["revoked"]})
    else:
        result["note"] = ("resync_after_move did not call incidents.registry.sync_grants: added "
                          "and removed not counted, only the net change")
    return result


# --- machine and data set ---------------------------------------------------------------------------

def machine_info() -> dict:
    from django.db import connection

    info = {"nproc": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "node": platform.node()}
    try:
        meminfo = Path("/proc/meminfo").read_text().split("\n")[0]
        info["memory"] = " ".join(meminfo.split()[1:])
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        info["postgresql"] = cursor.fetchone()[0]
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "jit"):
            cursor.execute(f"SHOW {name}")
            info[f"pg_{name}"] = cursor.fetchone()[0]
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT,
                                            capture_output=True, text=True,
                                            timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def dataset_counts() -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from incidents.models import (
        OPEN_STATUSES,
        Comment,
        Incident,
        IncidentGroupObjectPermission,
        IncidentShare,
        Observable,
        OwnershipPeriod,
        TimelineEvent,
    )
    from organizations.models import Cert, Membership

    counts = {
        "incidents": Incident.objects.count(),
        "open_incidents": Incident.objects.filter(status__in=OPEN_STATUSES).count(),
        "observables": Observable.objects.count(),
        "comments": Comment.objects.count(),
        "timeline_events": TimelineEvent.objects.count(),
        "ownership_periods": OwnershipPeriod.objects.count(),
        "shares": IncidentShare.objects.count(),
        "grants": IncidentGroupObjectPermission.objects.count(),
        "certs": Cert.objects.count(),
        "users": get_user_model().objects.count(),
        "memberships": Membership.objects.count(),
        "busy_incidents": Incident.objects.filter(title=BUSY_TITLE).count(),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), "
                       "pg_size_pretty(pg_database_size(current_database()))")
        counts["database"], counts["database_size"] = cursor.fetchone()
    return counts


# --- output --------------------------------------------------------------------------------------

def format_ms(value: float | None) -> str:
    return "-" if value is None else (f"{value:.1f}" if value < 100 else f"{value:.0f}")


def print_table(measures: list[Measure]) -> None:
    header = ("measure", "user", "status", "n", "median ms", "p95 ms", "queries", "rows touched",
              "x floor", "x page 1", "rows", "flags")
    rows = []
    for m in measures:
        flags = []
        if m.unbounded_counts:
            flags.append(f"{len(m.unbounded_counts)} unbounded COUNT")
        flags.extend(f"seq scan {scan['table']} {scan['rows']:,} rows" for scan in m.seq_scans
                     if scan["rows"] >= SEQ_SCAN_FLAG)
        if m.error:
            flags.append(m.error)
        flags.extend(m.notes)
        rows.append((m.name, m.user, str(m.status or "-"), str(m.requests or "-"),
                     format_ms(m.median_ms), format_ms(m.p95_ms),
                     "-" if m.queries is None else str(m.queries),
                     "-" if m.rows_touched is None else f"{m.rows_touched:,}",
                     "-" if m.ratio is None else f"{m.ratio:.2f}",
                     "-" if m.vs_page_one is None else f"{m.vs_page_one:.2f}",
                     "-" if m.rows_shown is None else str(m.rows_shown), "; ".join(flags)))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(line.format(*header[:-1]) + "  " + header[-1])
    print("  ".join("-" * w for w in widths) + "  -----")
    for row in rows:
        print(line.format(*row[:-1]) + "  " + row[-1])


def print_scenario(name: str, result: dict) -> None:
    print(f"\n{name}:")
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"  {key}: " + ", ".join(f"{k}={v}" for k, v in value.items()))
        else:
            text = str(value)
            print(f"  {key}: {text[:160]}{' ...' if len(text) > 160 else ''}")


# --- the run -----------------------------------------------------------------------------------

def parse_only(value: str | None) -> list[str]:
    if not value:
        return list(SCENARIOS)
    chosen: list[str] = []
    for name in (part.strip() for part in value.split(",") if part.strip()):
        expanded = ALIASES.get(name, (name,))
        for item in expanded:
            if item not in SCENARIOS:
                raise argparse.ArgumentTypeError(
                    f"unknown scenario {name!r}: choose from {', '.join(SCENARIOS)} or "
                    f"{', '.join(ALIASES)}")
            if item not in chosen:
                chosen.append(item)
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True,
                        help="postgres://user@host:port/name of a generated national data set")
    parser.add_argument("--requests", type=int, default=25, help="timed requests per measure (25)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="warm-up requests per measure, queries captured (3; at least 1)")
    parser.add_argument("--only", default="",
                        help=f"comma-separated: {', '.join(SCENARIOS)}; 'sla' = the three sla-*")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--org-user", help="the organizational CERT's user (default: a handler "
                                           "of the organizational CERT that owns most incidents)")
    parser.add_argument("--backlog", type=int, default=200_000,
                        help="sla-backlog: incidents made new and overdue (200000)")
    parser.add_argument("--due-share", type=float, default=0.10,
                        help="sla-due10: share of the open incidents made due (0.10)")
    parser.add_argument("--idle-passes", type=int, default=5,
                        help="sla-idle: timed passes with nothing due (5)")
    parser.add_argument("--tabs", default=",".join(LIST_TABS),
                        help=f"lists: the queue's tabs measured ({','.join(LIST_TABS)})")
    parser.add_argument("--away-hours", type=float, default=12.0,
                        help="the measured members' last dashboard visit ended this many hours "
                             "ago, so the queue counts what changed since (12; 0: first visit)")
    parser.add_argument("--move-cert", default="punjab",
                        help="move: the provincial CERT hung under the root (punjab)")
    parser.add_argument("--no-explain", dest="explain", action="store_false",
                        help="skip EXPLAIN ANALYZE (rows touched)")
    parser.add_argument("--keep-scratch", action="store_true",
                        help="leave the scratch copy for inspection")
    args = parser.parse_args(argv)
    try:
        selected = parse_only(args.only)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    parts = urllib.parse.urlsplit(args.database_url)
    source = parts.path.strip("/")
    if not parts.scheme.startswith("postgres") or not source:
        parser.error("--database-url must be postgres://.../<database name>")
    if not 1 <= args.requests <= 10_000 or not 1 <= args.warmup <= 100:
        parser.error("--requests must be 1..10000 and --warmup 1..100")
    if not 0 < args.due_share <= 1 or args.backlog < 1 or args.idle_passes < 1:
        parser.error("--due-share must be in (0, 1], --backlog and --idle-passes at least 1")
    args.tabs = [tab for tab in dict.fromkeys(part.strip() for part in args.tabs.split(","))
                 if tab]
    if not args.tabs or not set(args.tabs) <= set(QUEUE_TABS):
        parser.error(f"--tabs: comma-separated, of {', '.join(QUEUE_TABS)}")
    if not 0 <= args.away_hours <= 24 * 366:
        parser.error("--away-hours must be 0..8784")
    scratch = f"{source}_scratch"

    workdir = Path(tempfile.mkdtemp(prefix="bench-national-"))
    try:
        configure_django(args.database_url, workdir)
        return run(args, selected, source, scratch)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, selected: list[str], source: str, scratch: str) -> int:
    from django.db import DatabaseError

    from incidents.models import Incident

    started = time.perf_counter()
    report: dict = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "database": source, "scenarios_run": selected,
                    "requests": args.requests, "warmup": args.warmup, "notes": []}
    try:
        empty = not Incident.objects.exists()
    except DatabaseError as error:
        print(f"Cannot read incidents from {source}: {error}".strip(), file=sys.stderr)
        return 2
    if empty:
        print(f"{source} holds no incidents: fill it first with "
              "`manage.py generate_national_dataset`.", file=sys.stderr)
        return 2
    report["machine"] = machine_info()
    report["dataset"] = dataset_counts()
    print(f"Database {source}: " + ", ".join(f"{k} {v}" for k, v in report["dataset"].items()
                                            if k != "database"), flush=True)
    measures: list[Measure] = []
    scenarios: dict[str, dict] = {}
    if any(name in selected for name in READ_ONLY):
        print("Read-only measures (one transaction, rolled back):", flush=True)
        measures.extend(read_only_measures(set(selected), args, report))

    destructive = [name for name in ON_SCRATCH if name in selected]
    if destructive:
        print(f"Copying {source} to {scratch} ...", flush=True)
        try:
            report["scratch_copy_seconds"] = round(create_scratch(args.database_url, source,
                                                                  scratch), 1)
            print(f"  copied in {report['scratch_copy_seconds']} s", flush=True)
            runners = {"move": move_provincial, "sla-idle": sla_idle,
                       "sla-due10": sla_due_share, "sla-backlog": sla_backlog}
            for name in destructive:
                print(f"Scenario {name} ...", flush=True)
                if name == "report":
                    measures.extend(report_post(args))
                    continue
                scenarios[name] = runners[name](args)
                print_scenario(name, scenarios[name])
        finally:
            use_database(source)
            if args.keep_scratch:
                print(f"Scratch copy kept: {scratch}")
            else:
                drop_scratch(args.database_url, scratch)

    report["seconds"] = round(time.perf_counter() - started, 1)
    report["measures"] = [asdict(m) for m in measures]
    report["scenarios"] = scenarios
    info = report["machine"]
    print(f"\nMeasured on: nproc={info['nproc']}, Python {info['python']}, "
          f"{info['postgresql'].split(',')[0]}, {info.get('memory', '')}; "
          f"{report['dataset']['incidents']:,} incidents, {args.requests} requests after "
          f"{args.warmup} warm-up each; x floor = median / median of the user's floor requests "
          "interleaved with the measure's")
    if measures:
        print()
        print_table(measures)
    for note in report["notes"]:
        print(f"note: {note}")
    for m in measures:
        for sql in m.unbounded_counts:
            print(f"unbounded COUNT in '{m.name}' ({m.user}): {sql[:200]}")
    failed = any(m.error for m in measures) or any("error" in s for s in scenarios.values())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nJSON written to {args.json}")
    print(f"Total {report['seconds']} s" + ("; SOME MEASURES FAILED (see above)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
