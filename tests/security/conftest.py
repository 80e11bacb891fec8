"""Fixtures of the hostile-input tests (issue 13, item 6): the personas of tests/incidents, API
keys of tests/api, signed-in staff clients of tests/dashboard and advisories of
tests/advisories."""

from tests.advisories.conftest import make_advisory  # noqa: F401
from tests.api.conftest import issue_key, key_client  # noqa: F401
from tests.dashboard.conftest import staff_client  # noqa: F401
from tests.incidents.conftest import certs, clock, media, member, outsider, rules  # noqa: F401
