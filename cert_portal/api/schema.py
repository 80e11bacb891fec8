"""What the OpenAPI schema says beyond what drf-spectacular infers (issue 11): the Bearer key
scheme, and the problem documents (RFC 9457) every operation may answer.

The error answers are added by one postprocessing hook, so that no view can forget them: every
operation lists 400, 401, 403, 404, 406 and 429, and those that take a body 409, 413 and 415, all
as application/problem+json with the ProblemDetail component (cert_portal.api.problems).
"""

from __future__ import annotations

import drf_spectacular.openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from cert_portal.api.problems import PROBLEM_CONTENT_TYPE

PROBLEM = "ProblemDetail"
EVERY_OPERATION = {
    "400": "The request is not valid: `errors` names each field to fix.",
    "401": "No valid API key (unknown, revoked or expired) and no session.",
    "403": "Not allowed: a read key writing, or an action the caller's role may not take (the "
           "detail says why).",
    "404": "No such object, or one the caller may not see (the same answer).",
    "406": "The Accept header asks for a format the API does not serve.",
    "429": "Too many requests for this key: wait for Retry-After seconds.",
}
WITH_BODY = {
    "409": "The object changed since it was read (or is no longer in the state the action "
           "needs): nothing changed; read it again.",
    "413": "The request body is too large.",
    "415": "The Content-Type is not one the operation takes (use application/json).",
}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error, as RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Identifies the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong and what to do."},
        "errors": {"type": "object", "additionalProperties": {"type": "array",
                                                              "items": {"type": "string"}},
                   "description": "400 only: messages per field."},
    },
    "required": ["type", "title", "status", "detail"],
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "cert_portal.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "cpk_<prefix>_<secret>",
                "description": "An API key issued to a CERT by its heads (dashboard) or with "
                               "`manage.py create_api_key`: `Authorization: Bearer cpk_...`. A "
                               "key acts as its CERT; a read key may only read."}


def only_versioned_api(endpoints):
    """drf-spectacular preprocessing hook: the operations of /api/v1/ only (not the catch-all
    that answers a problem document for any other address under /api/)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


def add_problem_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the ProblemDetail component, and the error answers
    of every operation under /api/."""
    result.setdefault("components", {}).setdefault("schemas", {})[PROBLEM] = PROBLEM_SCHEMA
    reference = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM}"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("get", "put", "patch", "post", "delete"):
                continue
            answers = dict(EVERY_OPERATION)
            if method != "get":
                answers.update(WITH_BODY)
            responses = operation.setdefault("responses", {})
            for code, description in answers.items():
                responses.setdefault(code, {"description": description})
            # Every error is a problem document, also where a view named the answer without a
            # body (OpenApiResponse(description=...)).
            for code, response in responses.items():
                if code.startswith("4") and not response.get("content"):
                    response["content"] = reference
    return result


class AutoSchema(drf_spectacular.openapi.AutoSchema):
    """The schema class of settings.REST_FRAMEWORK: drf-spectacular's own. Naming it there imports
    this module, which registers ApiKeyScheme before any schema is generated."""
