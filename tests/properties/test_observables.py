"""Properties of observable extraction and normalisation (incidents/observables.py, DOMAIN.md §7)
on arbitrary and on generated text. Pure functions: no database."""

from __future__ import annotations

import ipaddress
import string

import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given
from hypothesis import strategies as st

from incidents.observables import FILE_EXTENSIONS, ObservableType, extract, normalise, refang

TYPES = ObservableType.values
# Report text as people paste it: any character but lone surrogates (which no UTF-8 form or
# request can carry), with Urdu, blanks, control characters and defanging marks made frequent.
URDU = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
CONTROL = st.characters(categories=["Cc", "Cf"])
PUNCTUATION = st.sampled_from(list(".:/@[](){}-_\\ \t\n") + ["[.]", "hxxp://", "(dot)", "[at]"])
report_text = st.lists(
    st.one_of(st.text(st.characters(exclude_categories=["Cs"])), URDU, CONTROL, PUNCTUATION,
              st.sampled_from(["192.0.2.1", "example.com", "2001:db8::1", "CVE-2024-3094"])),
    max_size=40,
).map("".join)


@given(report_text)
def test_extract_never_fails_and_returns_canonical_values(text):
    found = extract(text)
    assert len(found) == len(set(found)), "each observable once"
    for type, value in found:
        assert type in TYPES
        assert normalise(type, value) == value, "extracted values are already canonical"


@given(st.sampled_from(TYPES), report_text)
def test_normalise_raises_only_validation_errors_and_is_idempotent(type, text):
    try:
        value = normalise(type, text)
    except ValidationError as error:
        assert error.code == "invalid_observable"
        return
    assert normalise(type, value) == value


@given(st.text(min_size=1), report_text)
def test_an_unknown_type_is_a_validation_error(type, text):
    assume(type not in TYPES)
    with pytest.raises(ValidationError) as refused:
        normalise(type, text)
    assert refused.value.code == "unknown_observable_type"


# Types whose canonical form is the text as written, up to case (and a domain's final dot).
_AS_WRITTEN = {"ipv4", "md5", "sha1", "sha256", "cve", "email", "domain"}


@given(report_text)
def test_extracted_values_are_in_the_refanged_input(text):
    haystack = refang(text).lower()
    for type, value in extract(text):
        if type in _AS_WRITTEN and "xn--" not in value:
            assert value.lower() in haystack, (type, value)
        elif type == "ipv6":
            assert ":" in haystack
        elif type == "url":
            assert value.split("://", 1)[0] in haystack


# Generated observables, each in the form people write them.

_LABEL_CHARS = string.ascii_lowercase + string.digits
label = st.builds(lambda head, middle, tail: head + middle + tail,
                  st.sampled_from(_LABEL_CHARS),
                  st.text(_LABEL_CHARS + "-", max_size=10),
                  st.sampled_from(_LABEL_CHARS)).filter(lambda text: not text.startswith("xn--"))
tld = st.text(string.ascii_lowercase, min_size=2, max_size=6).filter(
    lambda text: text not in FILE_EXTENSIONS)
domain = st.builds(lambda labels, top: ".".join([*labels, top]),
                   st.lists(label, min_size=1, max_size=3), tld)


def mixed_case(strategy):
    return st.tuples(strategy, st.randoms(use_true_random=False)).map(
        lambda pair: "".join(c.upper() if pair[1].random() < 0.5 else c for c in pair[0]))


local_part = st.builds(lambda head, middle, tail: head + middle + tail,
                       st.sampled_from(_LABEL_CHARS), st.text(_LABEL_CHARS + "._+-", max_size=12),
                       st.sampled_from(_LABEL_CHARS)).filter(lambda text: ".." not in text)
path = st.text(string.ascii_letters + string.digits + "/-_", max_size=20)

observables = st.one_of(
    st.ip_addresses(v=4).map(lambda address: ("ipv4", str(address))),
    st.ip_addresses(v=6).map(lambda address: ("ipv6", str(address))),
    mixed_case(domain).map(lambda name: ("domain", name)),
    st.builds(lambda local, name: ("email", f"{local}@{name}"), local_part, domain),
    st.builds(lambda scheme, host, rest: ("url", f"{scheme}://{host}/{rest}"),
              st.sampled_from(["http", "https", "ftp", "HTTPS"]), domain, path),
    mixed_case(st.text("0123456789abcdef", min_size=32, max_size=32)).map(lambda h: ("md5", h)),
    mixed_case(st.text("0123456789abcdef", min_size=40, max_size=40)).map(lambda h: ("sha1", h)),
    mixed_case(st.text("0123456789abcdef", min_size=64, max_size=64)).map(lambda h: ("sha256", h)),
    st.builds(lambda year, number: ("cve", f"cve-{year}-{number}"),
              st.integers(1999, 2099), st.integers(1000, 9999999)),
)


def defang(type: str, value: str) -> str:
    """The way threat reports write an observable so that nobody clicks it."""
    if type == "url":
        return value.replace("http", "hxxp", 1).replace(".", "[.]")
    if type in ("domain", "email"):
        return value.replace(".", "[.]").replace("@", "[@]")
    return value


@given(observables, st.booleans(), st.sampled_from(["Seen ", "مشتبہ ربط: ", "(", "IOC\t"]),
       st.sampled_from([" today.", "", ")", " فوری", "\n", ", then", "!"]))
def test_a_generated_observable_is_found_in_a_sentence(observable, defanged, before, after):
    type, value = observable
    expected = normalise(type, value)
    written = defang(type, value) if defanged else value
    assert (type, expected) in extract(f"{before}{written}{after}")


@given(observables)
def test_a_generated_observable_normalises_to_its_canonical_form(observable):
    type, value = observable
    canonical = normalise(type, value)
    assert normalise(type, canonical) == canonical
    if type == "ipv4":
        assert canonical == str(ipaddress.IPv4Address(value))
    elif type == "ipv6":
        assert ipaddress.IPv6Address(canonical) == ipaddress.IPv6Address(value)
    elif type in ("md5", "sha1", "sha256", "domain", "email"):
        assert canonical == value.lower()
    elif type == "cve":
        assert canonical == value.upper()
    elif type == "url":
        scheme, rest = value.split("://", 1)
        assert canonical == f"{scheme.lower()}://{rest}"


@given(st.lists(observables, min_size=1, max_size=6))
def test_each_observable_is_reported_once_in_order_of_first_appearance(found):
    text = " ".join(value for _, value in [*found, *found])
    expected = list(dict.fromkeys((type, normalise(type, value)) for type, value in found))
    assert extract(text) == expected


@pytest.mark.parametrize("mark", ["\u060c", "\u06d4", "\u061f"])
def test_urdu_punctuation_after_a_url_is_not_part_of_it(mark):
    """Found by the sentence test above: "دیکھیں http://aa.aa/x۔" gave "http://aa.aa/x۔"."""
    assert extract(f"دیکھیں https://aa.example/x{mark} فوری") == [("url", "https://aa.example/x")]
