"""Properties of TLP and of the grant derivations (DOMAIN.md §2): incidents.tlp,
incidents.grants.derive_grants and advisories.grants.derive_advisory_grants, against the access
table retyped here from DOMAIN.md. Pure functions: no database."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from advisories.grants import derive_advisory_grants
from incidents.grants import COMMENT, VIEW, WORK, derive_grants
from incidents.tlp import Tlp, as_tlp, is_less_strict, is_stricter, strictness, validate_tlp

# FIRST TLP 2.0, least strict first (DOMAIN.md §2).
ORDER = ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
# DOMAIN.md §2, access table: oversight and shares see these labels only.
ANCESTORS_SEE = {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"}
SHARES_SEE = {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"}

labels = st.sampled_from(ORDER)
cert_ids = st.integers(min_value=1, max_value=40)


@st.composite
def incident_inputs(draw):
    """An owner path (root first, owner last, no repeats), earlier owners and shares drawn from
    the same small id space, so that the roles overlap as they do in a real tree."""
    path = draw(st.lists(cert_ids, min_size=1, max_size=6, unique=True))
    return {"owner_path_ids": path,
            "earlier_owner_ids": draw(st.lists(cert_ids, max_size=5)),
            "shared_cert_ids": draw(st.lists(cert_ids, max_size=5)),
            "tlp": draw(labels)}


def expected_incident_grants(*, owner_path_ids, earlier_owner_ids, shared_cert_ids, tlp):
    """The access table of DOMAIN.md §2, the most access any relation gives."""
    *ancestors, owner = owner_path_ids
    grants: dict[int, set[str]] = {}
    for cert in ancestors:
        if tlp in ANCESTORS_SEE:
            grants.setdefault(cert, set()).add(VIEW)
    for cert in shared_cert_ids:
        if tlp in SHARES_SEE:
            grants.setdefault(cert, set()).add(VIEW)
    for cert in earlier_owner_ids:
        grants.setdefault(cert, set()).update({VIEW, COMMENT})
    grants.setdefault(owner, set()).update({VIEW, COMMENT, WORK})
    return grants


def _as_sets(grants):
    return {cert: set(names) for cert, names in grants.items()}


@given(incident_inputs())
def test_incident_grants_follow_the_access_table(inputs):
    assert _as_sets(derive_grants(**inputs)) == expected_incident_grants(**inputs)


@given(incident_inputs())
def test_the_owner_always_works_the_incident(inputs):
    owner = inputs["owner_path_ids"][-1]
    assert derive_grants(**inputs)[owner] == {VIEW, COMMENT, WORK}


@given(incident_inputs(), st.randoms(use_true_random=False))
def test_incident_grants_are_a_pure_function_of_their_inputs(inputs, random):
    first = derive_grants(**inputs)
    again = derive_grants(**inputs)
    earlier, shared = list(inputs["earlier_owner_ids"]), list(inputs["shared_cert_ids"])
    random.shuffle(earlier)
    random.shuffle(shared)
    # Generators rather than lists: the function must not depend on the container either.
    shuffled = derive_grants(owner_path_ids=list(inputs["owner_path_ids"]),
                             earlier_owner_ids=iter(earlier), shared_cert_ids=iter(shared),
                             tlp=inputs["tlp"])
    assert first == again == shuffled


@given(incident_inputs(), labels, labels)
def test_a_stricter_label_never_grants_more(inputs, a, b):
    stricter, looser = (a, b) if ORDER.index(a) >= ORDER.index(b) else (b, a)
    strict = derive_grants(**{**inputs, "tlp": stricter})
    loose = derive_grants(**{**inputs, "tlp": looser})
    assert strict.keys() <= loose.keys()
    for cert, names in strict.items():
        assert names <= loose[cert]


@given(incident_inputs().filter(lambda inputs: inputs["tlp"] in ("TLP:AMBER+STRICT", "TLP:RED")))
def test_amber_strict_and_red_reach_only_owners(inputs):
    """Under AMBER+STRICT and RED neither oversight nor a share gives access: only the current
    and earlier owners hold a grant."""
    owners = {inputs["owner_path_ids"][-1], *inputs["earlier_owner_ids"]}
    assert set(derive_grants(**inputs)) <= owners


@given(incident_inputs())
def test_no_grant_goes_to_an_unrelated_cert(inputs):
    related = {*inputs["owner_path_ids"], *inputs["earlier_owner_ids"], *inputs["shared_cert_ids"]}
    assert set(derive_grants(**inputs)) <= related


@st.composite
def advisory_inputs(draw):
    return {"author_cert_id": draw(cert_ids), "published": draw(st.booleans()),
            "tlp": draw(labels), "audience_ids": draw(st.lists(cert_ids, max_size=6)),
            "reader_ids": draw(st.lists(st.integers(1, 30), max_size=6))}


def advisory_readers(inputs, *, every_cert: set[int]):
    """Which CERTs (by group grant or by the label itself) and which named users may read the
    advisory, per DOMAIN.md §2: CLEAR everyone, GREEN every CERT, AMBER and AMBER+STRICT the
    audience plus the author CERT, RED named people (and the author CERT, which wrote it).
    Computed from derive_advisory_grants plus the label rule advisories.access applies."""
    certs, users = derive_advisory_grants(**inputs)
    readers = {cert for cert, names in certs.items() if "view_advisory" in names}
    if inputs["published"] and inputs["tlp"] in ("TLP:CLEAR", "TLP:GREEN"):
        readers |= every_cert
    return readers, {user for user, names in users.items() if "view_advisory" in names}


@given(advisory_inputs())
def test_advisory_grants_follow_the_rules(inputs):
    certs, users = derive_advisory_grants(**inputs)
    author, tlp, published = inputs["author_cert_id"], inputs["tlp"], inputs["published"]
    expected_certs = {author: {"view_advisory", "work_advisory"}}
    if published and tlp in ("TLP:AMBER", "TLP:AMBER+STRICT"):
        for cert in inputs["audience_ids"]:
            expected_certs.setdefault(cert, set()).add("view_advisory")
    expected_users = ({user: {"view_advisory"} for user in inputs["reader_ids"]}
                      if published and tlp == "TLP:RED" else {})
    assert _as_sets(certs) == expected_certs
    assert _as_sets(users) == expected_users


@given(advisory_inputs(), st.randoms(use_true_random=False))
def test_advisory_grants_are_a_pure_function_of_their_inputs(inputs, random):
    audience, readers = list(inputs["audience_ids"]), list(inputs["reader_ids"])
    random.shuffle(audience)
    random.shuffle(readers)
    assert (derive_advisory_grants(**inputs) == derive_advisory_grants(**inputs)
            == derive_advisory_grants(**{**inputs, "audience_ids": iter(audience),
                                          "reader_ids": iter(readers)}))


@given(advisory_inputs(), labels, labels)
def test_a_stricter_advisory_label_never_reaches_more_certs(inputs, a, b):
    """Monotonic in who can read (grants and the label rule together): moving from GREEN to
    AMBER adds audience grants but takes away every other CERT."""
    stricter, looser = (a, b) if ORDER.index(a) >= ORDER.index(b) else (b, a)
    every_cert = set(range(1, 41))
    strict_certs, _ = advisory_readers({**inputs, "tlp": stricter}, every_cert=every_cert)
    loose_certs, _ = advisory_readers({**inputs, "tlp": looser}, every_cert=every_cert)
    assert strict_certs <= loose_certs
    # The author CERT keeps its access whatever the label and state.
    assert inputs["author_cert_id"] in strict_certs


@given(advisory_inputs())
def test_an_unpublished_advisory_reaches_only_its_author(inputs):
    certs, users = derive_advisory_grants(**{**inputs, "published": False})
    assert set(certs) == {inputs["author_cert_id"]} and users == {}


@given(labels, labels)
def test_strictness_is_one_total_order(a, b):
    assert strictness(a) == ORDER.index(a)
    assert is_stricter(a, b) == (ORDER.index(a) > ORDER.index(b)) == is_less_strict(b, a)
    assert not (is_stricter(a, b) and is_less_strict(a, b))


@given(st.one_of(st.text(), st.none(), st.integers(), st.binary()))
def test_an_unknown_label_is_refused_with_a_validation_error(value):
    if value in Tlp.values:
        assert as_tlp(value) == value
    else:
        with pytest.raises(ValidationError) as refused:
            validate_tlp(value)
        assert refused.value.code == "invalid_tlp"
