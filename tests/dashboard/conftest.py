"""Fixtures of the staff dashboard's tests: the personas of tests/incidents, and a client that has
signed in with both factors."""

import pytest
from django.test import Client

from tests.incidents.conftest import certs, clock, media, member, outsider, rules  # noqa: F401
from tests.twofactor import sign_in


@pytest.fixture
def staff_client():
    """staff_client(user) -> a new test client signed in as `user` with both factors."""
    return lambda user: sign_in(Client(), user)
