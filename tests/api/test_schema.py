"""The OpenAPI schema describes every operation of /api/v1/ with its security and problem
answers, and the Swagger UI needs nothing from another host (issue 11)."""

import re
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import EndpointEnumerator

PROBLEM_REF = "#/components/schemas/ProblemDetail"
EVERY = {"400", "401", "403", "404", "406", "429"}
WRITES = {"409", "413", "415"}


@pytest.fixture
def schema(key_client):
    response = key_client("banking", scope="read").get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_spectacular_validates_without_warnings(db, tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target),
                 stdout=StringIO(), stderr=StringIO())
    assert "/api/v1/advisories/" in yaml.safe_load(target.read_text())["paths"]


def test_every_route_under_v1_is_an_operation_of_the_schema(schema):
    routed = {(path, method.lower()) for path, _, method, _ in EndpointEnumerator().get_api_endpoints()
              if path.startswith("/api/v1/")}
    described = {(path, method) for path, operations in schema["paths"].items()
                 for method in operations}
    assert routed and routed == described
    assert {("/api/v1/certs/", "get"), ("/api/v1/certs/{slug}/", "get"),
            ("/api/v1/advisories/", "get"), ("/api/v1/advisories/", "post"),
            ("/api/v1/advisories/{reference}/", "get"),
            ("/api/v1/advisories/{reference}/submit/", "post")} <= described
    assert not any("approve" in path for path, _ in described)
    assert all(path.startswith("/api/v1/") for path, _ in described)


def test_every_operation_has_the_key_scheme_and_the_problem_answers(schema):
    scheme = schema["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    problem = schema["components"]["schemas"]["ProblemDetail"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"apiKey": []} in operation["security"], (path, method)
            expected = EVERY | (WRITES if method != "get" else set())
            assert expected <= set(operation["responses"]), (path, method)
            for code in expected:
                content = operation["responses"][code]["content"]
                assert content["application/problem+json"]["schema"]["$ref"] == PROBLEM_REF


def test_the_write_operations_say_that_approval_is_not_in_the_api(schema):
    for operation in (schema["paths"]["/api/v1/advisories/"]["post"],
                      schema["paths"]["/api/v1/advisories/{reference}/submit/"]["post"]):
        assert "four eyes" in operation["description"]


def test_the_swagger_ui_loads_nothing_from_another_host(key_client):
    page = key_client("banking", scope="read").get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r"""<(?:script|link|img)\b[^>]*?(?:src|href)=["']([^"']+)""", html)
    assert any("swagger-ui" in asset for asset in assets)
    assert all(asset.startswith("/") and not asset.startswith("//") for asset in assets), assets
    assert not re.search(r"https?://(?!testserver)[^\s\"'<>]*\.(?:js|css)", html)
