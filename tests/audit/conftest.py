"""Fixtures of the audit trail's tests: the personas of tests/incidents (the national structure,
members by CERT and role, an outsider) and its frozen clock."""

from tests.incidents.conftest import certs, clock, member, outsider  # noqa: F401
