"""The personas of tests/incidents and the two-factor client of tests/dashboard, for the tests of
sign-in and the two-factor page."""

from tests.dashboard.conftest import certs, clock, member, outsider, staff_client  # noqa: F401
