"""Browser tests of the staff dashboard (issue 9, "What it must show"): Debian's headless Chromium
driven by Playwright for Python against pytest-django's live server, with axe-core for the
accessibility checks.

Nothing here downloads a browser: Playwright is pointed at /usr/bin/chromium (`apt-get install
chromium`; .ci/run installs it), and axe-core comes from the npm registry into
tests/browser/node_modules (`npm ci --prefix tests/browser`; `make test` runs it). Without either,
the tests skip and say what to install; with CERT_PORTAL_REQUIRE_BROWSER=1 (set by .ci/run) a
missing requirement fails them instead, so that CI can never pass by skipping them.

Every test here is marked `browser`: `make test PYTEST_ARGS="-m 'not browser'"` leaves them out.
The live server makes each test transactional: the database is flushed when it ends, and the
fixtures load the national structure again (tests/structure.py).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

# Playwright's sync API runs an asyncio event loop in the test's thread, and Django refuses
# database calls from a thread with a running loop unless told that this is intended. It is read
# when a query runs, so setting it here, before any test touches the database, is enough.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402

from tests.incidents.conftest import certs, member  # noqa: E402,F401  (the personas)

HERE = Path(__file__).resolve().parent
CHROMIUM = Path(os.environ.get("CERT_PORTAL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The password tests.factories.UserFactory gives every user.
PASSWORD = "correct horse battery staple"
# How long a locator waits before it fails: pages answer in milliseconds on the live server, so a
# missing element fails the test quickly instead of after Playwright's default 30 s.
TIMEOUT_MS = 8_000


def _missing_browser() -> str:
    """Why the browser tests cannot run here, or "" when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing: pip install -e '.[dev]' (make test does)."
    if not os.access(CHROMIUM, os.X_OK):
        return (f"No Chromium at {CHROMIUM}: apt-get install chromium (bash .ci/run does). "
                "Playwright's own browser downloads are never used.")
    return ""


def _missing_axe() -> str:
    if not AXE.is_file():
        return (f"axe-core is missing ({AXE.relative_to(settings.BASE_DIR)}): "
                "npm ci --prefix tests/browser (make test does when npm is installed).")
    return ""


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CERT_PORTAL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CERT_PORTAL_REQUIRE_BROWSER=1: the browser tests must run here)",
                    pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    """Mark every test of this folder `browser`, and skip them all at once when there is no
    browser, before the live server starts and flushes the database for nothing."""
    missing = _missing_browser()
    required = os.environ.get("CERT_PORTAL_REQUIRE_BROWSER") == "1"
    for item in items:
        if HERE not in Path(item.path).parents:
            continue
        item.add_marker(pytest.mark.browser)
        if missing and not required:
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so that `page` knows at teardown whether it failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (each test gets a context of its own)."""
    missing = _missing_browser()
    if missing:
        _skip_or_fail(missing)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def national(transactional_db):
    """The national structure, loaded again after the previous browser test's flush."""
    from tests.structure import ensure_national_structure

    ensure_national_structure()


@pytest.fixture
def new_page(browser, live_server, national, request):
    """new_page(viewport=DESKTOP) -> a page in a fresh browser context (no cookies) on the live
    server, with relative URLs. A test that fails leaves a screenshot of every page it opened in
    var/screenshots/failed/; a JavaScript error on any page fails the test, and so does anything
    the Content-Security-Policy refused or a Permissions-Policy header Chromium could not read
    (both are reported on the console, issue 13)."""
    contexts = []
    errors: list[str] = []

    def make(viewport: dict | None = None):
        context = browser.new_context(base_url=live_server.url, viewport=viewport or DESKTOP,
                                      locale="en-GB", timezone_id="Asia/Karachi")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
                if _is_policy_complaint(message) else None)
        return page

    yield make
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    if failed:
        folder = SCREENSHOTS / "failed"
        folder.mkdir(parents=True, exist_ok=True)
        for number, context in enumerate(contexts):
            for index, page in enumerate(context.pages):
                page.screenshot(path=folder / f"{request.node.name}-{number}-{index}.png", full_page=True)
    for context in contexts:
        context.close()
    assert not errors, "JavaScript errors on the pages:\n" + "\n".join(errors)


def _is_policy_complaint(message) -> bool:
    """Whether a console message is Chromium refusing something under the Content-Security-Policy
    ("... violates the following Content Security Policy directive ...") or complaining about the
    Permissions-Policy header ("Error with Permissions-Policy header: Unrecognized feature")."""
    text = message.text
    # Chromium reports a violation as an error, a header it cannot read as a warning.
    return ((message.type == "error" and "Content Security Policy" in text)
            or (message.type in ("error", "warning") and "Permissions-Policy" in text))


@pytest.fixture
def page(new_page):
    """A desktop-sized page in a fresh browser context on the live server."""
    return new_page()


# --- Signing in with both factors ----------------------------------------------------------------


def totp_device(user):
    """The user's confirmed TOTP device, made with a random key when they have none."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return (TOTPDevice.objects.filter(user=user, confirmed=True).first()
            or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True))


def totp_code(key: bytes) -> str:
    """The code an authenticator app given `key` (30-second steps, 6 digits) shows now."""
    from django_otp.oath import TOTP

    totp = TOTP(key)
    totp.time = time.time()
    return f"{totp.token():06d}"


def base32_key(secret: str) -> bytes:
    """The key behind a secret as an authenticator app is given it (base32, maybe spaced)."""
    import base64

    cleaned = re.sub(r"[\s-]", "", secret).upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def button_or_link(scope, name):
    """The control called `name` in `scope` (a page or a locator), whether the page made it a
    button (a form) or a link (a page of its own): a person does not mind which."""
    return scope.get_by_role("button", name=name).or_(scope.get_by_role("link", name=name))


def fill_password_step(page, username: str, password: str = PASSWORD, *, open_page: bool = True) -> None:
    """/login/'s first step: the user name and the password (on the page open now, if not
    `open_page`)."""
    if open_page:
        page.goto("/login/")
    page.get_by_label(re.compile(r"^user ?name", re.I)).fill(username)
    page.get_by_label(re.compile(r"^password", re.I)).fill(password)
    page.get_by_role("button", name=re.compile("sign in|log in|continue|next", re.I)).click()


def fill_code_step(page, code: str) -> None:
    """The second step (or the enrolment's last): the six-digit code of the authenticator app."""
    page.get_by_label(re.compile(r"6-digit code", re.I)).fill(code)
    page.get_by_role("button", name=re.compile("verify|sign in|confirm|continue", re.I)).click()


def sign_in(page, user, *, password: str = PASSWORD) -> None:
    """Sign `user` in through /login/ as a person does: password, then the current code of their
    authenticator (a TOTP device is made for them if they have none). Ends on the page the sign-in
    lands on (the queue)."""
    from tests.twofactor import next_totp_code

    device = totp_device(user)
    fill_password_step(page, user.get_username(), password)
    fill_code_step(page, next_totp_code(device))
    page.wait_for_url(re.compile(r"/dashboard/"))


@pytest.fixture
def signed_in_page(new_page, live_server):
    """signed_in_page(user, viewport=DESKTOP) -> a fresh page whose browser holds a session that
    passed both factors, as /login/ leaves it (tests/twofactor.py), on no page yet. For the tests
    that are not about signing in: it saves the four page loads of the sign-in."""
    from django.test import Client

    from tests.twofactor import sign_in as sign_in_client

    def make(user, viewport: dict | None = None):
        page = new_page(viewport)
        client = sign_in_client(Client(), user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session,
                                   "url": live_server.url}])
        return page

    return make


# --- Accessibility and screenshots ---------------------------------------------------------------


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.x A and AA violations on the page as it is now."""
    # Evaluated through the DevTools protocol, not added as an inline <script>, which the
    # Content-Security-Policy refuses (script-src 'self').
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS)
    return result["violations"]


def open_disclosures(page) -> None:
    """Open every <details> on the page, so that axe-core also checks the forms folded inside
    (escalate, filters, ...): it skips what is hidden."""
    page.locator("details").evaluate_all("elements => elements.forEach(e => { e.open = true; })")


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} "
                     f"[{violation['helpUrl']}]")
        for node in violation["nodes"][:10]:
            target = " ".join(map(str, node["target"]))
            summary = str(node.get("failureSummary", "")).replace("\n", " ")
            lines.append(f"    {target}: {summary:.300}")
    return "\n".join(lines)


@pytest.fixture
def assert_accessible():
    """assert_accessible(page, what) -> fails with each axe-core violation (id, help, target
    nodes) of WCAG 2.0, 2.1 and 2.2 at levels A and AA on the page."""
    missing = _missing_axe()
    if missing:
        _skip_or_fail(missing)

    def check(page, what: str) -> None:
        violations = axe_violations(page)
        assert not violations, (f"axe-core: {len(violations)} WCAG A/AA violation(s) on {what} "
                                f"({page.url}):\n{describe_violations(violations)}")

    return check


def screenshot(page, name: str) -> Path:
    """Write the whole page to var/screenshots/<name>.png (ignored by git) and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
