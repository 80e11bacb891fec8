"""Tree queries cost the same number of queries at any depth."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CertFactory


@pytest.fixture
def chain(empty_registry):
    """The deepest chain the rules allow: national > government > provincial > local >
    organizational (five levels, depths 0 to 4)."""
    national = CertFactory(kind="national")
    government = CertFactory(kind="government", parent=national)
    punjab = CertFactory(kind="provincial", parent=government, region="PK-PB")
    lahore = CertFactory(kind="local", parent=punjab, region="PK-PB")
    org = CertFactory(kind="organizational", parent=lahore)
    return [national, government, punjab, lahore, org]


def count_queries(function):
    with CaptureQueriesContext(connection) as captured:
        result = function()
    return len(captured), result


@pytest.mark.parametrize("query", ["ancestors", "path_to_root", "descendants"])
def test_tree_queries_cost_the_same_at_depth_2_and_depth_5(chain, query):
    shallow, deep = chain[1], chain[4]  # two levels and five levels from the root, included
    shallow_count, _ = count_queries(lambda: list(getattr(shallow, query)()))
    deep_count, _ = count_queries(lambda: list(getattr(deep, query)()))
    assert shallow_count == deep_count == 1


def test_tree_queries_return_the_right_certs_in_order(chain):
    national, government, punjab, lahore, org = chain
    assert list(org.ancestors()) == [national, government, punjab, lahore]
    assert org.path_to_root() == [org, lahore, punjab, government, national]
    assert set(government.descendants()) == {punjab, lahore, org}
    assert list(national.ancestors()) == []
    assert not org.descendants().exists()
    assert [cert.depth for cert in chain] == [0, 1, 2, 3, 4]
    assert government.is_ancestor_of(org) and not org.is_ancestor_of(government)
    assert not punjab.is_ancestor_of(punjab)


def test_descendants_do_not_match_a_sibling_whose_id_shares_a_prefix(empty_registry):
    # Paths end each id with the separator, so CERT 1 is not mistaken for the parent of CERT 12.
    national = CertFactory(kind="national")
    government = CertFactory(kind="government", parent=national)
    cii = CertFactory(kind="cii", parent=national)
    provinces = [CertFactory(kind="provincial", parent=government, region=region)
                 for region in ["PK-PB", "PK-SD", "PK-KP", "PK-BA", "PK-IS", "PK-GB", "PK-JK"]]
    assert set(government.descendants()) == set(provinces)
    assert not cii.descendants().exists()
