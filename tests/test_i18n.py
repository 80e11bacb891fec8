"""The public pages in English and Urdu, and `compile_translations`, the pure-Python .po to .mo
compiler behind them (polib)."""

import ast
import gettext
import io
import re
import struct
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils.translation.template import templatize

from cert_portal.translations import CatalogueError, compile_all, compile_po

BASE_DIR = Path(settings.BASE_DIR)
UR_PO = BASE_DIR / "locale" / "ur" / "LC_MESSAGES" / "django.po"
# The templates of the public pages that the Urdu catalogue must cover completely.
PUBLIC_TEMPLATES = ["base.html", "_language_switch.html", "_messages.html", "404.html", "403_csrf.html",
                    "429.html", "organizations/*.html",
                    "incidents/report_form.html", "incidents/report_received.html",
                    "incidents/report_status_lookup.html", "incidents/report_status.html",
                    "incidents/report_refused.html",
                    # Advisories (issue 10): the public pages, feeds, subscription pages, e-mails.
                    "advisories/*.html", "advisories/feeds/*.html", "advisories/mail/*.txt"]
# The Python modules of the public reporting pages whose gettext strings the catalogue must cover.
PUBLIC_MODULES = ["incidents/public/forms.py", "incidents/public/reports.py",
                  "incidents/public/views.py",
                  "advisories/public/forms.py", "advisories/public/views.py", "advisories/feeds.py",
                  "advisories/subscriptions/forms.py", "advisories/subscriptions/views.py",
                  "advisories/subscriptions/services.py", "advisories/distribution.py"]
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy"}
# The staff dashboard (issue 9): its templates, and the Python modules whose messages it shows
# (views, their forms, the queue's and the workspace's reads, the sign-in, the frame, and the
# errors of the services that only the dashboard calls). The catalogue covers them completely.
DASHBOARD_TEMPLATES = ["dashboard/*.html", "dashboard/**/*.html", "accounts/*.html"]
DASHBOARD_MODULES = ["incidents/dashboard/*.py", "organizations/dashboard/*.py",
                     "advisories/dashboard/*.py", "advisories/public/feed_tokens.py",
                     "advisories/models.py",
                     "cert_portal/accounts/*.py", "cert_portal/staff.py", "cert_portal/forms.py",
                     "incidents/forms.py", "incidents/queue.py", "incidents/workspace.py",
                     "incidents/services/links.py", "incidents/services/merge.py",
                     "incidents/services/saved_views.py", "incidents/services/tasks.py",
                     "incidents/services/triage.py", "incidents/services/watching.py",
                     # The labels of the choices every page shows: status, severity, source,
                     # timeline events, notices, roles, kinds of CERT, regions.
                     "incidents/models.py", "incidents/severity.py", "organizations/models.py",
                     "organizations/rules.py"]
# Every way the dashboard's code marks a message: name -> (has a context, has a plural).
MARKERS = {"_": (False, False), "gettext": (False, False), "gettext_lazy": (False, False),
           "gettext_noop": (False, False), "N_": (False, False),
           "ngettext": (False, True), "ngettext_lazy": (False, True),
           "pgettext": (True, False), "pgettext_lazy": (True, False),
           "npgettext": (True, True), "npgettext_lazy": (True, True)}

SAMPLE_PO = r'''# A comment.
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: templates/base.html
msgid "CERT directory"
msgstr "سرٹ ڈائریکٹری"

msgctxt "noun"
msgid "Report"
msgstr "رپورٹ"

msgctxt "verb"
msgid "Report"
msgstr "رپورٹ کریں"

#, python-format
msgid "%(n)s team"
msgid_plural "%(n)s teams"
msgstr[0] "%(n)s ٹیم"
msgstr[1] "%(n)s ٹیمیں"

msgctxt "directory"
msgid "%(n)s CERT"
msgid_plural "%(n)s CERTs"
msgstr[0] "%(n)s سرٹ"
msgstr[1] "%(n)s سرٹس"

msgid "Line one\nTab\there, a \"quote\" and a back\\slash"
msgstr "پہلی سطر\nٹیب\tیہاں، ایک \"اقتباس\" اور \\"

msgid ""
"A long message "
"split over lines."
msgstr ""
"ایک طویل پیغام "
"کئی سطروں میں۔"

#, fuzzy
msgid "Guessed"
msgstr "اندازہ"

#, python-format, fuzzy
msgid "Guessed %(x)s"
msgstr "اندازہ %(x)s"

msgid "Untranslated"
msgstr ""

#~ msgid "Obsolete"
#~ msgstr "متروک"
'''


def _load(mo: bytes) -> gettext.GNUTranslations:
    """A compiled catalogue as Django reads it: with Python's gettext."""
    return gettext.GNUTranslations(io.BytesIO(mo))


def _write_po(directory: Path, text: str) -> Path:
    """Write `text` as <directory>/ur/LC_MESSAGES/django.po, where a LOCALE_PATHS entry holds it."""
    messages = directory / "ur" / "LC_MESSAGES"
    messages.mkdir(parents=True, exist_ok=True)
    po = messages / "django.po"
    po.write_text(text, encoding="utf-8")
    return po


def _compile(tmp_path: Path, text: str) -> bytes:
    return compile_po(_write_po(tmp_path, text))


def _big_endian(mo: bytes) -> bytes:
    """The same catalogue in the big-endian layout the .mo format also allows (GNU gettext writes
    it on such machines, and Python's gettext reads both): other bytes, same meaning."""
    count = struct.unpack("<I", mo[8:12])[0]
    words = 7 + 4 * count  # the header, then the tables of original and translated strings
    return struct.pack(f">{words}I", *struct.unpack(f"<{words}I", mo[:4 * words])) + mo[4 * words:]


def test_compiled_catalogue_reads_back_with_python_gettext(tmp_path):
    catalogue = _load(_compile(tmp_path, SAMPLE_PO))

    assert catalogue.gettext("CERT directory") == "سرٹ ڈائریکٹری"
    assert catalogue.pgettext("noun", "Report") == "رپورٹ"
    assert catalogue.pgettext("verb", "Report") == "رپورٹ کریں"
    assert catalogue.ngettext("%(n)s team", "%(n)s teams", 1) == "%(n)s ٹیم"
    assert catalogue.ngettext("%(n)s team", "%(n)s teams", 3) == "%(n)s ٹیمیں"
    assert catalogue.npgettext("directory", "%(n)s CERT", "%(n)s CERTs", 3) == "%(n)s سرٹس"
    assert catalogue.gettext('Line one\nTab\there, a "quote" and a back\\slash') == \
        'پہلی سطر\nٹیب\tیہاں، ایک "اقتباس" اور \\'
    assert catalogue.gettext("A long message split over lines.") == "ایک طویل پیغام کئی سطروں میں۔"
    assert catalogue.info()["plural-forms"] == "nplurals=2; plural=(n != 1);"
    assert catalogue.info()["content-type"] == "text/plain; charset=UTF-8"


def test_fuzzy_untranslated_and_obsolete_entries_are_left_out(tmp_path):
    mo = _compile(tmp_path, SAMPLE_PO)
    catalogue = _load(mo)

    assert catalogue.gettext("Guessed") == "Guessed"
    assert catalogue.gettext("Guessed %(x)s") == "Guessed %(x)s"
    assert catalogue.gettext("Untranslated") == "Untranslated"
    assert catalogue.gettext("Obsolete") == "Obsolete"
    assert b"Guessed" not in mo and b"Untranslated" not in mo and b"Obsolete" not in mo
    # The header, five messages, two plural messages of two forms each.
    assert len(catalogue._catalog) == 1 + 5 + 2 * 2


def test_fuzzy_header_is_still_compiled(tmp_path):
    # Django needs the header's Plural-Forms; msgfmt keeps a fuzzy header too.
    po = '#, fuzzy\nmsgid ""\nmsgstr "Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n'

    assert _load(_compile(tmp_path, po)).info()["plural-forms"] == "nplurals=2; plural=(n != 1);"


def test_a_message_may_be_both_with_and_without_context(tmp_path):
    po = 'msgid "a"\nmsgstr "b"\n\nmsgctxt "x"\nmsgid "a"\nmsgstr "c"\n'

    catalogue = _load(_compile(tmp_path, po))

    assert (catalogue.gettext("a"), catalogue.pgettext("x", "a")) == ("b", "c")


@pytest.mark.parametrize(("po", "line", "says"), [
    ('msgid "a"\nmsgstr "b"c"\n', 2, "unescaped double quote"),
    ('msgid "a"\nmsgstr "b"\nnonsense\n', 3, "Syntax error"),
    ('msgid "a"\nmsgstr "b"\n\nmsgid "a"\nmsgstr "c"\n', 4, "defined twice (first at line 1)"),
    ('msgctxt "x"\nmsgid "a"\nmsgstr "b"\n\nmsgctxt "x"\nmsgid "a"\nmsgstr "c"\n', 5,
     "defined twice (first at line 1)"),
    ('msgid "a"\nmsgstr "b"\n\nmsgid "n"\nmsgid_plural "ns"\nmsgstr "m"\n', 4, "msgstr[0]"),
])
def test_a_broken_po_is_refused_naming_the_file_and_the_line(tmp_path, settings, po, line, says):
    po_path = _write_po(tmp_path, po)
    settings.LOCALE_PATHS = [tmp_path]

    with pytest.raises(CatalogueError) as refused:
        compile_po(po_path)
    for command in (["compile_translations"], ["compile_translations", "--check"]):
        with pytest.raises(CommandError) as failed:
            call_command(*command, stdout=io.StringIO())
        assert str(failed.value) == str(refused.value)

    assert str(po_path) in str(refused.value)
    assert f"line {line}" in str(refused.value)
    assert says in str(refused.value)
    assert not po_path.with_suffix(".mo").exists()


@pytest.mark.parametrize("header", [
    "Content-Type: text/plain; charset=CHARSET\\n",  # the placeholder of a .pot template
    "Plural-Forms: nplurals=2; plural=(n !!! 1);\\n",
])
def test_a_po_whose_catalogue_django_could_not_load_is_refused(tmp_path, settings, header):
    po_path = _write_po(tmp_path, f'msgid ""\nmsgstr "{header}"\n\nmsgid "a"\nmsgstr "ب"\n')
    settings.LOCALE_PATHS = [tmp_path]

    with pytest.raises(CommandError) as failed:
        call_command("compile_translations", stdout=io.StringIO())

    assert str(failed.value).startswith(f"{po_path}: Django could not load the compiled catalogue")
    assert not po_path.with_suffix(".mo").exists()


def test_committed_mo_holds_what_the_committed_po_says():
    """Read back as Django reads it: every translated entry and nothing else, and the headers."""
    committed = _load(UR_PO.with_suffix(".mo").read_bytes())
    po = polib.pofile(str(UR_PO))
    expected = {"": committed._catalog.get("")}  # the header text, compared as headers below
    for entry in po.translated_entries():
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural:
            expected.update({(key, int(n)): text for n, text in entry.msgstr_plural.items()})
        else:
            expected[key] = entry.msgstr

    assert committed._catalog == expected
    assert committed.info() == {name.lower(): value for name, value in po.metadata.items()}
    assert committed.info()["plural-forms"] == "nplurals=2; plural=(n != 1);"
    assert len(expected) > 100


def test_check_passes_on_the_committed_catalogues():
    out = io.StringIO()

    call_command("compile_translations", "--check", stdout=out)

    assert "Compiled catalogues are up to date." in out.getvalue()


def _template_messages() -> set[str]:
    """The msgids the public templates ask for, extracted as makemessages does (via templatize)."""
    literal = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    call = re.compile(rf"\b(gettext|ngettext|_)\(\s*u?({literal})")
    messages = set()
    for pattern in PUBLIC_TEMPLATES:
        for path in (BASE_DIR / "templates").glob(pattern):
            source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
            messages |= {ast.literal_eval(match.group(2)) for match in call.finditer(source)}
    return messages


def test_every_string_of_the_public_templates_has_an_urdu_translation():
    catalogue = _load(compile_po(UR_PO))
    messages = _template_messages()

    assert "CERT directory" in messages and len(messages) > 40
    untranslated = sorted(m for m in messages if catalogue._catalog.get(m, catalogue._catalog.get((m, 0)))
                          in (None, ""))
    assert untranslated == []


def _python_messages() -> set[str]:
    """The msgids the public modules ask for: string literals passed to _(), gettext() or
    gettext_lazy() (implicitly concatenated literals are one string, as for xgettext)."""
    messages = set()
    for module in PUBLIC_MODULES:
        for node in ast.walk(ast.parse((BASE_DIR / module).read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in GETTEXT_NAMES and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                messages.add(node.args[0].value)
    return messages


def test_every_string_of_the_public_python_modules_has_an_urdu_translation():
    catalogue = _load(compile_po(UR_PO))
    messages = _python_messages()

    assert {"What happened?", "Spam, harassment or harmful content", "%(name)s is empty."} <= messages
    assert len(messages) > 45
    untranslated = sorted(m for m in messages if catalogue._catalog.get(m) in (None, ""))
    assert untranslated == []


def test_translations_keep_the_placeholders_of_their_msgids():
    catalogue = _load(compile_po(UR_PO))
    placeholder = re.compile(r"%\(\w+\)[sd]")

    for message in _python_messages() | _template_messages():
        translated = catalogue._catalog.get(message, catalogue._catalog.get((message, 0)))
        assert sorted(placeholder.findall(translated)) == sorted(placeholder.findall(message)), message


def _locale_with_catalogue(tmp_path: Path) -> Path:
    return _write_po(tmp_path, SAMPLE_PO).parent


def test_check_fails_listing_a_stale_mo_then_passes_after_compiling(tmp_path, settings):
    messages = _locale_with_catalogue(tmp_path)
    (messages / "django.mo").write_bytes(b"compiled from an older .po")
    settings.LOCALE_PATHS = [tmp_path]

    with pytest.raises(CommandError) as refused:
        call_command("compile_translations", "--check", stdout=io.StringIO())
    assert refused.value.returncode == 1
    assert str(messages / "django.mo") in str(refused.value)
    assert (messages / "django.mo").read_bytes() == b"compiled from an older .po"  # --check writes nothing

    call_command("compile_translations", stdout=io.StringIO())
    call_command("compile_translations", "--check", stdout=io.StringIO())
    assert (messages / "django.mo").read_bytes() == compile_po(messages / "django.po")


@pytest.mark.parametrize(("old", "new"), [
    ("رپورٹ کریں", "بھیجیں"),  # one translation
    ("nplurals=2; plural=(n != 1);", "nplurals=1; plural=0;"),  # one header
])
def test_check_fails_on_an_mo_that_differs_in_one_message(tmp_path, settings, old, new):
    messages = _locale_with_catalogue(tmp_path)
    (messages / "django.mo").write_bytes(_compile(tmp_path, SAMPLE_PO.replace(old, new)))
    _write_po(tmp_path, SAMPLE_PO)
    settings.LOCALE_PATHS = [tmp_path]

    with pytest.raises(CommandError, match="django.mo"):
        call_command("compile_translations", "--check", stdout=io.StringIO())
    assert compile_all(tmp_path) == [messages / "django.mo"]


def test_an_mo_with_the_same_catalogue_in_other_bytes_is_up_to_date(tmp_path, settings):
    # Compared by what gettext reads, not byte for byte: another byte layout (another polib
    # version, or GNU msgfmt on a big-endian machine) is not a stale catalogue.
    messages = _locale_with_catalogue(tmp_path)
    compiled = compile_po(messages / "django.po")
    other_bytes = _big_endian(compiled)
    assert other_bytes != compiled and _load(other_bytes)._catalog == _load(compiled)._catalog
    (messages / "django.mo").write_bytes(other_bytes)
    settings.LOCALE_PATHS = [tmp_path]

    call_command("compile_translations", "--check", stdout=io.StringIO())
    assert compile_all(tmp_path) == []
    assert (messages / "django.mo").read_bytes() == other_bytes


def test_check_fails_on_a_missing_mo(tmp_path, settings):
    messages = _locale_with_catalogue(tmp_path)
    settings.LOCALE_PATHS = [tmp_path]

    with pytest.raises(CommandError, match="django.mo"):
        call_command("compile_translations", "--check", stdout=io.StringIO())
    assert not (messages / "django.mo").exists()


def test_compile_all_rewrites_only_what_changed(tmp_path):
    messages = _locale_with_catalogue(tmp_path)

    assert compile_all(tmp_path) == [messages / "django.mo"]
    assert compile_all(tmp_path) == []
    _write_po(tmp_path, SAMPLE_PO.replace("رپورٹ کریں", "بھیجیں"))
    assert compile_all(tmp_path) == [messages / "django.mo"]
    assert _load((messages / "django.mo").read_bytes()).pgettext("verb", "Report") == "بھیجیں"


# The pages

def _html_tag(response) -> str:
    return re.search(r"<html[^>]*>", response.content.decode()).group(0)


@pytest.mark.django_db
def test_accept_language_urdu_renders_right_to_left_in_urdu():
    response = Client().get("/", HTTP_ACCEPT_LANGUAGE="ur")

    assert _html_tag(response) == '<html lang="ur" dir="rtl">'
    text = response.content.decode()
    assert "سرٹ ڈائریکٹری" in text
    assert "CERT directory" not in text


@pytest.mark.django_db
def test_english_is_the_default_and_left_to_right():
    response = Client().get("/", HTTP_ACCEPT_LANGUAGE="en")

    assert _html_tag(response) == '<html lang="en" dir="ltr">'
    assert "CERT directory" in response.content.decode()
    assert "سرٹ ڈائریکٹری" not in response.content.decode()


@pytest.mark.django_db
def test_language_switch_sets_urdu_and_returns_to_the_page():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/certs/no-such-team/?q=1", HTTP_ACCEPT_LANGUAGE="en")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    switched = client.post("/i18n/setlang/", {
        "language": "ur", "next": "/certs/no-such-team/?q=1", "csrfmiddlewaretoken": token,
    }, HTTP_ACCEPT_LANGUAGE="en")

    assert switched.status_code == 302
    assert switched["Location"] == "/certs/no-such-team/?q=1"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ur"
    again = client.get("/", HTTP_ACCEPT_LANGUAGE="en")  # the cookie wins over the browser's language
    assert _html_tag(again) == '<html lang="ur" dir="rtl">'
    assert "سرٹ ڈائریکٹری" in again.content.decode()


@pytest.mark.django_db
def test_language_switch_refuses_an_offsite_next():
    client = Client()

    switched = client.post("/i18n/setlang/", {"language": "ur", "next": "https://evil.example/"})

    assert switched.status_code == 302
    assert switched["Location"] == "/"


@pytest.fixture
def public_pages(registry):
    return {
        "directory": ("/", 200),
        "cert profile": (registry["punjab"].get_absolute_url(), 200),
        "not found": ("/certs/no-such-team/", 404),
    }


@pytest.mark.parametrize("page", ["directory", "cert profile", "not found"])
def test_every_page_has_the_language_switch(public_pages, page):
    url, status = public_pages[page]

    response = Client().get(url)

    assert response.status_code == status
    text = response.content.decode()
    form = re.search(r'<form class="language-switch" method="post" action="/i18n/setlang/".*?</form>',
                     text, re.DOTALL).group(0)
    assert f'<input type="hidden" name="next" value="{url}">' in form
    assert 'name="csrfmiddlewaretoken"' in form
    assert re.search(r'<button type="submit"[^>]*value="en" lang="en" aria-current="true">English</button>',
                     form)
    assert re.search(r'<button type="submit"[^>]*value="ur" lang="ur">اردو</button>', form)


@pytest.mark.django_db
def test_csrf_failure_page_has_the_switch_and_speaks_urdu():
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {}, HTTP_ACCEPT_LANGUAGE="ur")

    assert response.status_code == 403
    assert _html_tag(response) == '<html lang="ur" dir="rtl">'
    assert "فارم نہیں بھیجا جا سکا" in response.content.decode()
    assert 'class="language-switch"' in response.content.decode()


@pytest.mark.django_db
def test_the_report_form_speaks_urdu():
    cache.clear()  # the POST below counts against the report rate limit
    client = Client()

    page = client.get("/report/", HTTP_ACCEPT_LANGUAGE="ur")

    assert page.status_code == 200
    assert _html_tag(page) == '<html lang="ur" dir="rtl">'
    text = page.content.decode()
    assert "کیا ہوا؟" in text and "What happened?" not in text  # the category label
    assert re.search(r'<button type="submit" class="button">رپورٹ بھیجیں</button>', text)
    assert "اسپام، ہراسانی یا نقصان دہ مواد" in text  # a category choice

    refused = client.post("/report/", {"description": "Something odd"}, HTTP_ACCEPT_LANGUAGE="ur")

    assert refused.status_code == 400
    text = refused.content.decode()
    assert "براہِ کرم نشان زدہ خانے درست کریں" in text
    assert "یہ خانہ درکار ھے۔" in text  # "This field is required.", from Django's own catalogue
    assert "This field is required." not in text
    cache.clear()


# The staff dashboard (issue 9, item 9)

Message = tuple  # (context or None, msgid, plural or None)


def _files(base: Path, patterns: list[str]) -> list[Path]:
    return sorted({path for pattern in patterns for path in base.glob(pattern)})


def _dashboard_template_messages() -> set[Message]:
    """Every message the dashboard's templates ask for, with its context and plural, extracted
    as makemessages does: templatize, then the gettext calls it writes."""
    literal = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    call = re.compile(rf"(?<![\w.])(npgettext|pgettext|ngettext|gettext|_)\(\s*u?({literal})"
                      rf"(?:\s*,\s*u?({literal}))?(?:\s*,\s*u?({literal}))?")
    messages = set()
    for path in _files(BASE_DIR / "templates", DASHBOARD_TEMPLATES):
        source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for name, *args in call.findall(source):
            args = [ast.literal_eval(arg) for arg in args if arg]
            context, plural = MARKERS[name]
            messages.add((args.pop(0) if context else None, args[0], args[1] if plural else None))
    return messages


def _dashboard_python_messages() -> set[Message]:
    """Every string literal the dashboard's modules mark for translation, with its context and
    plural (implicitly concatenated literals are one string, as for xgettext)."""
    messages = set()
    for path in _files(BASE_DIR, DASHBOARD_MODULES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name not in MARKERS:
                continue
            context, plural = MARKERS[name]
            wanted = 1 + context + plural
            args = node.args[:wanted]
            if len(args) < wanted or not all(isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                                             for arg in args):
                continue  # a variable, translated where its literal is marked (gettext_noop)
            values = [arg.value for arg in args]
            messages.add((values.pop(0) if context else None, values[0], values[1] if plural else None))
    return messages


def _translations(catalogue: gettext.GNUTranslations, message: Message) -> list[str]:
    """The catalogue's translations of `message` ("" where it has none)."""
    context, msgid, plural = message
    key = msgid if context is None else f"{context}\x04{msgid}"
    if plural is None:
        return [catalogue._catalog.get(key, "")]
    return [catalogue._catalog.get((key, n), "") for n in (0, 1)]


def test_the_dashboard_extraction_finds_every_kind_of_message():
    templates, modules = _dashboard_template_messages(), _dashboard_python_messages()

    assert (None, "Keyboard shortcuts", None) in templates
    assert (None, "%(shown)s incident", "%(shown)s incidents") in templates  # blocktranslate count
    assert (None, "Not given", None) in templates  # a filter's argument, _("...")
    assert (None, "Assign to me", None) in modules  # gettext_noop, translated later
    assert any(plural for _, _, plural in modules)  # ngettext
    assert len(templates) > 300 and len(modules) > 150


@pytest.mark.parametrize("where", ["templates", "modules"])
def test_every_string_of_the_dashboard_has_an_urdu_translation(where):
    catalogue = _load(compile_po(UR_PO))
    messages = _dashboard_template_messages() if where == "templates" else _dashboard_python_messages()

    untranslated = sorted((m for m in messages if "" in _translations(catalogue, m)),
                          key=lambda m: m[1])
    assert untranslated == []


def test_dashboard_translations_keep_placeholders_and_markup():
    """%(name)s and the countdown's {time} stay as they are, and so does any HTML in a message:
    a lost placeholder raises at render time, a lost tag breaks the page."""
    catalogue = _load(compile_po(UR_PO))
    kept = re.compile(r"%\(\w+\)[sd]|\{\w+\}|</?[a-z][^>]*>")

    for message in _dashboard_template_messages() | _dashboard_python_messages():
        _, msgid, plural = message
        originals = (msgid,) if plural is None else (msgid, plural)
        for translated, original in zip(_translations(catalogue, message), originals, strict=True):
            assert sorted(kept.findall(translated)) == sorted(kept.findall(original)), message
