"""TAXII 2.1 at /taxii2/ (issue 11, DOMAIN.md §6): discovery, one API root, the collections a
caller may read, their objects and manifests, and an inbox for indicators.

Callers authenticate as for /api/v1/ (an API key as `Authorization: Bearer`, or a member's
two-factor session) through DRF. Every answer is `application/taxii+json;version=2.1`; errors are
TAXII error messages (title, description, http_status) in that media type, so that TAXII clients
read them, rather than the REST API's problem documents.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.views import APIView

from cert_portal.api.authentication import request_api_key
from cert_portal.pagination import BadCursor
from cert_portal.taxii import collections, inbox, stix
from cert_portal.taxii.collections import Filters
from incidents.access import get_visible_incident
from incidents.models import Source

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
API_ROOT_TITLE = "National CERT portal"


def taxii_response(body: dict, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status,
                            content_type=TAXII_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def taxii_error(status: int, title: str, description: str, headers=None) -> HttpResponse:
    return taxii_response({"title": title, "description": description, "http_status": str(status)},
                          status, headers)


class _AnyRenderer(BaseContentNegotiation):
    """Accept is checked by TaxiiView.initial (406 with a TAXII error), not by DRF."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _accepts_taxii(header: str) -> bool:
    """Whether an Accept header allows TAXII 2.1 JSON (no header: yes, as for */*)."""
    if not header.strip():
        return True
    for media_range in header.split(","):
        parts = [part.strip().lower() for part in media_range.split(";")]
        params = dict(part.split("=", 1) for part in parts[1:] if "=" in part)
        if parts[0] in ("*/*", "application/*"):
            return True
        if parts[0] == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return True
    return False


class TaxiiView(APIView):
    content_negotiation_class = _AnyRenderer
    parser_classes: list = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not _accepts_taxii(request.META.get("HTTP_ACCEPT", "")):
            raise exceptions.NotAcceptable(
                f"This server answers {TAXII_MEDIA_TYPE} only: send it in the Accept header.")

    def handle_exception(self, exc):
        if isinstance(exc, Http404):
            exc = exceptions.NotFound("There is no such TAXII resource, or you may not see it.")
        if isinstance(exc, exceptions.APIException):
            headers = {}
            if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
                exc.status_code = 401
                headers["WWW-Authenticate"] = 'Bearer realm="taxii"'
            if isinstance(exc, exceptions.Throttled) and exc.wait:
                headers["Retry-After"] = str(int(exc.wait))
            detail = exc.detail
            if isinstance(detail, list | tuple):
                detail = " ".join(str(item) for item in detail)
            elif not isinstance(detail, str):
                detail = json.dumps(detail)
            return taxii_error(exc.status_code, _TITLES.get(exc.status_code, "Error"), str(detail),
                               headers)
        return super().handle_exception(exc)


_TITLES = {400: "Bad request", 401: "Authentication needed", 403: "Not allowed",
           404: "Not found", 405: "Method not allowed", 406: "Not acceptable",
           413: "Request too large", 415: "Unsupported media type", 429: "Too many requests"}


def _api_root_url(request) -> str:
    return request.build_absolute_uri("/taxii2/api/")


class DiscoveryView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request):
        return taxii_response({
            "title": "National CERT portal TAXII server",
            "description": "Indicators and advisories that your CERT may see, as STIX 2.1.",
            "default": _api_root_url(request),
            "api_roots": [_api_root_url(request)],
        })


class ApiRootView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request):
        return taxii_response({
            "title": API_ROOT_TITLE,
            "description": "The collections of the national CERT portal.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": settings.REQUEST_MAX_BYTES,
        })


def _may_write(request) -> bool:
    key = request_api_key(request)
    return key is not None and key.scope == key.Scope.READ_WRITE


def _describe(collection: collections.Collection, request) -> dict:
    return {"id": collection.id, "title": collection.title, "description": collection.description,
            "can_read": collection.readable,
            "can_write": not collection.readable and _may_write(request),
            "media_types": [stix.STIX_MEDIA_TYPE]}


def _collection(collection_id: str) -> collections.Collection:
    try:
        return collections.BY_ID[collection_id]
    except KeyError:
        raise Http404 from None


class CollectionsView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request):
        return taxii_response({"collections": [_describe(c, request) for c in collections.COLLECTIONS]})


class CollectionView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request, collection_id):
        return taxii_response(_describe(_collection(collection_id), request))


def _timestamp(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise exceptions.ValidationError(
            f"{name}: {value!r} is not a timestamp; write it like 2026-01-31T12:00:00.000Z.")
    return moment


def _list(request, name: str) -> frozenset[str] | None:
    values = [part.strip() for value in request.query_params.getlist(name) for part in value.split(",")
              if part.strip()]
    return frozenset(values) if values else None


def parse_filters(request, *, object_id: str | None = None) -> Filters:
    added_after = request.query_params.get("added_after")
    versions = _list(request, "match[version]")
    if versions is not None:
        keywords = versions & {"first", "last", "all"}
        stamps = versions - keywords
        # Each object has one version here: a keyword keeps it, a timestamp must equal it.
        versions = None if keywords else frozenset(stix.stix_time(_timestamp("match[version]", s))
                                                   for s in stamps)
    ids = _list(request, "match[id]")
    if object_id is not None:
        ids = frozenset({object_id}) if ids is None or object_id in ids else frozenset()
    return Filters(added_after=_timestamp("added_after", added_after) if added_after else None,
                   ids=ids, types=_list(request, "match[type]"), versions=versions,
                   spec_versions=_list(request, "match[spec_version]"))


def _limit(request) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return collections.DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < 1:
        raise exceptions.ValidationError(f"limit: {text!r} is not a positive whole number.")
    return min(limit, collections.MAX_LIMIT)


def _page(request, collection: collections.Collection, object_id: str | None = None):
    if not collection.readable:
        raise exceptions.PermissionDenied(f"The {collection.title} collection can only be written to.")
    after = None
    if request.query_params.get("next"):
        try:
            after = collections.decode_key(request.query_params["next"])
        except BadCursor as error:
            raise exceptions.ValidationError(f"next: {error}") from None
    return collections.page(request.user, collection, filters=parse_filters(request, object_id=object_id),
                            limit=_limit(request), after=after)


def _date_headers(page: collections.Page) -> dict:
    if not page.entries:
        return {}
    return {"X-TAXII-Date-Added-First": stix.stix_time(page.entries[0].added),
            "X-TAXII-Date-Added-Last": stix.stix_time(page.entries[-1].added)}


def _envelope(page: collections.Page, key: str, items: list) -> dict:
    body = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if items:
        body[key] = items
    return body


class ObjectsView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request, collection_id):
        page = _page(request, _collection(collection_id))
        return taxii_response(_envelope(page, "objects", [e.obj for e in page.entries]),
                              headers=_date_headers(page))

    @extend_schema(exclude=True)
    def post(self, request, collection_id):
        collection = _collection(collection_id)
        if collection.readable:
            raise exceptions.PermissionDenied(f"The {collection.title} collection is read-only; "
                                              f"send indicators to the Inbox collection.")
        key = request_api_key(request)
        if key is None or key.scope != key.Scope.READ_WRITE:
            raise exceptions.PermissionDenied(
                "Only a read-write API key of a CERT may send indicators: ask a head of your CERT.")
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.replace(" ", "").lower() not in (TAXII_MEDIA_TYPE, "application/taxii+json"):
            raise exceptions.UnsupportedMediaType(
                content_type or "(none)",
                detail=f"Send the envelope as {TAXII_MEDIA_TYPE}, not {content_type or 'no type'}.")
        try:
            result = inbox.receive(key=key, user=request.user, body=request.body)
        except ValidationError as error:
            raise exceptions.ValidationError(" ".join(error.messages)) from None
        return taxii_response(inbox.status_of(result.incident, result=result), 202)


class ManifestView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request, collection_id):
        page = _page(request, _collection(collection_id))
        items = [{"id": e.obj["id"], "date_added": stix.stix_time(e.added),
                  "version": e.obj.get("modified", e.obj.get("created")),
                  "media_type": stix.STIX_MEDIA_TYPE} for e in page.entries]
        return taxii_response(_envelope(page, "objects", items), headers=_date_headers(page))


class ObjectView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request, collection_id, object_id):
        page = _page(request, _collection(collection_id), object_id)
        if not page.entries:
            raise Http404
        return taxii_response(_envelope(page, "objects", [e.obj for e in page.entries]),
                              headers=_date_headers(page))


class VersionsView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request, collection_id, object_id):
        page = _page(request, _collection(collection_id), object_id)
        if not page.entries:
            raise Http404
        versions = [e.obj.get("modified", e.obj.get("created")) for e in page.entries]
        return taxii_response(_envelope(page, "versions", versions), headers=_date_headers(page))


class StatusView(TaxiiView):
    @extend_schema(exclude=True)
    def get(self, request, status_id):
        try:
            incident = get_visible_incident(request.user, public_id=status_id, source=Source.TAXII)
        except ValidationError:
            raise Http404 from None
        return taxii_response(inbox.status_of(incident))
