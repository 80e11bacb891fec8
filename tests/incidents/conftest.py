import pytest

from organizations.models import Cert
from organizations.services import membership_add
from tests.factories import UserFactory
from tests.structure import ensure_national_structure

ROLES = ("head", "handler", "analyst", "liaison")


@pytest.fixture
def certs(db) -> dict[str, Cert]:
    """The national structure by slug (national, government, federal, punjab, lahore, cii,
    banking, telecom, example-bank-soc, ...), loaded once per session (tests/conftest.py)."""
    ensure_national_structure()
    return {cert.slug: cert for cert in Cert.objects.all()}


@pytest.fixture
def member(certs):
    """member("lahore", "handler") -> a user who is a handler of the Lahore CERT (made once)."""
    made = {}

    def make(slug: str, role: str):
        key = (slug, role)
        if key not in made:
            user = UserFactory(username=f"{slug}.{role}.test", email=f"{slug}.{role}@t.example")
            membership_add(cert=certs[slug], user=user, role=role, actor=None)
            made[key] = user
        return made[key]

    return make


@pytest.fixture
def outsider(db):
    """Portal staff with no membership: sees nothing."""
    return UserFactory(username="outsider", is_staff=True)


