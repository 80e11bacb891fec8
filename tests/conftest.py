import pytest
from django.core.management import call_command

from organizations.models import Cert


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: rate-limit counters must not leak between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def registry(db) -> dict[str, Cert]:
    """The national structure of DOMAIN.md §1, loaded by its management command, by slug."""
    call_command("load_national_structure", verbosity=0, stdout=_Null())
    return {cert.slug: cert for cert in Cert.objects.select_related("parent", "sector")}


class _Null:
    def write(self, text):
        pass

    def flush(self):
        pass
