import pytest
from django.core.exceptions import ValidationError

from incidents.observables import ObservableType, extract, normalise, refang

IPV4 = ObservableType.IPV4
IPV6 = ObservableType.IPV6
DOMAIN = ObservableType.DOMAIN
URL = ObservableType.URL
EMAIL = ObservableType.EMAIL
MD5 = ObservableType.MD5
SHA1 = ObservableType.SHA1
SHA256 = ObservableType.SHA256
CVE = ObservableType.CVE

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
IPV4_RULE = (
    "expected four numbers from 0 to 255 without leading zeros, separated by dots, such as "
    "192.0.2.1"
)
SCHEMES = "the scheme must be one of http, https, ftp, ftps, with ://"
LDH = "may contain only letters, digits and hyphens, and may not start or end with a hyphen"


def test_types():
    assert [(t.value, t.label) for t in ObservableType] == [
        ("ipv4", "IPv4 address"),
        ("ipv6", "IPv6 address"),
        ("domain", "Domain name"),
        ("url", "URL"),
        ("email", "Email address"),
        ("md5", "MD5 hash"),
        ("sha1", "SHA-1 hash"),
        ("sha256", "SHA-256 hash"),
        ("cve", "CVE ID"),
    ]


@pytest.mark.parametrize(
    ("text", "refanged"),
    [
        ("hxxp://example[.]com", "http://example.com"),
        ("HXXPS://example(.)com", "https://example.com"),
        ("hXXps[:]//example{.}com", "https://example.com"),
        ("fxp://files[.]example[.]org", "ftp://files.example.org"),
        ("fxps[://]example[.]org", "ftps://example.org"),
        ("http[:]//example[.]com[/]path", "http://example.com/path"),
        ("http(:)//example[DOT]com", "http://example.com"),
        ("user[@]example[.]com", "user@example.com"),
        ("user(@)example(.)com", "user@example.com"),
        ("user [at] example [dot] com", "user@example.com"),
        ("user(at)example(dot)com", "user@example.com"),
        ("user{AT}example{Dot}com", "user@example.com"),
        ("user [ at ] example [ . ] com", "user@example.com"),
        ("192.168[.]1[.]1", "192.168.1.1"),
        ("192 [.] 168 [.] 1 [.] 1", "192.168.1.1"),
        ("example\\.com", "example.com"),
        ("2001:db8[:]:1", "2001:db8::1"),
        # Blanks around dots and ats are dropped, but never line breaks.
        ("example\n[.]com", "example\n.com"),
        # Left alone.
        ("http://example.com", "http://example.com"),
        ("hxxp without a colon, hxxpd://x", "hxxp without a colon, hxxpd://x"),
        ("array[0] and (a) and [::1] and [x]", "array[0] and (a) and [::1] and [x]"),
        ("", ""),
    ],
)
def test_refang(text, refanged):
    assert refang(text) == refanged


@pytest.mark.parametrize(
    ("type", "value", "normalised"),
    [
        (IPV4, "192.0.2.1", "192.0.2.1"),
        (IPV4, " 192.0.2.1\n", "192.0.2.1"),
        (IPV4, "192[.]0[.]2[.]1", "192.0.2.1"),
        (IPV4, "0.0.0.0", "0.0.0.0"),
        (IPV4, "255.255.255.255", "255.255.255.255"),
        (IPV6, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        (IPV6, "2001:0db8::0001", "2001:db8::1"),
        (IPV6, "::1", "::1"),
        (IPV6, "FE80::", "fe80::"),
        (DOMAIN, "Example.COM", "example.com"),
        (DOMAIN, "example.com.", "example.com"),
        (DOMAIN, "example.com..", "example.com"),
        (DOMAIN, "evil[.]example[.]pk", "evil.example.pk"),
        (DOMAIN, "xn--bcher-kva.de", "xn--bcher-kva.de"),
        (DOMAIN, "Bücher.de", "xn--bcher-kva.de"),
        (DOMAIN, "ПРИМЕР.рф", "xn--e1afmkfd.xn--p1ai"),
        (DOMAIN, "a-b.c-d.example", "a-b.c-d.example"),
        (DOMAIN, "123.example.com", "123.example.com"),
        (DOMAIN, "evil.zip", "evil.zip"),  # a real TLD: only extraction takes it for a file
        (URL, "HTTP://Example.COM", "http://example.com/"),
        (URL, "hxxps://Bad.Example[.]org/Path?Q=1#Top", "https://bad.example.org/Path?Q=1#Top"),
        (URL, "https://user:PaSs@Example.com:8443/x", "https://user:PaSs@example.com:8443/x"),
        (URL, "http://example.com./a", "http://example.com/a"),
        (URL, "http://192.0.2.1:8080", "http://192.0.2.1:8080/"),
        (URL, "http://[2001:DB8::0:1]/x", "http://[2001:db8::1]/x"),
        (URL, "ftp://files.example.org/pub/", "ftp://files.example.org/pub/"),
        (URL, "FXPS://files.example.org", "ftps://files.example.org/"),
        (URL, "http://bücher.de/ä", "http://xn--bcher-kva.de/ä"),
        (EMAIL, "John.Doe@Example.COM", "john.doe@example.com"),
        (EMAIL, "abuse[at]example[dot]com", "abuse@example.com"),
        (EMAIL, "first+tag@mail.example.pk.", "first+tag@mail.example.pk"),
        (MD5, EMPTY_MD5.upper(), EMPTY_MD5),
        (SHA1, f" {EMPTY_SHA1} ", EMPTY_SHA1),
        (SHA256, EMPTY_SHA256.upper(), EMPTY_SHA256),
        (CVE, "cve-2021-44228", "CVE-2021-44228"),
        (CVE, "CVE-2024-123456", "CVE-2024-123456"),
        ("cve", "CVE-1999-0001", "CVE-1999-0001"),
    ],
)
def test_normalise(type, value, normalised):
    assert normalise(type, value) == normalised


@pytest.mark.parametrize(
    ("type", "value", "message"),
    [
        (IPV4, "192.0.2.999", f"'192.0.2.999' is not a valid IPv4 address: {IPV4_RULE}."),
        (IPV4, "010.0.2.1", f"'010.0.2.1' is not a valid IPv4 address: {IPV4_RULE}."),
        (IPV4, "192.0.2", f"'192.0.2' is not a valid IPv4 address: {IPV4_RULE}."),
        (IPV4, "192.0.2.0/24", f"'192.0.2.0/24' is not a valid IPv4 address: {IPV4_RULE}."),
        (IPV4, "2001:db8::1", f"'2001:db8::1' is not a valid IPv4 address: {IPV4_RULE}."),
        (IPV4, "   ", "'   ' is not a valid IPv4 address: it is empty."),
        (IPV4, None, "None is not a valid IPv4 address: it is not text."),
        (
            IPV6, "2001:db8::g",
            "'2001:db8::g' is not a valid IPv6 address: expected an IPv6 address such as "
            "2001:db8::1.",
        ),
        (
            IPV6, "192.0.2.1",
            "'192.0.2.1' is not a valid IPv6 address: expected an IPv6 address such as "
            "2001:db8::1.",
        ),
        (
            IPV6, "fe80::1%eth0",
            "'fe80::1%eth0' is not a valid IPv6 address: zone indices such as %eth0 are not part "
            "of an observable.",
        ),
        (
            DOMAIN, "localhost",
            "'localhost' is not a valid domain name: a domain name has at least two labels, such "
            "as example.com.",
        ),
        (
            DOMAIN, "a..example.com",
            "'a..example.com' is not a valid domain name: it has an empty label (two dots in a "
            "row).",
        ),
        (DOMAIN, "-bad.example", f"'-bad.example' is not a valid domain name: the label '-bad' {LDH}."),
        (DOMAIN, "bad-.example", f"'bad-.example' is not a valid domain name: the label 'bad-' {LDH}."),
        (DOMAIN, "my_host.example", f"'my_host.example' is not a valid domain name: the label "
                                    f"'my_host' {LDH}."),
        (DOMAIN, "exa mple.com", f"'exa mple.com' is not a valid domain name: the label "
                                 f"'exa mple' {LDH}."),
        (
            DOMAIN, "example.c",
            "'example.c' is not a valid domain name: the top-level label 'c' must be two or more "
            "letters, or an xn-- label.",
        ),
        (
            DOMAIN, "192.0.2.1",
            "'192.0.2.1' is not a valid domain name: the top-level label '1' must be two or more "
            "letters, or an xn-- label.",
        ),
        (
            DOMAIN, "x" * 64 + ".com",
            f"'{'x' * 64}.com' is not a valid domain name: the label '{'x' * 64}' is longer than "
            f"63 characters.",
        ),
        (
            DOMAIN, "a." * 127 + "com",
            f"'{('a.' * 30)}...' is not a valid domain name: it is longer than 253 characters.",
        ),
        (
            URL, "example.com/login",
            f"'example.com/login' is not a valid URL: {SCHEMES}.",
        ),
        (URL, "javascript:alert(1)", f"'javascript:alert(1)' is not a valid URL: {SCHEMES}."),
        (URL, "file:///etc/passwd", f"'file:///etc/passwd' is not a valid URL: {SCHEMES}."),
        (URL, "http:example.com", "'http:example.com' is not a valid URL: it has no host."),
        (URL, "http://", "'http://' is not a valid URL: it has no host."),
        (
            URL, "http://exa mple.com/",
            "'http://exa mple.com/' is not a valid URL: it contains blanks or control characters.",
        ),
        (
            URL, "http://example.com:99999/",
            "'http://example.com:99999/' is not a valid URL: it cannot be parsed (Port out of "
            "range 0-65535).",
        ),
        (
            URL, "http://[2001:db8::1/",
            "'http://[2001:db8::1/' is not a valid URL: it cannot be parsed (Invalid IPv6 URL).",
        ),
        (
            URL, "http://192.0.2.999/",
            f"'http://192.0.2.999/' is not a valid URL: its host '192.0.2.999' is not valid: "
            f"{IPV4_RULE}.",
        ),
        (
            URL, "http://localhost:8000/",
            "'http://localhost:8000/' is not a valid URL: its host 'localhost' is not valid: a "
            "domain name has at least two labels, such as example.com.",
        ),
        (
            EMAIL, "abuse.example.com",
            "'abuse.example.com' is not a valid email address: expected a local part, @ and a "
            "domain, such as user@example.com.",
        ),
        (
            EMAIL, "@example.com",
            "'@example.com' is not a valid email address: expected a local part, @ and a domain, "
            "such as user@example.com.",
        ),
        (
            EMAIL, "john..doe@example.com",
            "'john..doe@example.com' is not a valid email address: the part before @, "
            "'john..doe', is not a valid mailbox name.",
        ),
        (
            EMAIL, "john doe@example.com",
            "'john doe@example.com' is not a valid email address: the part before @, "
            "'john doe', is not a valid mailbox name.",
        ),
        (
            EMAIL, "root@localhost",
            "'root@localhost' is not a valid email address: its domain 'localhost' is not "
            "valid: a domain name has at least two labels, such as example.com.",
        ),
        (
            MD5, "abc123",
            "'abc123' is not a valid MD5 hash: expected 32 hexadecimal digits (0-9, a-f), got 6 "
            "characters.",
        ),
        (
            SHA1, EMPTY_MD5,
            f"'{EMPTY_MD5}' is not a valid SHA-1 hash: expected 40 hexadecimal digits (0-9, a-f), "
            f"got 32 characters.",
        ),
        (
            SHA256, "g" * 64,
            f"'{'g' * 64}' is not a valid SHA-256 hash: expected 64 hexadecimal digits (0-9, "
            f"a-f), got 64 characters with non-hexadecimal ones.",
        ),
        (
            CVE, "CVE-2021-123",
            "'CVE-2021-123' is not a valid CVE ID: expected CVE-YYYY-NNNN: a four-digit year and "
            "at least four digits, such as CVE-2021-44228.",
        ),
        (
            CVE, "CVE 2021 44228",
            "'CVE 2021 44228' is not a valid CVE ID: expected CVE-YYYY-NNNN: a four-digit year "
            "and at least four digits, such as CVE-2021-44228.",
        ),
    ],
)
def test_normalise_refuses_invalid_values_saying_why(type, value, message):
    with pytest.raises(ValidationError) as caught:
        normalise(type, value)
    assert caught.value.code == "invalid_observable"
    assert caught.value.messages == [message]


@pytest.mark.parametrize("type", ["hash", "IPv4", "", None])
def test_normalise_refuses_unknown_types(type):
    with pytest.raises(ValidationError) as caught:
        normalise(type, "192.0.2.1")
    assert caught.value.code == "unknown_observable_type"
    assert caught.value.messages == [
        f"{type!r} is not an observable type. Use one of: ipv4, ipv6, domain, url, email, md5, "
        f"sha1, sha256, cve."
    ]


@pytest.mark.parametrize(
    ("text", "observables"),
    [
        ("", []),
        ("Nothing to see here. Really!", []),
        ("Scans from 203.0.113.5, then 203.0.113.5 again.", [(IPV4, "203.0.113.5")]),
        # A URL yields the URL only; the domain on its own is reported where it stands alone.
        (
            "C2 at hxxp://evil[.]example[.]com/gate.php?id=1 and evil[.]example[.]com",
            [(URL, "http://evil.example.com/gate.php?id=1"), (DOMAIN, "evil.example.com")],
        ),
        (
            f"Payload: https://cdn.example.net/{EMPTY_MD5}/payload.exe.",
            [(URL, f"https://cdn.example.net/{EMPTY_MD5}/payload.exe")],
        ),
        (
            "Callback http://198.51.100.7:8080/a?u=victim@example.com&h=bad.example.org",
            [(URL, "http://198.51.100.7:8080/a?u=victim@example.com&h=bad.example.org")],
        ),
        # An email address yields the address only.
        (
            "Phish from Billing@Example-Bank.com.pk to staff",
            [(EMAIL, "billing@example-bank.com.pk")],
        ),
        ("Write to john [at] example [dot] com", [(EMAIL, "john@example.com")]),
        ("mailto:abuse@example.org icon@2x.png @handle", [(EMAIL, "abuse@example.org")]),
        # File names are not domains.
        (
            "Attachments: report.pdf, Invoice.EXE, jquery.min.js, README.md, evil.zip, a.docx",
            [],
        ),
        (f"Sample {EMPTY_SHA256}.bin dropped", []),
        # Hashes and CVE IDs.
        (
            f"md5 {EMPTY_MD5.upper()} sha1={EMPTY_SHA1} sha256:{EMPTY_SHA256}",
            [(MD5, EMPTY_MD5), (SHA1, EMPTY_SHA1), (SHA256, EMPTY_SHA256)],
        ),
        (f"too short {EMPTY_MD5[:-1]} too long {EMPTY_MD5}0 not hex {'g' * 32}", []),
        (
            "Patch cve-2021-44228 and CVE-2023-4966; not CVE-21-1 or CVE-2021-12",
            [(CVE, "CVE-2021-44228"), (CVE, "CVE-2023-4966")],
        ),
        # IPv6, with and without brackets, port, zone or a label before it.
        (
            "from 2001:DB8:0:0::1, fe80::1%eth0, [2001:db8::2]:443 and ipv6:2001:db8::3.",
            [(IPV6, "2001:db8::1"), (IPV6, "fe80::1"), (IPV6, "2001:db8::2"),
             (IPV6, "2001:db8::3")],
        ),
        ("Source 2001:db8::4: blocked", [(IPV6, "2001:db8::4")]),
        ("at 12:30:45 from MAC 00:1a:2b:3c:4d:5e, see std::vector", []),
        # IPv4 with a port or a prefix length; invalid ones are skipped.
        (
            "192.0.2.1:8080 and 198.51.100.0/24",
            [(IPV4, "192.0.2.1"), (IPV4, "198.51.100.0")],
        ),
        ("1.2.3.999 and 010.1.1.1 and 1.2.3 and 1.2.3.4.5", []),
        # Prose with dots.
        ("e.g. this, i.e. that, etc. The U.S. v1.2.3 at 5 p.m. No.5", []),
        # Trailing punctuation and brackets around URLs.
        (
            "Visit (https://example.com/a_(b)). Or <http://example.org>, "
            "'ftp://files.example.net/x'.",
            [(URL, "https://example.com/a_(b)"), (URL, "http://example.org/"),
             (URL, "ftp://files.example.net/x")],
        ),
        ("[link](https://example.com/x)", [(URL, "https://example.com/x")]),
        # A URL without a scheme yields its domain.
        ("www.example.com/login.php", [(DOMAIN, "www.example.com")]),
        ("Resolve example.com.", [(DOMAIN, "example.com")]),
        # URLs without a valid host yield nothing, and their parts are not searched.
        ("http://localhost:8000/x.example.com and http://999.1.1.1/", []),
        # Order of first appearance, de-duplicated after normalising.
        (
            "evil.com http://evil.com/ EVIL.COM. 1.1.1.1 HTTP://EVIL.COM",
            [(DOMAIN, "evil.com"), (URL, "http://evil.com/"), (IPV4, "1.1.1.1")],
        ),
        (
            "HTTPS://EXAMPLE.COM/A http://user:pass@example.com:8080/x",
            [(URL, "https://example.com/A"), (URL, "http://user:pass@example.com:8080/x")],
        ),
        # Internationalised names, Urdu text around an indicator, a look-alike with a Cyrillic а.
        ("Look-alike p\u0430ypal.com (Cyrillic)", [(DOMAIN, "xn--pypal-4ve.com")]),
        ("مشتبہ ڈومین evil[.]pk ہے", [(DOMAIN, "evil.pk")]),
        ("Defanged list:\n1[.]2[.]3[.]4\nbad(.)example(.)org\n", [
            (IPV4, "1.2.3.4"), (DOMAIN, "bad.example.org"),
        ]),
    ],
)
def test_extract(text, observables):
    assert extract(text) == observables


def test_extract_returns_observable_types():
    [(kind, value)] = extract("see 192.0.2.1")
    assert kind is ObservableType.IPV4
    assert value == "192.0.2.1"


SIZE = 200_000


def fill(unit: str) -> str:
    """Repeat `unit` to at least SIZE characters."""
    return unit * -(-SIZE // len(unit))


@pytest.mark.parametrize(
    ("text", "observables"),
    [
        (fill("a"), []),
        (fill("a."), []),
        (fill("."), []),
        (fill(" "), []),
        (fill(":"), []),
        (fill("@"), []),
        (fill("["), []),
        (fill("[ "), []),
        ("[" + " " * SIZE, []),
        (fill("(at)"), []),
        (fill("1."), []),
        (fill("1:"), []),
        (fill("a@"), []),
        (fill("a-"), []),
        (fill("\\."), []),
        ("x" * SIZE + ".com", []),
        (fill("http://"), []),
        ("http://" + "a" * SIZE, []),
        ("http://example.com/" + ")" * SIZE, [(URL, "http://example.com/")]),
        ("http://example.com/" + "." * SIZE, [(URL, "http://example.com/")]),
        (
            fill(
                "Host evil[.]example[.]com contacted 203.0.113.7; "
                "see hxxp://evil[.]example[.]com/x. "
            ),
            [(DOMAIN, "evil.example.com"), (IPV4, "203.0.113.7"),
             (URL, "http://evil.example.com/x")],
        ),
    ],
    ids=lambda value: value[:12] if isinstance(value, str) else None,
)
def test_extract_handles_large_pathological_input(text, observables):
    # No timing assertion: a catastrophic backtrack would not finish, which the suite notices.
    assert len(text) >= SIZE
    assert extract(text) == observables
