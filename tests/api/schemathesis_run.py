"""Schemathesis against /api/schema/ (issue 11): every operation of /api/v1/, called in-process
through the WSGI application with a valid read-write key, on the test database with the national
structure and some demo data. A server error (5xx) or an answer the schema does not describe
(status, content type, body, headers) fails the run.

Not collected by `make test` (the name does not start with test_); .ci/run runs it:

    .venv/bin/python -m pytest tests/api/schemathesis_run.py -p no:cacheprovider

SCHEMATHESIS_MAX_EXAMPLES (default 20) bounds the examples per operation, and so the time; run
it with API_RATE_LIMIT raised (as .ci/run does), or the per-key limit answers 429 (documented,
so no failure, but nothing tested) once the examples pass it.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.advisories.support import AdvisoryMaker
from tests.factories import make_incident

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


@pytest.fixture
def demo_data(certs, member):
    """Advisories under each label and drafts, and incidents, so that reads find rows."""
    make = AdvisoryMaker(certs, member)
    for tlp in ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER"):
        make(cert="national", tlp=tlp, cve_ids=["CVE-2026-1234"],
             products=[{"vendor": "Acme", "product": "Router", "versions": "1.0"}])
    make(cert="national", published=False)
    for _ in range(3):
        make_incident(owner_cert=certs["national"])


@pytest.fixture
def secret(issue_key, demo_data):
    return issue_key("national", scope="read-write", name="schemathesis")[1]


def test_the_api_keeps_to_its_schema(secret):
    """Each operation, with schema-valid (positive) and schema-breaking (negative) examples.

    The operations are walked here rather than with schemathesis's pytest integration
    (`schemathesis.pytest.from_fixture`), which fails under pytest 9 (it reads a node attribute
    pytest 9 removed); the checks are the same."""
    from cert_portal.wsgi import application

    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application, headers=headers)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def call(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                call()
            except Exception as failure:  # noqa: BLE001 - every failure is reported, then fails
                failures.append(f"{operation.label} ({mode}): {failure}")
    assert operations >= 6, "the schema lists too few operations"
    assert not failures, "\n\n".join(failures)
