"""The national structure of DOMAIN.md §1 in the test database: loaded once per session by
tests/conftest.py, and again only where a transactional test has flushed it."""

from django.core.management import call_command

from organizations.models import Cert
from organizations.national_structure import CERTS

NATIONAL_STRUCTURE_SLUGS = frozenset(entry["slug"] for entry in CERTS)


def ensure_national_structure() -> None:
    """Load the national structure by its management command, unless it is all there (one query).

    It is missing after a transactional test, whose database is flushed when the test ends
    (pytest-django runs those after the others; tests/incidents/test_concurrency.py, on PostgreSQL);
    the loader then fills in what is missing and leaves the rest as it is.
    """
    present = Cert.objects.filter(slug__in=NATIONAL_STRUCTURE_SLUGS).count()
    if present < len(NATIONAL_STRUCTURE_SLUGS):
        call_command("load_national_structure", verbosity=0, stdout=_Null())


class _Null:
    def write(self, text):
        pass

    def flush(self):
        pass
