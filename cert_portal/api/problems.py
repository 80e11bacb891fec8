"""Errors as RFC 9457 problem details, one stable shape for every API error (issue 11).

    {"type": "https://<portal>/api/problems/<slug>", "title": "...", "status": 404,
     "detail": "...", "errors": {"field": ["message", ...]}}   (errors: 400 only)

served as application/problem+json.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"
TITLES = {
    400: ("invalid-request", "The request is not valid"),
    401: ("not-authenticated", "Authentication needed"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unavailable", "Service unavailable, try again later"),
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object changed since you read it."
    default_code = "conflict"


def problem(status_code: int, detail: str, *, errors: dict | None = None,
            headers=None) -> HttpResponse:
    slug, title = TITLES.get(status_code, ("error", "Error"))
    body = {"type": f"{settings.PORTAL_BASE_URL}/api/problems/{slug}", "title": title,
            "status": status_code, "detail": detail}
    if errors:
        body["errors"] = errors
    # A plain JSON response, not a DRF Response: DRF would render it with the view's renderer
    # (the schema view's YAML, TAXII's media type), and a problem is always JSON.
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status_code,
                            content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _messages(value) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]


def problem_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error, DRF's or Django's, as a problem document."""
    if isinstance(exc, DjangoValidationError):
        errors = ({field: _messages(msgs) for field, msgs in exc.message_dict.items()}
                  if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
        return problem(400, "Fix the fields named in errors.", errors=errors)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real server error: Django's 500 handling and logging
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = ({field: _messages(msgs) for field, msgs in data.items()}
                  if isinstance(data, dict) else {"non_field_errors": _messages(data)})
        return problem(400, "Fix the fields named in errors.", errors=errors,
                       headers=_kept_headers(response))
    detail = data.get("detail", "") if isinstance(data, dict) else str(data)
    return problem(response.status_code, str(detail), headers=_kept_headers(response))


def _kept_headers(response) -> dict:
    return {name: response[name] for name in ("WWW-Authenticate", "Retry-After", "Allow")
            if response.has_header(name)}
