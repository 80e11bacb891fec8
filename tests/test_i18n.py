"""The public pages in English and Urdu, and the pure-Python .po to .mo compiler behind them."""

import ast
import gettext
import io
import re
import struct
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils.translation.template import templatize

from cert_portal.translations import MO_MAGIC, PoSyntaxError, compile_all, compile_po

BASE_DIR = Path(settings.BASE_DIR)
UR_PO = BASE_DIR / "locale" / "ur" / "LC_MESSAGES" / "django.po"
# The templates of the public pages that the Urdu catalogue must cover completely.
PUBLIC_TEMPLATES = ["base.html", "404.html", "403_csrf.html", "429.html", "organizations/*.html",
                    "incidents/report_form.html", "incidents/report_received.html",
                    "incidents/report_status_lookup.html", "incidents/report_status.html",
                    "incidents/report_refused.html"]
# The Python modules of the public reporting pages whose gettext strings the catalogue must cover.
PUBLIC_MODULES = ["incidents/public/forms.py", "incidents/public/reports.py",
                  "incidents/public/views.py"]
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy"}

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
    return gettext.GNUTranslations(io.BytesIO(mo))


def _mo_keys(mo: bytes) -> list[bytes]:
    magic, revision, count, originals, _translations, _hash_size, _hash_offset = struct.unpack(
        "<7I", mo[:28])
    assert (magic, revision) == (MO_MAGIC, 0)
    keys = []
    for index in range(count):
        length, offset = struct.unpack("<2I", mo[originals + 8 * index:originals + 8 * index + 8])
        keys.append(mo[offset:offset + length])
    return keys


def test_compiled_catalogue_reads_back_with_python_gettext():
    catalogue = _load(compile_po(SAMPLE_PO))

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


def test_fuzzy_untranslated_and_obsolete_entries_are_left_out():
    mo = compile_po(SAMPLE_PO)
    catalogue = _load(mo)

    assert catalogue.gettext("Guessed") == "Guessed"
    assert catalogue.gettext("Guessed %(x)s") == "Guessed %(x)s"
    assert catalogue.gettext("Untranslated") == "Untranslated"
    assert catalogue.gettext("Obsolete") == "Obsolete"
    assert b"Guessed" not in mo and b"Untranslated" not in mo and b"Obsolete" not in mo


def test_mo_layout_is_little_endian_with_sorted_keys_and_the_header_first():
    keys = _mo_keys(compile_po(SAMPLE_PO))

    assert keys == sorted(keys)
    assert keys[0] == b""  # the header entry
    assert b"noun\x04Report" in keys and b"verb\x04Report" in keys
    assert b"%(n)s team\x00%(n)s teams" in keys
    assert b"directory\x04%(n)s CERT\x00%(n)s CERTs" in keys
    assert len(keys) == 8


def test_fuzzy_header_is_still_compiled():
    # Django needs the header's Plural-Forms; msgfmt keeps a fuzzy header too.
    po = '#, fuzzy\nmsgid ""\nmsgstr "Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n'

    assert _load(compile_po(po)).info()["plural-forms"] == "nplurals=2; plural=(n != 1);"


@pytest.mark.parametrize("po", [
    'msgid "a"\n',                                    # no msgstr
    'msgid "a"\nmsgstr "b\\q"\n',                      # unknown escape
    'msgid "a"\nmsgstr "b"c"\n',                       # unescaped quote
    'msgid "a"\nmsgstr "b"\n\nmsgid "a"\nmsgstr "c"\n',  # duplicate
    'msgid "a"\nmsgid_plural "as"\nmsgstr "b"\n',      # plural without msgstr[N]
    'msgid "a"\nmsgstr "b"\nnonsense\n',
    'msgid ""\nmsgstr "Content-Type: text/plain; charset=ISO-8859-1\\n"\n',
])
def test_malformed_po_is_refused(po):
    with pytest.raises(PoSyntaxError):
        compile_po(po)


def test_committed_mo_is_exactly_what_the_committed_po_compiles_to():
    assert UR_PO.with_suffix(".mo").read_bytes() == compile_po(UR_PO.read_text(encoding="utf-8"))


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
    catalogue = _load(compile_po(UR_PO.read_text(encoding="utf-8")))
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
    catalogue = _load(compile_po(UR_PO.read_text(encoding="utf-8")))
    messages = _python_messages()

    assert {"What happened?", "Spam, harassment or harmful content", "%(name)s is empty."} <= messages
    assert len(messages) > 45
    untranslated = sorted(m for m in messages if catalogue._catalog.get(m) in (None, ""))
    assert untranslated == []


def test_translations_keep_the_placeholders_of_their_msgids():
    catalogue = _load(compile_po(UR_PO.read_text(encoding="utf-8")))
    placeholder = re.compile(r"%\(\w+\)[sd]")

    for message in _python_messages() | _template_messages():
        translated = catalogue._catalog.get(message, catalogue._catalog.get((message, 0)))
        assert sorted(placeholder.findall(translated)) == sorted(placeholder.findall(message)), message


def _locale_with_catalogue(tmp_path: Path) -> Path:
    messages = tmp_path / "ur" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    (messages / "django.po").write_text(SAMPLE_PO, encoding="utf-8")
    return messages


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
    assert (messages / "django.mo").read_bytes() == compile_po(SAMPLE_PO)


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
