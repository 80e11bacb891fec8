import inspect
import itertools
import re

import pytest
from django import forms
from django.core.exceptions import ValidationError

from incidents import tlp
from incidents.tlp import Tlp
from tests.incidents.shared import shared_standard

ALLOWED = "TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED"


def test_labels_are_exactly_those_of_tlp_2():
    assert [(t.value, t.label) for t in Tlp] == [
        ("TLP:CLEAR", "TLP:CLEAR"),
        ("TLP:GREEN", "TLP:GREEN"),
        ("TLP:AMBER", "TLP:AMBER"),
        ("TLP:AMBER+STRICT", "TLP:AMBER+STRICT"),
        ("TLP:RED", "TLP:RED"),
    ]


# --- The default label of incidents (issue 7, finding 11) -------------------------------------
# DOMAIN.md §2: "Incidents default to TLP:AMBER". Each place that gives an incident its label when
# nobody chose one is asked here; each must be the one constant, and the constant must be AMBER.

def test_the_default_incident_label_is_amber():
    assert tlp.DEFAULT_INCIDENT_TLP == Tlp.AMBER == "TLP:AMBER"


def test_the_model_the_service_and_the_staff_form_default_to_the_constant():
    from incidents.forms import IncidentCreateForm
    from incidents.models import Incident
    from incidents.services import incident_create

    assert Incident._meta.get_field("tlp").default == tlp.DEFAULT_INCIDENT_TLP
    assert inspect.signature(incident_create).parameters["tlp"].default == \
        tlp.DEFAULT_INCIDENT_TLP
    assert IncidentCreateForm.base_fields["tlp"].initial == tlp.DEFAULT_INCIDENT_TLP


@pytest.mark.django_db
def test_an_incident_opened_without_a_label_gets_the_default(certs):
    from incidents.services import incident_create

    incident = incident_create(actor=None, owner_cert=certs["lahore"], title="No label chosen",
                               classification="fraud", incident_type="phishing")

    incident.refresh_from_db()
    assert incident.tlp == "TLP:AMBER"


@pytest.mark.django_db
def test_a_report_sent_through_the_public_form_is_labelled_amber(certs):
    from django.test import Client

    from incidents.models import Incident, Source

    client = Client()
    page = client.get("/report/").content.decode()
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)

    response = client.post("/report/", {
        "submission_key": key, "category": "phishing", "title": "Fake bank SMS",
        "description": "An SMS pretending to be my bank asked for my PIN.",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    incident = Incident.objects.get(submission_key=key)
    assert (incident.source, incident.tlp) == (Source.PUBLIC_FORM, "TLP:AMBER")


def test_strictness_order():
    assert sorted(Tlp, key=tlp.strictness, reverse=True) == [
        Tlp.RED, Tlp.AMBER_STRICT, Tlp.AMBER, Tlp.GREEN, Tlp.CLEAR,
    ]
    assert [tlp.strictness(label) for label in Tlp.values] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("a", "b", "stricter", "less_strict"),
    [
        (Tlp.RED, Tlp.AMBER, True, False),
        (Tlp.AMBER, Tlp.RED, False, True),
        (Tlp.AMBER_STRICT, Tlp.AMBER, True, False),
        (Tlp.AMBER, Tlp.AMBER_STRICT, False, True),
        (Tlp.GREEN, Tlp.CLEAR, True, False),
        (Tlp.CLEAR, Tlp.GREEN, False, True),
        (Tlp.RED, Tlp.AMBER_STRICT, True, False),
        (Tlp.AMBER, Tlp.AMBER, False, False),
        ("TLP:RED", "TLP:RED", False, False),
        ("TLP:RED", "TLP:CLEAR", True, False),
        ("TLP:GREEN", Tlp.AMBER, False, True),
    ],
)
def test_is_stricter_and_is_less_strict(a, b, stricter, less_strict):
    assert tlp.is_stricter(a, b) is stricter
    assert tlp.is_less_strict(a, b) is less_strict


@pytest.mark.parametrize(("a", "b"), list(itertools.product(Tlp, repeat=2)))
def test_exactly_one_relation_holds_between_any_two_labels(a, b):
    relations = [tlp.is_stricter(a, b), tlp.is_less_strict(a, b), a == b]
    assert relations.count(True) == 1
    assert tlp.is_stricter(a, b) == tlp.is_less_strict(b, a)


@pytest.mark.parametrize(
    ("label", "shareable", "visible_to_ancestors"),
    [
        (Tlp.CLEAR, True, True),
        (Tlp.GREEN, True, True),
        (Tlp.AMBER, True, True),
        (Tlp.AMBER_STRICT, False, False),
        (Tlp.RED, False, False),
        ("TLP:AMBER", True, True),
        ("TLP:AMBER+STRICT", False, False),
    ],
)
def test_sharing_and_oversight_rules(label, shareable, visible_to_ancestors):
    assert tlp.shareable(label) is shareable
    assert tlp.visible_to_ancestors(label) is visible_to_ancestors


@pytest.mark.parametrize(
    ("label", "colour"),
    [
        (Tlp.CLEAR, "#ffffff"),
        (Tlp.GREEN, "#33FF00"),
        (Tlp.AMBER, "#FFC000"),
        (Tlp.AMBER_STRICT, "#FFC000"),
        ("TLP:RED", "#FF2B2B"),
    ],
)
def test_colours(label, colour):
    assert tlp.colour(label) == colour


def test_colours_match_the_shared_standard():
    standard = shared_standard("tlp.json")
    by_value = {p["value"]: p["colour"] for p in standard["predicates"]}
    assert {label.value: tlp.colour(label) for label in Tlp} == {
        f"TLP:{value.upper()}": by_value[value]
        for value in ("clear", "green", "amber", "amber+strict", "red")
    }


@pytest.mark.parametrize("label", [*Tlp, *Tlp.values])
def test_valid_labels_pass(label):
    assert tlp.validate_tlp(label) is None
    assert tlp.as_tlp(label) is Tlp(label)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("TLP:WHITE", f"'TLP:WHITE' is not a TLP 2.0 label. Use one of: {ALLOWED}. TLP:WHITE is "
                      f"TLP 1.0; TLP 2.0 calls it TLP:CLEAR."),
        ("white", f"'white' is not a TLP 2.0 label. Use one of: {ALLOWED}. TLP:WHITE is TLP 1.0; "
                  f"TLP 2.0 calls it TLP:CLEAR."),
        ("tlp:red", f"'tlp:red' is not a TLP 2.0 label. Use one of: {ALLOWED}. "
                    f"Did you mean 'TLP:RED'?"),
        ("amber+strict", f"'amber+strict' is not a TLP 2.0 label. Use one of: {ALLOWED}. "
                         f"Did you mean 'TLP:AMBER+STRICT'?"),
        (" TLP:GREEN", f"' TLP:GREEN' is not a TLP 2.0 label. Use one of: {ALLOWED}. "
                       f"Did you mean 'TLP:GREEN'?"),
        ("TLP:AMBER-STRICT", f"'TLP:AMBER-STRICT' is not a TLP 2.0 label. Use one of: {ALLOWED}."),
        ("", f"'' is not a TLP 2.0 label. Use one of: {ALLOWED}."),
        (None, f"None is not a TLP 2.0 label. Use one of: {ALLOWED}."),
        (2, f"2 is not a TLP 2.0 label. Use one of: {ALLOWED}."),
    ],
)
def test_invalid_labels_are_refused_naming_the_allowed_ones(value, message):
    with pytest.raises(ValidationError) as caught:
        tlp.validate_tlp(value)
    assert caught.value.code == "invalid_tlp"
    assert caught.value.messages == [message]


@pytest.mark.parametrize(
    "call",
    [
        lambda: tlp.shareable("TLP:WHITE"),
        lambda: tlp.visible_to_ancestors("RED"),
        lambda: tlp.is_stricter("TLP:RED", "TLP:PURPLE"),
        lambda: tlp.is_less_strict(None, "TLP:RED"),
        lambda: tlp.colour("amber"),
        lambda: tlp.strictness("TLP:AMBER+strict"),
    ],
)
def test_rules_fail_closed_on_unknown_labels(call):
    with pytest.raises(ValidationError):
        call()


def test_validate_tlp_works_as_a_form_field_validator():
    field = forms.CharField(validators=[tlp.validate_tlp])
    assert field.clean("TLP:AMBER+STRICT") == "TLP:AMBER+STRICT"
    with pytest.raises(ValidationError) as caught:
        field.clean("TLP:WHITE")
    assert caught.value.messages[0].startswith("'TLP:WHITE' is not a TLP 2.0 label.")
