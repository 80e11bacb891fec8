import pytest
from django.contrib.auth.models import Group

from organizations.models import Cert, Sector
from tests.structure import ensure_national_structure


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: rate-limit counters must not leak between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, with the national structure loaded once for the whole session.

    Loading it took most of the suite's time when every test did it. Each test runs in a transaction
    that is rolled back, so every test sees the structure exactly as loaded; a test that needs an
    empty registry asks for `empty_registry`.
    """
    with django_db_blocker.unblock():
        ensure_national_structure()


@pytest.fixture
def registry(db) -> dict[str, Cert]:
    """The national structure of DOMAIN.md §1 by slug, loaded once per session by its management
    command (django_db_setup above)."""
    ensure_national_structure()
    return {cert.slug: cert for cert in Cert.objects.select_related("parent", "sector")}


@pytest.fixture
def empty_registry(db) -> None:
    """No CERT, no CERT group and no sector, as in a new installation, for the tests of the registry's
    own rules, commands and pages. The session's national structure is deleted inside this test's
    transaction, so the rollback at the end of the test brings it back."""
    certs = Cert.objects.all()
    group_ids = list(certs.values_list("group_id", flat=True))
    # Parents are protected from deletion while they have children: delete the deepest CERTs first.
    for depth in sorted(set(certs.values_list("depth", flat=True)), reverse=True):
        Cert.objects.filter(depth=depth).delete()
    Group.objects.filter(pk__in=group_ids).delete()
    Sector.objects.all().delete()

