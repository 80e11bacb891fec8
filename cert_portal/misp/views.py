"""/misp/: the MISP feed of the indicators the caller's CERT may see (issue 11, point 7).

MISP subscribes with the feed's address (https://<portal>/misp/) and one custom header, in the
feed's "Headers" field:

    Authorization: Bearer cpk_...

(a read key of the CERT is enough). A member signed in with both factors may read the same
documents in a browser. What the documents hold is built in cert_portal.misp.feed.
"""

from __future__ import annotations

import json

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from cert_portal.api.problems import problem
from cert_portal.api.throttling import PerKeyThrottle
from cert_portal.misp import feed

# A MISP instance fetches every changed event in one run, one request each: the feed gets a
# budget of its own, above the API's.
DEFAULT_FEED_RATE = "3000/minute"

# Named without a body: cert_portal.api.schema's hook gives every 4xx answer the ProblemDetail body.
# The schema lists /api/v1/ only (cert_portal.api.schema.only_versioned_api); these describe the
# feed should it be listed too.
_ERRORS = {
    401: OpenApiResponse(description="No key, or a revoked, expired or unknown key."),
    403: OpenApiResponse(description="A session without the second factor."),
    429: OpenApiResponse(description="Too many requests for this key."),
}


class FeedThrottle(PerKeyThrottle):
    """Per key, at REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["misp_feed"] (default 3000/minute)."""

    scope = "misp_feed"

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or DEFAULT_FEED_RATE


def _json(document: dict) -> HttpResponse:
    return HttpResponse(json.dumps(document, ensure_ascii=False), content_type="application/json")


class FeedView(APIView):
    throttle_classes = [FeedThrottle]


class ManifestView(FeedView):
    @extend_schema(
        operation_id="misp_feed_manifest", tags=["MISP feed"],
        summary="The feed's manifest: one entry per event, by event uuid",
        description="MISP's feed manifest (event uuid -> Orgc, Tag, info, date, analysis, "
                    "threat_level_id, timestamp): an event per visible incident with observables and "
                    "per readable advisory with indicators or CVE IDs, at most "
                    "MISP_FEED_MAX_EVENTS of each, most recently changed first.",
        responses={(200, "application/json"): OpenApiTypes.OBJECT, **_ERRORS})
    def get(self, request):
        return _json(feed.manifest(request.user))


class EventView(FeedView):
    @extend_schema(
        operation_id="misp_feed_event", tags=["MISP feed"],
        summary="One event of the feed, with its attributes",
        responses={(200, "application/json"): OpenApiTypes.OBJECT, **_ERRORS,
                   404: OpenApiResponse(description="No event of the caller's feed has this uuid "
                                                    "(missing and invisible alike).")})
    def get(self, request, event_uuid):
        return _json(feed.event(request.user, event_uuid))


class HashesView(FeedView):
    @extend_schema(
        operation_id="misp_feed_hashes", tags=["MISP feed"],
        summary="hashes.csv: the MD5 of every attribute value and its event uuid",
        responses={(200, "text/csv"): OpenApiTypes.STR, **_ERRORS})
    def get(self, request):
        # Streamed: at national scale the file has a line per observable of thousands of events.
        return StreamingHttpResponse(feed.hash_lines(request.user), content_type="text/csv; charset=utf-8")


def no_such_document(request, path=""):
    """Any other address under /misp/: a problem document, not the HTML 404 page."""
    return problem(404, "The feed has manifest.json, hashes.csv and <event uuid>.json only.")
