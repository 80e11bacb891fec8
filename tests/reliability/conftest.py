"""Fixtures of the fault tests: the personas and clients of tests/incidents, tests/api and
tests/dashboard."""

from tests.api.conftest import issue_key, key_client  # noqa: F401
from tests.dashboard.conftest import staff_client  # noqa: F401
from tests.incidents.conftest import certs, media, member, rules  # noqa: F401
