import json

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError

from incidents import taxonomy
from tests.incidents.shared import shared_standard_path

CLASSIFICATIONS = [
    ("abusive-content", "Abusive Content"),
    ("malicious-code", "Malicious Code"),
    ("information-gathering", "Information Gathering"),
    ("intrusion-attempts", "Intrusion Attempts"),
    ("intrusions", "Intrusions"),
    ("availability", "Availability"),
    ("information-content-security", "Information Content Security"),
    ("fraud", "Fraud"),
    ("vulnerable", "Vulnerable"),
    ("other", "Other"),
    ("test", "Test"),
]

TYPES = {
    "abusive-content": ["spam", "harmful-speech", "violence"],
    "malicious-code": [
        "infected-system", "c2-server", "malware-distribution", "malware-configuration",
    ],
    "information-gathering": ["scanner", "sniffing", "social-engineering"],
    "intrusion-attempts": ["ids-alert", "brute-force", "exploit"],
    "intrusions": [
        "privileged-account-compromise", "unprivileged-account-compromise",
        "application-compromise", "system-compromise", "burglary",
    ],
    "availability": ["dos", "ddos", "misconfiguration", "sabotage", "outage"],
    "information-content-security": [
        "unauthorised-information-access", "unauthorised-information-modification", "data-loss",
        "data-leak",
    ],
    "fraud": ["unauthorised-use-of-resources", "copyright", "masquerade", "phishing"],
    "vulnerable": [
        "weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible",
        "information-disclosure", "vulnerable-system",
    ],
    "other": ["other", "undetermined"],
    "test": ["test"],
}

ALL_CLASSIFICATIONS = (
    "abusive-content, malicious-code, information-gathering, intrusion-attempts, intrusions, "
    "availability, information-content-security, fraud, vulnerable, other, test"
)


@pytest.fixture
def fresh_taxonomy():
    """Forget the cached taxonomy before and after the test, which may point it at another file."""
    taxonomy.load.cache_clear()
    yield
    taxonomy.load.cache_clear()


def test_pinned_copy_is_identical_to_the_shared_standard():
    shared = shared_standard_path("rsit.json")
    assert taxonomy.RSIT_PATH.read_bytes() == shared.read_bytes()


def test_version_is_that_of_the_pinned_file():
    assert taxonomy.version() == 1003


def test_classifications_in_taxonomy_order():
    assert taxonomy.classifications() == CLASSIFICATIONS


@pytest.mark.parametrize(("classification", "types"), TYPES.items())
def test_types_for_each_classification(classification, types):
    assert [value for value, _, _ in taxonomy.types_for(classification)] == types


def test_types_for_gives_value_label_and_description():
    assert taxonomy.types_for("fraud")[3] == (
        "phishing",
        "Phishing",
        "Masquerading as another entity in order to persuade the user to reveal private "
        "credentials. This IOC most often refers to a URL, which is used to phish user "
        "credentials.",
    )
    assert taxonomy.types_for("test") == [("test", "Test", "Meant for testing.")]


@pytest.mark.parametrize("bad", ["frod", "Fraud", "", "phishing", None])
def test_types_for_an_unknown_classification_is_refused(bad):
    with pytest.raises(ValidationError) as caught:
        taxonomy.types_for(bad)
    assert caught.value.code == "unknown_classification"
    assert caught.value.messages == [
        f"{bad!r} is not an RSIT classification. Choose one of: {ALL_CLASSIFICATIONS}."
    ]


def test_choices_are_grouped_by_classification_label():
    choices = taxonomy.choices()
    assert [label for label, _ in choices] == [label for _, label in CLASSIFICATIONS]
    assert choices[0] == (
        "Abusive Content",
        [
            ("spam", "Spam"),
            ("harmful-speech", "Harmful Speech"),
            ("violence", "(Child) Sexual Exploitation/Sexual/Violent Content"),
        ],
    )
    assert [[value for value, _ in options] for _, options in choices] == list(TYPES.values())


def test_choices_work_as_a_grouped_django_select():
    field = forms.ChoiceField(choices=taxonomy.choices())
    assert field.clean("phishing") == "phishing"
    with pytest.raises(ValidationError):
        field.clean("fraud")  # a classification is a group, not an option
    html = str(forms.Select(choices=field.choices).render("type", "phishing"))
    assert '<optgroup label="Fraud">' in html
    assert '<option value="phishing" selected>Phishing</option>' in html


@pytest.mark.parametrize(
    ("incident_type", "classification"),
    [("phishing", "fraud"), ("spam", "abusive-content"), ("other", "other"), ("test", "test"),
     ("ddos-amplifier", "vulnerable"), ("ddos", "availability")],
)
def test_classification_of_a_type(incident_type, classification):
    assert taxonomy.classification_of(incident_type) == classification


def test_classification_of_an_unknown_type_is_refused():
    with pytest.raises(ValidationError) as caught:
        taxonomy.classification_of("fishing")
    assert caught.value.code == "unknown_type"
    message = caught.value.messages[0]
    assert message.startswith("'fishing' is not an RSIT incident type. Choose one of: spam, ")
    assert message.endswith(", other, undetermined, test.")


@pytest.mark.parametrize(
    ("classification", "incident_type"),
    [(c, t) for c, types in TYPES.items() for t in types],
)
def test_every_pinned_pair_is_valid(classification, incident_type):
    assert taxonomy.validate_classification(classification, incident_type) is None


@pytest.mark.parametrize(
    ("classification", "incident_type", "code", "message"),
    [
        (
            "fraud", "spam", "type_not_in_classification",
            "'spam' is not a type of the RSIT classification 'fraud' ('spam' belongs to "
            "'abusive-content'). Choose one of: unauthorised-use-of-resources, copyright, "
            "masquerade, phishing.",
        ),
        (
            "test", "fishing", "type_not_in_classification",
            "'fishing' is not a type of the RSIT classification 'test' ('fishing' is not an RSIT "
            "incident type). Choose one of: test.",
        ),
        (
            "other", "", "type_not_in_classification",
            "'' is not a type of the RSIT classification 'other' ('' is not an RSIT incident "
            "type). Choose one of: other, undetermined.",
        ),
        (
            "fraud", "Phishing", "type_not_in_classification",
            "'Phishing' is not a type of the RSIT classification 'fraud' ('Phishing' is not an "
            "RSIT incident type). Choose one of: unauthorised-use-of-resources, copyright, "
            "masquerade, phishing.",
        ),
        (
            "frauds", "phishing", "unknown_classification",
            f"'frauds' is not an RSIT classification. Choose one of: {ALL_CLASSIFICATIONS}.",
        ),
        (
            "phishing", "phishing", "unknown_classification",
            f"'phishing' is not an RSIT classification. Choose one of: {ALL_CLASSIFICATIONS}.",
        ),
    ],
)
def test_invalid_pairs_are_refused_with_what_to_choose(
    classification, incident_type, code, message
):
    with pytest.raises(ValidationError) as caught:
        taxonomy.validate_classification(classification, incident_type)
    assert caught.value.code == code
    assert caught.value.messages == [message]


def test_the_file_is_read_once(fresh_taxonomy, monkeypatch):
    reads = []
    original = type(taxonomy.RSIT_PATH).read_text

    def counting_read_text(path, *args, **kwargs):
        reads.append(path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(type(taxonomy.RSIT_PATH), "read_text", counting_read_text)
    taxonomy.classifications()
    taxonomy.types_for("fraud")
    taxonomy.validate_classification("fraud", "phishing")
    assert reads == [taxonomy.RSIT_PATH]


def _rsit(predicates, values):
    return {
        "version": 1,
        "predicates": [{"value": p, "expanded": p.title()} for p in predicates],
        "values": [
            {"predicate": p, "entry": [{"value": t, "expanded": t.title()} for t in types]}
            for p, types in values.items()
        ],
    }


@pytest.mark.parametrize(
    ("content", "message_part"),
    [
        (
            _rsit(["a", "b"], {"a": ["x"], "b": ["x"]}),
            "the type 'x' appears in more than one classification",
        ),
        (_rsit(["a"], {"a": ["x"], "z": ["y"]}), "types listed for unknown classifications ['z']"),
        ({"version": 1, "predicates": []}, "is not an RSIT taxonomy file: KeyError('values')"),
        ({"version": "one", "predicates": [], "values": []}, "is not an RSIT taxonomy file"),
    ],
)
def test_a_malformed_file_stops_the_portal(
    fresh_taxonomy, monkeypatch, tmp_path, content, message_part
):
    path = tmp_path / "rsit.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    monkeypatch.setattr(taxonomy, "RSIT_PATH", path)
    with pytest.raises(ImproperlyConfigured) as caught:
        taxonomy.classifications()
    assert message_part in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_classification_without_types_has_none(fresh_taxonomy, monkeypatch, tmp_path):
    path = tmp_path / "rsit.json"
    path.write_text(json.dumps(_rsit(["a", "b"], {"a": ["x"]})), encoding="utf-8")
    monkeypatch.setattr(taxonomy, "RSIT_PATH", path)
    assert taxonomy.classifications() == [("a", "A"), ("b", "B")]
    assert taxonomy.types_for("b") == []
    assert taxonomy.types_for("a") == [("x", "X", "")]
