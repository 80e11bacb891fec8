from tests.advisories.conftest import make_advisory  # noqa: F401
from tests.incidents.conftest import certs, clock, media, member, outsider  # noqa: F401
