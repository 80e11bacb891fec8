"""One consistent, accessible look in English and Urdu (issue 9, items 8 and 9): the dashboard's
pages right to left in Urdu, the keyboard help listing exactly the keys static/js/dashboard.js
handles, a label for every form control, and error summaries that take the focus and lead to
their fields."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from incidents.dashboard.workspace import ACTIONS
from incidents.services import incident_add_observable, incident_comment, incident_link, task_add
from tests.dashboard.test_merge import public_report
from tests.factories import make_incident

BASE_DIR = Path(settings.BASE_DIR)
SCRIPT = BASE_DIR / "static" / "js" / "dashboard.js"
WORKSPACE_TABS = ("timeline", "comments", "observables", "files", "tasks", "related", "owners")
# The menu of every dashboard page, as it reads in English.
NAVIGATION = ("Queue", "Triage", "New incident", "Registry", "Notifications", "Settings", "Sign out")


class Page(HTMLParser):
    """A rendered page as the checks below need it: every element with its attributes and
    ancestors, the ids, the labels and the text of each element that has an id."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
            "track", "wbr"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict, tuple[str, ...]]] = []
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.text_by_id: dict[str, str] = {}
        self._open: list[tuple[str, dict]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = {name: value if value is not None else "" for name, value in attrs}
        self.elements.append((tag, attributes, tuple(name for name, _ in self._open)))
        if "id" in attributes:
            self.ids.append(attributes["id"])
            self.text_by_id.setdefault(attributes["id"], "")
        if tag == "label" and attributes.get("for"):
            self.label_for.add(attributes["for"])
        if tag not in self.VOID:
            self._open.append((tag, attributes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self._open.pop()

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                break

    def handle_data(self, data):
        for _, attributes in self._open:
            if "id" in attributes:
                self.text_by_id[attributes["id"]] += data

    def controls(self):
        """The form controls a person fills in or chooses (not hidden fields or buttons)."""
        for tag, attributes, ancestors in self.elements:
            if tag in ("select", "textarea") or (tag == "input" and attributes.get("type", "text")
                                                 not in ("hidden", "submit", "button", "reset", "image")):
                yield tag, attributes, ancestors

    def unlabelled(self) -> list[str]:
        missing = []
        for tag, attributes, ancestors in self.controls():
            named_by = attributes.get("aria-labelledby", "").split()
            if (attributes.get("id") in self.label_for or "label" in ancestors
                    or attributes.get("aria-label", "").strip()
                    or (named_by and all(self.text_by_id.get(i, "").strip() for i in named_by))):
                continue
            missing.append(f"<{tag} name={attributes.get('name')!r} id={attributes.get('id')!r}>")
        return missing

    def duplicate_ids(self) -> list[str]:
        return sorted({i for i in self.ids if self.ids.count(i) > 1})

    def broken_descriptions(self) -> list[str]:
        """aria-describedby and aria-labelledby that point at no element of the page."""
        known = set(self.ids)
        return [f"<{tag} id={attributes.get('id')!r}> {name}={reference!r}"
                for tag, attributes, _ in self.elements
                for name in ("aria-describedby", "aria-labelledby")
                for reference in attributes.get(name, "").split() if reference not in known]


def shortcut_keys_of_the_script() -> set[str]:
    """The keys of the SHORTCUTS map in static/js/dashboard.js."""
    source = SCRIPT.read_text(encoding="utf-8")
    body = re.search(r"var SHORTCUTS = \{(.*?)\n\s*\};", source, re.S).group(1)
    keys = re.findall(r'^\s*"([^"]+)"\s*:\s*(\w+)', body, re.M)
    for _, handler in keys:  # every key is handled by a function of the script
        assert re.search(rf"function {handler}\(", source), handler
    return {key for key, _ in keys}


def shortcut_keys_of_the_help(html: str) -> set[str]:
    """The keys the help dialog lists: each top-level <kbd> of its list is one shortcut, and a
    <kbd> of <kbd>s is a sequence ("g q")."""
    dialog = re.search(r'<div class="help-overlay" id="shortcut-help".*?<dl class="shortcut-list">(.*?)</dl>',
                       html, re.S).group(1)
    keys, depth, current = set(), 0, []
    for tag, text in re.findall(r"(</?kbd>)|([^<]+)|<[^>]*>", dialog):
        if tag == "<kbd>":
            depth += 1
            if depth == 1:
                current = []
        elif tag == "</kbd>":
            depth -= 1
            if depth == 0:
                keys.add(" ".join("".join(current).split()))
        elif depth:
            current.append(text)
    return keys


@pytest.fixture
def world(certs, member, media):
    """Lahore's head and handler, an incident with something on every tab, a related incident and
    a public report waiting for triage."""
    head, handler = member("lahore", "head"), member("lahore", "handler")
    incident = make_incident(owner_cert=certs["lahore"], actor=handler, severity=3,
                             title="Phishing against district staff")
    other = make_incident(owner_cert=certs["lahore"], actor=handler, title="Same sender, another lure")
    incident_comment(incident=incident, actor=handler, body="Blocked the sender.")
    incident_add_observable(incident=incident, actor=handler, type="ipv4", value="203.0.113.9")
    task_add(incident=incident, actor=handler, title="Warn the district offices", assignee=handler)
    incident_link(incident=incident, actor=handler, other=other, reason="Same sender")
    report, _ = public_report(certs["lahore"], title="Ransom note on a shop computer")
    return {"head": head, "handler": handler, "incident": incident, "report": report,
            "certs": certs}


def dashboard_pages(world) -> dict[str, str]:
    reference = world["incident"].reference
    pages = {
        "queue": "/dashboard/?tab=all",
        "triage": "/dashboard/triage/",
        "triage report": f"/dashboard/triage/{world['report'].reference}/",
        "new incident": "/dashboard/incidents/new/",
        "registry": "/dashboard/registry/",
        "registry cert": "/dashboard/registry/lahore/",
        "members": "/dashboard/registry/lahore/members/",
        "health": "/dashboard/registry/health/",
        "notifications": "/dashboard/notifications/",
        "settings": "/dashboard/settings/",
        "two-factor": "/account/two-factor/",
    }
    pages.update({f"workspace {tab}": f"/dashboard/incidents/{reference}/?tab={tab}"
                  for tab in WORKSPACE_TABS})
    return pages


# --- Styles --------------------------------------------------------------------------------------

STYLES = [BASE_DIR / "static" / "css" / name for name in ("portal.css", "dashboard.css")]


def colours() -> dict[str, str]:
    """The colour variables of the portal's :root."""
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", STYLES[0].read_text(encoding="utf-8")))


def contrast(first: str, second: str) -> float:
    """WCAG 2.x contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_focus_and_text_keep_their_contrast_on_every_background():
    c = colours()
    # The focus ring is dark (--ink) on the pages' white and grey, yellow (--focus) on the header.
    for ring, background in [("ink", "paper"), ("ink", "wash"), ("focus", "brand")]:
        assert contrast(c[ring], c[background]) >= 3, (ring, background)
    styles = "".join(path.read_text(encoding="utf-8") for path in STYLES)
    assert "outline: 3px solid var(--ink)" in styles and "box-shadow: 0 0 0 2px var(--focus)" in styles
    assert ".staff-header :focus-visible { outline-color: var(--focus); }" in styles
    for text, background in [("ink", "paper"), ("muted", "paper"), ("muted", "wash"), ("link", "paper"),
                             ("danger", "paper"), ("brand-ink", "brand")]:
        assert contrast(c[text], c[background]) >= 4.5, (text, background)


def test_the_styles_are_right_to_left_ready_and_local():
    """Logical properties only (Urdu mirrors the page), and no font or script from elsewhere."""
    physical = re.compile(r"(?:margin|padding|border)-(?:left|right)\b|(?<![\w-])(?:left|right)\s*:"
                          r"|(?:text-align|float|clear)\s*:\s*(?:left|right)\b")
    for path in STYLES:
        text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
        assert physical.findall(text) == [], path.name
        assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text), path.name
    for template in ("base.html", "dashboard/base.html"):
        source = (BASE_DIR / "templates" / template).read_text(encoding="utf-8")
        assert not re.search(r"<(?:link|script)[^>]+(?:href|src)=\"(?:https?:)?//", source), template


# --- English and Urdu ----------------------------------------------------------------------------


def test_dashboard_pages_render_right_to_left_in_urdu_with_translated_navigation(world, staff_client):
    client = staff_client(world["head"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    with translation.override("ur"):
        urdu = {label: translation.gettext(label) for label in NAVIGATION}
        help_title = translation.gettext("Keyboard shortcuts")
        role = translation.gettext("Head")  # the member's role in the header
    assert all(urdu[label] != label for label in NAVIGATION), urdu

    for name, url in dashboard_pages(world).items():
        response = client.get(url)
        assert response.status_code == 200, name
        page = response.content.decode()
        assert re.search(r"<html[^>]*>", page).group(0) == '<html lang="ur" dir="rtl">', name
        header = page[page.index('<header class="staff-header">'):page.index("</header>")]
        assert f'<span class="staff-role">{role}</span>' in header, name
        for label in NAVIGATION:
            assert urdu[label] in header, (name, label)
            assert not re.search(rf">\s*{re.escape(label)}\s*[<(]", header), (name, label)
        assert f'<h2 id="shortcut-help-title">{help_title}</h2>' in page, name


def test_the_values_of_choices_are_urdu_on_urdu_pages(world, staff_client):
    """Status, severity, kind of event and role come from the models' choices: translated too."""
    client = staff_client(world["head"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    queue = client.get("/dashboard/?tab=all").content.decode()
    workspace = client.get(f"/dashboard/incidents/{world['incident'].reference}/").content.decode()
    with translation.override("ur"):
        new, high, created = (translation.gettext(text) for text in ("New", "High", "Created"))
    assert new != "New" and high != "High" and created != "Created"
    assert f">{new}<" in queue and f">{high}<" in queue
    assert ">New<" not in queue and ">High<" not in queue
    assert f">{created}<" in workspace


def test_dashboard_pages_are_left_to_right_in_english(world, staff_client):
    client = staff_client(world["head"])

    for name, url in dashboard_pages(world).items():
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert re.search(r"<html[^>]*>", page).group(0) == '<html lang="en" dir="ltr">', name
        assert ">Queue</a>" in page and 'class="language-switch"' in page, name


def test_the_sign_in_page_speaks_urdu():
    page = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="ur").content.decode()

    assert re.search(r"<html[^>]*>", page).group(0) == '<html lang="ur" dir="rtl">'
    with translation.override("ur"):
        assert translation.gettext("Staff sign-in") in page
        assert translation.gettext("User name") in page
    assert "Staff sign-in" not in page


# --- Keyboard ------------------------------------------------------------------------------------


def test_the_help_lists_every_shortcut_the_script_handles_and_no_other(world, staff_client):
    page = staff_client(world["handler"]).get("/dashboard/").content.decode()

    script_keys = shortcut_keys_of_the_script()
    assert {"j", "k", "o", "Enter", "a", "c", "/", "g q", "?"} <= script_keys
    assert shortcut_keys_of_the_help(page) == script_keys


def test_the_help_is_a_modal_dialog_opened_only_by_the_script(world, staff_client):
    page = staff_client(world["handler"]).get("/dashboard/").content.decode()

    overlay = re.search(r'<div class="help-overlay" id="shortcut-help"[^>]*>', page).group(0)
    assert " hidden" in overlay  # shown by the script only
    dialog = re.search(r'<div class="help-panel"[^>]*>', page).group(0)
    for attribute in ('role="dialog"', 'aria-modal="true"', 'aria-labelledby="shortcut-help-title"',
                      'tabindex="-1"'):
        assert attribute in dialog
    assert 'id="shortcut-help-title"' in page
    # The button that opens it is hidden until the script runs: without it no shortcut works.
    toggle = re.search(r"<li data-needs-script hidden><button [^>]*data-help-toggle[^>]*>", page)
    assert toggle and 'aria-controls="shortcut-help"' in toggle.group(0)
    # The shortcuts can be turned off (WCAG 2.1.4), with a labelled control.
    assert '<input type="checkbox" id="shortcuts-enabled" data-shortcuts-toggle checked' in page
    assert '<label for="shortcuts-enabled">' in page


def test_the_pages_carry_the_hooks_the_shortcuts_use(world, staff_client):
    """Each handler of the script finds what it acts on: a renamed hook would silently turn a
    shortcut into nothing."""
    client = staff_client(world["handler"])
    queue = client.get("/dashboard/?tab=all").content.decode()
    unassigned = make_incident(owner_cert=world["certs"]["lahore"], title="Nobody has this yet")
    workspace = client.get(f"/dashboard/incidents/{unassigned.reference}/").content.decode()
    source = SCRIPT.read_text(encoding="utf-8")

    for hook in ("data-queue-row", "data-queue-link", 'data-shortcut="/"', 'data-shortcut="g q"',
                 "data-assign-me", 'form="bulk-form"', 'id="bulk-form"'):
        assert hook in queue, hook
    for hook in ('data-workspace-key="a"', 'data-workspace-key="c"'):
        assert hook in workspace, hook
    for hook in ("[data-queue-row]", "[data-queue-link]", '[data-shortcut="/"]', '[data-shortcut="g q"]',
                 "option[data-assign-me]", '[data-workspace-key="a"]', '[data-workspace-key="c"]'):
        assert hook in source, hook


# --- Forms ---------------------------------------------------------------------------------------


def test_every_form_control_of_the_dashboard_pages_has_a_label(world, staff_client):
    client = staff_client(world["head"])
    reference = world["incident"].reference
    pages = dashboard_pages(world)
    pages.update({f"action {name}": f"/dashboard/incidents/{reference}/{name}/"
                  for name, spec in ACTIONS.items() if spec.form is not None})
    pages["queue with its saved-view form"] = "/dashboard/?tab=mine"

    checked = 0
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        page = Page(response.content.decode())
        assert page.unlabelled() == [], name
        assert page.duplicate_ids() == [], name
        assert page.broken_descriptions() == [], name
        checked += sum(1 for _ in page.controls())
    assert checked > 100  # the check saw the forms


def test_the_sign_in_page_labels_its_fields():
    page = Page(Client().get("/login/").content.decode())

    assert [attributes["name"] for _, attributes, _ in page.controls()] == ["username", "password"]
    assert page.unlabelled() == [] and page.duplicate_ids() == []


def error_pages(world, staff_client):
    """A page with form errors on each kind of dashboard form: (name, response)."""
    head, incident, certs = world["head"], world["incident"], world["certs"]
    client = staff_client(head)
    action = f"/dashboard/incidents/{incident.reference}"
    report = world["report"]
    yield "queue filters", client.get("/dashboard/", {"reported_from": "2026-13-01"})
    yield "saved view", client.post("/dashboard/views/new/", {"name": " ", "query": "tab=overdue"})
    yield "new incident", client.post("/dashboard/incidents/new/", {
        "step": "create", "owner_cert": certs["lahore"].pk, "title": "", "severity": "9",
        "tlp": "TLP:AMBER", "incident_type": "", "submission_key": "key-one-abcdefghijklmnop"})
    yield "triage reject", client.post(f"/dashboard/triage/{report.reference}/reject/",
                                       {"reject-version": report.version, "reject-reason": " "})
    yield "status", client.post(f"{action}/status/", {"version": incident.version,
                                                      "to_status": "closed"})
    yield "task", client.post(f"{action}/task-add/", {"version": incident.version, "title": ""})
    yield "escalate", client.post(f"{action}/escalate/", {"version": incident.version, "reason": ""})
    yield "members", client.post("/dashboard/registry/lahore/members/",
                                 {"action": "add", "who": "nobody@cert.example", "role": "analyst"})
    yield "settings", client.post("/dashboard/settings/", {"email_kinds": ["everything"]})
    yield "two-factor", client.post("/account/two-factor/replace/", {"code": "12"})
    yield "sign-in", Client().post("/login/", {"username": head.get_username(),
                                               "password": "not the password"})


def test_every_form_with_errors_opens_with_a_summary_that_leads_to_the_fields(world, staff_client):
    seen = []
    for name, response in error_pages(world, staff_client):
        assert response.status_code in (200, 400), name
        html = response.content.decode()
        page = Page(html)
        # One summary, at the top of the content, that takes the focus when the page loads.
        summaries = [attributes for tag, attributes, _ in page.elements
                     if "error-summary" in attributes.get("class", "").split()]
        assert len(summaries) == 1, name
        assert {"role": "alert", "tabindex": "-1", "autofocus": ""}.items() <= summaries[0].items(), name
        assert html.count(" autofocus") == 1, name
        # Its links lead to the fields; each invalid field is described by its error.
        summary = html[html.index('class="error-summary"'):]
        summary = summary[:summary.index("</div>")]
        targets = re.findall(r'href="#([^"]+)"', summary)
        assert set(targets) <= set(page.ids), name
        invalid = [attributes for _, attributes, _ in page.controls()
                   if attributes.get("aria-invalid") == "true"]
        for attributes in invalid:
            described = attributes.get("aria-describedby", "").split()
            assert any(page.text_by_id.get(i, "").strip() for i in described), (name, attributes)
        assert page.broken_descriptions() == [], name
        assert page.unlabelled() == [], name
        seen.append((name, len(targets), len(invalid)))
    assert len(seen) == 11
    assert sum(targets for _, targets, _ in seen) >= 8, seen


def test_the_checks_see_what_they_look_for():
    """The checker of the tests above flags an unlabelled control, a broken reference, a duplicate
    id, and accepts each way of labelling."""
    page = Page('<form><label for="a">A</label><input id="a" aria-describedby="a-help gone">'
                '<p id="a-help">Help</p><label>B <select name="b"></select></label>'
                '<input name="c" aria-label="C"><span id="d-name">D</span>'
                '<textarea name="d" aria-labelledby="d-name"></textarea>'
                '<input name="e" id="e"><input type="hidden" name="f"><input id="a" type="submit">'
                '<input name="g" aria-labelledby="nothing"></form>')

    assert page.unlabelled() == ["<input name='e' id='e'>", "<input name='g' id=None>"]
    assert page.broken_descriptions() == ["<input id='a'> aria-describedby='gone'",
                                          "<input id=None> aria-labelledby='nothing'"]
    assert page.duplicate_ids() == ["a"]
    assert page.text_by_id["a-help"] == "Help"


def test_the_timeline_stores_labels_in_english_whatever_the_language_of_the_page(world, staff_client):
    """Pages translate the labels of choices; what the services store stays in one language."""
    client = staff_client(world["handler"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ur"
    incident = world["incident"]
    response = client.post(f"/dashboard/incidents/{incident.reference}/severity/",
                           {"version": incident.version, "severity": 4, "reason": ""})
    assert response.status_code == 302
    event = incident.events.get(kind="severity")
    assert (event.old_value, event.new_value) == ("High", "Severe")
