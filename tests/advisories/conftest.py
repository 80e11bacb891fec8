import pytest

from tests.advisories.support import AdvisoryMaker
from tests.incidents.conftest import certs, clock, media, member, outsider  # noqa: F401


@pytest.fixture
def make_advisory(certs, member):  # noqa: F811
    """make_advisory(cert="national", tlp="TLP:CLEAR", published=True, **content) -> Advisory,
    written and (when published) approved through the services by members of `cert`."""
    return AdvisoryMaker(certs, member)
