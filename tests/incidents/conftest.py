from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from organizations.models import Cert
from organizations.services import membership_add
from tests.factories import UserFactory
from tests.incidents.support import STAFF_DOMAIN, FrozenClock
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
            user = UserFactory(username=f"{slug}.{role}.test", email=f"{slug}.{role}{STAFF_DOMAIN}")
            membership_add(cert=certs[slug], user=user, role=role, actor=None)
            made[key] = user
        return made[key]

    return make


@pytest.fixture
def outsider(db):
    """Portal staff with no membership: sees nothing."""
    return UserFactory(username="outsider", is_staff=True)


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    """django.utils.timezone.now frozen at support.T0 until the test moves it."""
    return FrozenClock(monkeypatch)


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """An empty MEDIA_ROOT of this test's own, where attachments are stored."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def rules(certs, media):
    """The default routing rules of public reports, as `make run` loads them."""
    call_command("load_routing_rules", stdout=StringIO())
    return certs
