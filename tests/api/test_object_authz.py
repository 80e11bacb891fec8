"""Object-level authorization of /api/v1/ with schemathesis (issue 13, item 6; DOMAIN.md §2, §6).

CERT A (the Example Bank SOC, under the banking CERT) owns incidents under every TLP label, with an
observable, a comment and an attachment, an advisory draft and a published TLP:AMBER advisory for
its audience. CERT B (the Example Telecom CSIRT, under the telecom CERT) is unrelated: neither is
an ancestor of the other, nothing is shared. For every operation of /api/schema/ that takes a path
parameter, schemathesis builds the requests (its own positive and negative bodies and queries) and
a schema hook (`map_path_parameters`) puts A's object in the path. Sent with B's key, the answer
must be the one a missing object gets (404, or the same refusal a nonexistent object gets, never
2xx) and must hold none of A's data; the same request sent with A's key must not be that answer.
Operations that list things must list none of A's objects for B.

What of schemathesis is used: `from_wsgi` (in-process, no network), `as_strategy` with both
generation modes, a schema-scoped `map_path_parameters` hook, two custom checks registered with
`schemathesis.check`, and the built-in `not_a_server_error` and `ignored_auth` (on A's requests:
the same request without a key or with a wrong key must be refused). `ensure_resource_availability`
and `use_after_free` are not used: they judge stateful runs (links between a creating POST and
the following calls), and this schema declares no links; the question here is one of two callers
on the same object, which no built-in check asks.

Not covered because the API has no such operation: webhook endpoints and attachment downloads
(dashboard only, tested in tests/dashboard and tests/security).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth

from incidents.models import Comment, Incident, IncidentShare, Observable, TimelineEvent
from incidents.services import incident_add_observable, incident_attach, incident_comment
from incidents.tlp import Tlp
from tests.advisories.support import AdvisoryMaker
from tests.factories import make_incident

OWNER = "example-bank-soc"  # CERT A
OTHER = "example-telecom-csirt"  # CERT B: other parent, neither an ancestor of the other
# Written into A's objects, so that any leak of them into one of B's answers is seen.
MARK = "Karakoram7731"
A_IP = "198.51.100.213"
A_DOMAIN = "karakoram7731-c2.example"
MISSING = {"reference": "PK-INC-2099-999999", "slug": "no-such-cert"}
# Few examples per operation, object and mode keep the file to about a minute on each database;
# derandomize makes a failure reproduce exactly.
EXAMPLES = 3


def _operation_labels() -> list[str]:
    """Every operation of the schema, read when the tests are collected, so that each becomes a
    test whose id names it and a new endpoint is covered the day it is added."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return [f"{method.upper()} {path}" for path, methods in paths.items() for method in methods
            if method != "parameters"]


LABELS = _operation_labels()
WITH_PATH_PARAMETER = [label for label in LABELS if "{" in label]
LISTS = [label for label in LABELS if "{" not in label and label.startswith("GET ")]
# The registry is public (DOMAIN.md §1: every CERT has a public profile): both CERTs read A's.
PUBLIC = {"GET /api/v1/certs/{slug}/"}


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Calling the WSGI application directly sends request_started and request_finished, whose
    close_old_connections would close the test's connection inside its transaction (PostgreSQL:
    "the connection is closed", answered 503). Django's test client detaches it the same way."""
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    yield
    for signal in signals:
        signal.connect(close_old_connections)


@pytest.fixture
def world(certs, member, media, key_client, settings, wsgi_keeps_the_test_connection):
    """A's objects and both API clients' secrets; returns a dict the tests read."""
    # Every example is a request with each key: the per-key limit would answer 429 long before
    # the end (documented, so not a failure, but nothing tested).
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"api_key": "100000/minute"}}
    handler = member(OWNER, "handler")
    incidents = []
    for tlp in Tlp.values:
        incident = make_incident(owner_cert=certs[OWNER], actor=handler, tlp=tlp,
                                 title=f"{MARK} breach under {tlp}",
                                 description=f"Beacon to {A_DOMAIN} from {A_IP}.")
        incidents.append(incident)
    first = incidents[0]
    incident_comment(incident=first, actor=handler, body=f"{MARK} internal note")
    incident_add_observable(incident=first, actor=handler, type="email",
                            value=f"{MARK.lower()}@example.org")
    incident_attach(incident=first, actor=handler,
                    uploaded_file=SimpleUploadedFile(f"{MARK}-sample.txt", b"not malware"))
    make = AdvisoryMaker(certs, member)
    draft = make(cert=OWNER, published=False, tlp="TLP:AMBER", title=f"{MARK} draft advisory")
    amber = make(cert=OWNER, tlp="TLP:AMBER", title=f"{MARK} amber advisory",
                 audience_ids=[certs["banking"].pk])
    owner_client, other_client = key_client(OWNER), key_client(OTHER)
    return {
        "incidents": [incident.reference for incident in incidents],
        "advisories": [draft.reference, amber.reference],
        "slug": certs[OWNER].slug,
        "owner": dict(owner_client._credentials),
        "other": dict(other_client._credentials),
        # Nothing of these may appear in any answer to B.
        "secrets": [MARK.encode(), MARK.lower().encode(), A_IP.encode(), A_DOMAIN.encode(),
                    *(incident.reference.encode() for incident in incidents),
                    draft.reference.encode(), amber.reference.encode()],
    }


def _headers(credentials: dict) -> dict:
    return {"Authorization": credentials["HTTP_AUTHORIZATION"]}


def _schema(world, target: dict):
    """The schema as schemathesis reads it from the application, with a hook that puts
    `target[name]` into each generated path parameter `name`."""
    from cert_portal.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/", application,
                                            headers=_headers(world["owner"]))

    @schema.hook
    def map_path_parameters(context, path_parameters):
        # Called for operations without path parameters too, with None.
        return {name: target[name] for name in path_parameters or ()} or path_parameters

    return schema


def _operation(schema, label: str):
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label == label:
            return operation
    raise AssertionError(f"{label} is not in the schema any more")


def _leaks(content: bytes, secrets: list[bytes]) -> list[str]:
    return [secret.decode() for secret in secrets if secret in content]


def _state() -> tuple:
    """What a refused write must leave alone."""
    return (list(Incident.objects.order_by("pk").values_list("pk", "version", "status", "tlp",
                                                             "owner_cert_id")),
            TimelineEvent.objects.count(), Comment.objects.count(), Observable.objects.count(),
            IncidentShare.objects.count())


def _targets(world, label: str) -> list[dict]:
    if "{reference}" in label and "/incidents/" in label:
        return [{"reference": reference} for reference in world["incidents"]]
    if "{reference}" in label and "/advisories/" in label:
        return [{"reference": reference} for reference in world["advisories"]]
    if "{slug}" in label:
        return [{"slug": world["slug"]}]
    raise AssertionError(f"no object of A for the path parameters of {label}")


@pytest.mark.parametrize("label", WITH_PATH_PARAMETER)
def test_another_certs_key_finds_nothing_of_a_at_its_address(world, label):
    """B's key: the answer a missing object gets, nothing of A in it, nothing changed; A's key:
    the same request reaches the object."""
    target: dict = {}
    schema = _schema(world, target)
    operation = _operation(schema, label)
    other, owner = _headers(world["other"]), _headers(world["owner"])
    secrets = world["secrets"]
    public = label in PUBLIC

    @schemathesis.check
    def answers_as_if_missing(ctx, response, case):
        """B's answer: 404, or the refusal the same request gets for an object that does not
        exist (a malformed body or query can be refused before the object is looked up, which
        tells nothing about it); never 2xx, and none of A's data in the body."""
        if public:
            return None
        assert not 200 <= response.status_code < 300, (
            f"{label} answered {response.status_code} to another CERT's key for {target}")
        leaked = _leaks(response.content, secrets)
        assert not leaked, f"{label} showed another CERT {leaked}"
        if response.status_code != 404:
            sent = case.path_parameters
            case.path_parameters = {name: MISSING[name] for name in sent}
            try:
                probe = case.call(headers=other)
            finally:
                case.path_parameters = sent
            assert probe.status_code == response.status_code, (
                f"{label} answered {response.status_code} for A's object but "
                f"{probe.status_code} for a missing one: the difference tells that it exists")
        return None

    @schemathesis.check
    def reaches_the_object(ctx, response, case):
        """A's answer is not "no such object"."""
        assert response.status_code != 404, (
            f"{label} answered 404 to the owner CERT's key for {target}: {response.content[:300]}")
        return None

    # ignored_auth sends two more requests per example; asking once per operation is enough.
    owner_checks = [not_a_server_error, ignored_auth, reaches_the_object]
    for path_parameters in _targets(world, label):
        target.clear()
        target.update(path_parameters)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                                 database=None, suppress_health_check=list(HealthCheck))
            def call(case):
                before = _state()
                case.call_and_validate(headers=other,
                                       checks=[not_a_server_error, answers_as_if_missing])
                if not public:
                    assert _state() == before, f"{label} with B's key changed A's objects"
                case.call_and_validate(headers=owner, checks=owner_checks)
                if ignored_auth in owner_checks:
                    owner_checks.remove(ignored_auth)

            call()
    # The owner's random writes must not have shared A's objects with B: that would make B's
    # 404s above prove nothing for the examples after it.
    assert not IncidentShare.objects.filter(cert__slug=OTHER).exists()


@pytest.mark.parametrize("label", LISTS)
def test_another_certs_lists_hold_none_of_a(world, label):
    """B's lists, with every query schemathesis generates, hold none of A's objects; A's own
    list shows them (so the markers would be seen if they leaked)."""
    schema = _schema(world, {})
    operation = _operation(schema, label)
    other = _headers(world["other"])
    secrets = world["secrets"]

    @schemathesis.check
    def holds_nothing_of_a(ctx, response, case):
        leaked = _leaks(response.content, secrets)
        assert not leaked, f"{label} listed for another CERT {leaked}"
        return None

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=EXAMPLES * 3, deadline=None, derandomize=True,
                             database=None, suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(headers=other, checks=[not_a_server_error, holds_nothing_of_a])

        call()


@pytest.mark.parametrize(("label", "url", "expected"), [
    ("GET /api/v1/incidents/", "/api/v1/incidents/?page_size=100", MARK),
    ("GET /api/v1/advisories/", "/api/v1/advisories/?page_size=100", MARK),
    ("GET /api/v1/observables/", f"/api/v1/observables/?value={A_IP}", A_IP),
])
def test_the_owner_sees_in_its_lists_what_the_other_may_not(world, label, url, expected):
    """The counterpart of the list test: the markers are in A's lists, so their absence from B's
    means something."""
    from rest_framework.test import APIClient

    owner, other = APIClient(), APIClient()
    owner.credentials(**world["owner"])
    other.credentials(**world["other"])
    mine, theirs = owner.get(url), other.get(url)
    assert mine.status_code == theirs.status_code == 200, label
    assert expected in mine.content.decode()
    assert expected not in theirs.content.decode()
