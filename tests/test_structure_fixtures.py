"""The suite's national structure (tests/conftest.py, tests/structure.py): loaded once per session,
the same for every test, emptied only where a test asks for it, and reloaded where it is missing."""

from django.contrib.auth.models import Group

from organizations.models import Cert, Sector
from organizations.national_structure import CERTS, SECTORS
from organizations.services import group_name_for
from tests.structure import NATIONAL_STRUCTURE_SLUGS, ensure_national_structure


def _structure_rows() -> tuple[set[str], set[str], set[str]]:
    return (set(Cert.objects.values_list("slug", flat=True)),
            set(Sector.objects.values_list("slug", flat=True)),
            set(Group.objects.values_list("name", flat=True)))


WHOLE_STRUCTURE = ({entry["slug"] for entry in CERTS}, {sector[0] for sector in SECTORS},
                   {group_name_for(entry["slug"]) for entry in CERTS})


def test_registry_is_the_whole_national_structure_with_groups_and_paths(registry):
    assert set(registry) == NATIONAL_STRUCTURE_SLUGS == WHOLE_STRUCTURE[0]
    assert _structure_rows() == WHOLE_STRUCTURE
    for cert in registry.values():
        expected_path = f"{cert.parent.path if cert.parent else '/'}{cert.pk}/"
        assert cert.path == expected_path
        assert cert.group.name == group_name_for(cert.slug)


def test_empty_registry_leaves_no_cert_group_or_sector(empty_registry):
    assert _structure_rows() == (set(), set(), set())


def test_the_structure_is_back_after_a_test_emptied_it(db):
    # Runs after the test above (same file, same kind of database test, so pytest keeps the order).
    assert _structure_rows() == WHOLE_STRUCTURE


def test_a_test_that_changes_the_structure_leaves_it_unchanged_for_the_next(registry):
    Cert.objects.filter(slug="lahore").update(name="Changed by a test")
    assert Cert.objects.get(slug="lahore").name == "Changed by a test"


def test_the_change_of_the_test_above_was_rolled_back(registry):
    assert registry["lahore"].name == "Lahore Metropolitan CERT"


def test_ensure_reloads_a_structure_that_a_flush_removed(empty_registry, django_assert_num_queries):
    ensure_national_structure()

    assert _structure_rows() == WHOLE_STRUCTURE
    with django_assert_num_queries(1):  # when it is all there, one query and no load
        ensure_national_structure()


def test_ensure_fills_in_a_structure_that_lost_part_of_it(registry):
    leaves = Cert.objects.filter(depth=max(cert.depth for cert in registry.values()))
    group_ids = list(leaves.values_list("group_id", flat=True))
    leaves.delete()
    Group.objects.filter(pk__in=group_ids).delete()
    assert 0 < Cert.objects.count() < len(NATIONAL_STRUCTURE_SLUGS)

    ensure_national_structure()

    assert _structure_rows() == WHOLE_STRUCTURE
