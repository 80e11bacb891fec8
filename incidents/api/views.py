"""The incidents REST API (issue 11): interfaces only, as the dashboard's workspace is.

Every read starts from incidents.access (the incident, or a part of it, only if the caller may
see it: 404 otherwise, before any other answer); every write asks incidents.access whether the
caller may take the action at all (403 with its message, before the body is judged, as the
workspace does) and then calls the one service of that change (incidents.services), whose
ValidationError answers 400 naming fields and whose ConflictError answers 409. A request with an
API key acts as the key's service user, the key's CERT in the role of its scope.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from cert_portal.api.authentication import request_api_key
from cert_portal.api.pagination import NewestFirstCursorPagination
from cert_portal.api.problems import Conflict, problem
from cert_portal.audit.events import incident_viewed
from cert_portal.pagination import BadCursor, decode_cursor
from incidents import services, taxonomy
from incidents.access import (
    Action,
    ActionNotAllowed,
    ListScope,
    allowed_actions,
    assignable_users,
    incident_list_page,
    visible_incidents,
)
from incidents.api import serializers as s
from incidents.models import Incident, Observable, Source
from incidents.observables import extract, normalise
from organizations.models import Cert

ERRORS = {
    400: OpenApiResponse(description="A field or parameter is not valid: `errors` names it."),
    401: OpenApiResponse(description="No valid credentials: the key is unknown, revoked or expired."),
    403: OpenApiResponse(description="The caller may not do this (a read key writing, or a role "
                                     "that does not allow the action)."),
    404: OpenApiResponse(description="No such incident, or one the caller may not see."),
    409: OpenApiResponse(description="The incident changed since the version the caller read."),
    413: OpenApiResponse(description="The body (or file) is too large."),
    415: OpenApiResponse(description="The body is not JSON (multipart for attachments)."),
    429: OpenApiResponse(description="Too many requests for this key: wait Retry-After seconds."),
}


def errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in (401, 429, *codes)}


class IncidentAPIView(APIView):
    """The incidents API's views: JSON bodies, the services' exceptions as problem documents."""

    parser_classes = [JSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, ActionNotAllowed):
            exc = exceptions.PermissionDenied(str(exc))
        elif isinstance(exc, services.ConflictError):
            exc = Conflict(str(exc))
        return super().handle_exception(exc)


# --- Helpers ------------------------------------------------------------------------------------


def incident_or_404(user, reference: str) -> Incident:
    """The incident with this reference if `user` may see it, with its owner and assignee."""
    incident = (visible_incidents(user, Incident.objects.select_related("owner_cert", "assignee"))
                .filter(reference=reference).first())
    if incident is None:
        raise Http404("No incident matches the given query.")
    return incident


def require_any(user, incident: Incident, *actions: Action) -> set[Action]:
    """ActionNotAllowed unless `user` may take one of `actions` (the workspace's first check)."""
    allowed = allowed_actions(user, incident)
    if not allowed.intersection(actions):
        names = " or ".join(action.value.replace("_", " ") for action in actions)
        raise ActionNotAllowed(f"Your role does not allow this on {incident.reference}: {names}.")
    return allowed


def parsed(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def cert_by_slug(slug: str, field: str) -> Cert:
    cert = Cert.objects.filter(slug=slug).first()
    if cert is None:
        raise exceptions.ValidationError({field: [f"There is no CERT with the slug {slug!r}: see "
                                                  "/api/v1/certs/."]})
    return cert


def check_version(incident: Incident, version: int | None) -> None:
    if version is not None and version != incident.version:
        raise services.ConflictError(incident)


def detail(request, incident: Incident, *, status_code: int = status.HTTP_200_OK) -> Response:
    row = s.incident_row(incident)
    row["allowed_actions"] = sorted(action.value for action in allowed_actions(request.user,
                                                                               incident))
    response = Response(s.IncidentDetailSerializer(row).data, status=status_code)
    if status_code == status.HTTP_201_CREATED:
        response["Location"] = request.build_absolute_uri(
            reverse("api-incident", args=[incident.reference]))
    return response


def renamed(error: ValidationError, names: dict[str, str]) -> ValidationError:
    """The services' error with its fields named as the API names them."""
    if not hasattr(error, "error_dict"):
        return error
    return ValidationError({names.get(field, field): messages
                            for field, messages in error.message_dict.items()})


class IncidentPagination(NewestFirstCursorPagination):
    """Keyset pages of an incident's parts (comments, observables), newest first."""


class TimelinePagination(NewestFirstCursorPagination):
    ordering = ("-at", "-pk")
    page_size = 100


def paged(view, request, queryset, serializer_class, pagination_class=IncidentPagination):
    paginator = pagination_class()
    try:
        page = paginator.paginate_queryset(queryset, request, view=view)
    except exceptions.NotFound:
        raise exceptions.ValidationError({"cursor": [str(BadCursor())]}) from None
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


# --- The list and creation ----------------------------------------------------------------------

LIST_PARAMETERS = [
    OpenApiParameter("status", str, enum=[value for value, _ in s.Status.choices]),
    OpenApiParameter("severity", int, enum=[value for value, _ in s.Severity.choices]),
    OpenApiParameter("classification", str, description="An RSIT classification."),
    OpenApiParameter("tlp", str, enum=s.Tlp.values),
    OpenApiParameter("owner", str, description="Slug of the owner CERT."),
    OpenApiParameter("updated_since", OpenApiTypes.DATETIME),
    OpenApiParameter("cursor", str, description="From the `next` or `previous` link."),
    OpenApiParameter("page_size", int, description="1 to 200, default 50."),
]


class IncidentList(IncidentAPIView):
    @extend_schema(operation_id="incidents_list", parameters=LIST_PARAMETERS,
                   responses={200: s.IncidentPageSerializer, **errors(400)},
                   description="The incidents the caller may see, newest report first, in keyset "
                               "pages (no count).")
    def get(self, request):
        params = parsed(s.IncidentFilterSerializer, request.query_params)
        where = Q()
        for name in ("status", "severity", "tlp"):
            if name in params:
                where &= Q(**{name: params[name]})
        if "classification" in params:
            if params["classification"] not in dict(taxonomy.classifications()):
                raise exceptions.ValidationError({"classification": [
                    f"{params['classification']!r} is not an RSIT classification; use one of: "
                    f"{', '.join(dict(taxonomy.classifications()))}."]})
            where &= Q(classification=params["classification"])
        if "owner" in params:
            where &= Q(owner_cert=cert_by_slug(params["owner"], "owner"))
        if "updated_since" in params:
            where &= Q(updated_at__gte=params["updated_since"])
        try:
            cursor = decode_cursor(params["cursor"]) if "cursor" in params else None
            if cursor is not None and cursor.position.pk >= 2 ** 63:
                raise BadCursor  # no database takes such an id as a parameter
        except BadCursor as error:
            raise exceptions.ValidationError({"cursor": [str(error)]}) from None
        page = incident_list_page(request.user, ListScope(where=where), size=params["page_size"],
                                  cursor=cursor, values=s.INCIDENT_VALUES)
        url = request.build_absolute_uri()
        return Response({
            "next": (replace_query_param(url, "cursor", page.older_cursor)
                     if page.older_cursor else None),
            "previous": (replace_query_param(url, "cursor", page.newer_cursor)
                         if page.newer_cursor else None),
            "results": s.IncidentSerializer(page.incidents, many=True).data,
        })

    @extend_schema(operation_id="incidents_create", request=s.IncidentCreateSerializer,
                   responses={201: s.IncidentDetailSerializer, **errors(400, 403, 415)},
                   description="Open an incident (source API) for the key's CERT, or for `owner`.")
    def post(self, request):
        data = parsed(s.IncidentCreateSerializer, request.data)
        owner = self._owner(request, data.pop("owner", None))
        try:
            incident = services.incident_create(actor=request.user, owner_cert=owner,
                                                source=Source.API, **data)
        except ValidationError as error:
            raise renamed(error, {"owner_cert": "owner"}) from None
        incident = Incident.objects.select_related("owner_cert", "assignee").get(pk=incident.pk)
        return detail(request, incident, status_code=status.HTTP_201_CREATED)

    @staticmethod
    def _owner(request, slug: str | None) -> Cert:
        if slug:
            return cert_by_slug(slug, "owner")
        key = request_api_key(request)
        if key is not None:
            return key.cert
        from cert_portal.staff import load_staff_context

        staff = load_staff_context(request._request)
        if staff is None:
            raise exceptions.ValidationError({"owner": ["Name the CERT to own the incident."]})
        return staff.cert


# --- One incident ---------------------------------------------------------------------------------


class IncidentDetail(IncidentAPIView):
    @extend_schema(operation_id="incidents_retrieve",
                   responses={200: s.IncidentDetailSerializer, **errors(404)})
    def get(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        incident_viewed(request, incident)
        return detail(request, incident)

    @extend_schema(operation_id="incidents_partial_update", request=s.IncidentUpdateSerializer,
                   responses={200: s.IncidentDetailSerializer,
                              **errors(400, 403, 404, 409, 415)},
                   description="Change severity and/or TLP, with the version you read. Other "
                               "fields have their own actions or are fixed at creation.")
    def patch(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident, Action.CHANGE_SEVERITY, Action.RAISE_TLP,
                    Action.LOWER_TLP)
        data = parsed(s.IncidentUpdateSerializer, request.data)
        check_version(incident, data["version"])
        with transaction.atomic():
            if "severity" in data and data["severity"] != incident.severity:
                services.incident_change_severity(incident=incident, actor=request.user,
                                                  severity=data["severity"], reason=data["reason"])
            if "tlp" in data and data["tlp"] != incident.tlp:
                services.incident_change_tlp(incident=incident, actor=request.user,
                                             tlp=data["tlp"], reason=data["reason"])
        return detail(request, incident)


# --- Actions -----------------------------------------------------------------------------------


class Acknowledge(IncidentAPIView):
    @extend_schema(operation_id="incidents_acknowledge", request=s.VersionedSerializer,
                   responses={200: s.IncidentDetailSerializer,
                              **errors(400, 403, 404, 409, 415)})
    def post(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident, Action.TRANSITION)
        data = parsed(s.VersionedSerializer, request.data)
        check_version(incident, data.get("version"))
        services.incident_acknowledge(incident=incident, actor=request.user)
        return detail(request, incident)


class Transition(IncidentAPIView):
    @extend_schema(operation_id="incidents_transition", request=s.TransitionSerializer,
                   responses={200: s.IncidentDetailSerializer,
                              **errors(400, 403, 404, 409, 415)})
    def post(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident, Action.TRANSITION)
        data = parsed(s.TransitionSerializer, request.data)
        check_version(incident, data.get("version"))
        services.incident_transition(incident=incident, actor=request.user,
                                     to_status=data["status"], reason=data["reason"])
        return detail(request, incident)


class Assign(IncidentAPIView):
    @extend_schema(operation_id="incidents_assign", request=s.AssignSerializer,
                   responses={200: s.IncidentDetailSerializer,
                              **errors(400, 403, 404, 409, 415)})
    def post(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident, Action.ASSIGN)
        data = parsed(s.AssignSerializer, request.data)
        check_version(incident, data.get("version"))
        assignee = None
        if data["assignee"] is not None:
            # Looked up among who may be assigned only: the API tells nobody who else exists.
            wanted = data["assignee"]
            members = assignable_users(incident)
            is_id = wanted.isascii() and wanted.isdigit() and len(wanted) <= 18
            assignee = (members.filter(pk=int(wanted)).first() if is_id
                        else members.filter(username=wanted).first())
            if assignee is None:
                raise exceptions.ValidationError({"assignee": [
                    f"{wanted!r} is not an active member of {incident.owner_cert.name}, which "
                    "owns the incident."]})
        services.incident_assign(incident=incident, actor=request.user, assignee=assignee)
        return detail(request, incident)


class HandOver(IncidentAPIView):
    kind = "escalate"
    serializer_class = s.HandOverSerializer

    def post(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident,
                    Action.ESCALATE if self.kind == "escalate" else Action.REFER)
        data = parsed(self.serializer_class, request.data)
        check_version(incident, data.get("version"))
        to_cert = cert_by_slug(data["to_cert"], "to_cert") if data.get("to_cert") else None
        hand = services.incident_escalate if self.kind == "escalate" else services.incident_refer
        hand(incident=incident, actor=request.user, to_cert=to_cert, reason=data["reason"])
        return detail(request, incident)


class Escalate(HandOver):
    @extend_schema(operation_id="incidents_escalate", request=s.HandOverSerializer,
                   responses={200: s.IncidentDetailSerializer,
                              **errors(400, 403, 404, 409, 415)},
                   description="Hand the incident up: to `to_cert`, by default the owner's parent.")
    def post(self, request, reference: str):
        return super().post(request, reference)


class Refer(HandOver):
    kind = "refer"
    serializer_class = s.ReferSerializer

    @extend_schema(operation_id="incidents_refer", request=s.ReferSerializer,
                   responses={200: s.IncidentDetailSerializer,
                              **errors(400, 403, 404, 409, 415)},
                   description="Hand the incident down to a CERT below its owner.")
    def post(self, request, reference: str):
        return super().post(request, reference)


class Share(IncidentAPIView):
    @extend_schema(operation_id="incidents_share", request=s.ShareSerializer,
                   responses={201: s.ShareResultSerializer, **errors(400, 403, 404, 415)},
                   description="Let another CERT view the incident (TLP:CLEAR, GREEN, AMBER only).")
    def post(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident, Action.SHARE)
        data = parsed(s.ShareSerializer, request.data)
        cert = cert_by_slug(data["cert"], "cert")
        share = services.incident_share(incident=incident, actor=request.user, cert=cert,
                                        reason=data["reason"])
        return Response(s.ShareResultSerializer({"incident": incident.reference, "cert": cert.slug,
                                                 "created_at": share.created_at}).data,
                        status=status.HTTP_201_CREATED)


class Comments(IncidentAPIView):
    @extend_schema(operation_id="incidents_comments_list",
                   parameters=[OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
                   responses={200: s.CommentPageSerializer, **errors(400, 404)})
    def get(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        return paged(self, request, incident.comments.select_related("author"), s.CommentSerializer)

    @extend_schema(operation_id="incidents_comments_create", request=s.CommentSerializer,
                   responses={201: s.CommentSerializer, **errors(400, 403, 404, 415)})
    def post(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident, Action.COMMENT)
        data = parsed(s.CommentSerializer, request.data)
        comment = services.incident_comment(incident=incident, actor=request.user,
                                            body=data["body"],
                                            reporter_visible=data["reporter_visible"])
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class Observables(IncidentAPIView):
    @extend_schema(operation_id="incidents_observables_list",
                   parameters=[OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
                   responses={200: s.ObservablePageSerializer, **errors(400, 404)})
    def get(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        return paged(self, request, incident.observables.all(), s.ObservableSerializer)

    @extend_schema(operation_id="incidents_observables_create", request=s.ObservableSerializer,
                   responses={201: s.ObservableSerializer,
                              200: OpenApiResponse(s.ObservableSerializer,
                                                   description="Recorded already: the same row."),
                              **errors(400, 403, 404, 415)})
    def post(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident, Action.ADD_OBSERVABLE)
        data = parsed(s.ObservableSerializer, request.data)
        try:
            value = normalise(data["type"], data["value"])
        except ValidationError as error:
            raise exceptions.ValidationError({"value": error.messages}) from None
        known = incident.observables.filter(type=data["type"], value=value).exists()
        observable = services.incident_add_observable(incident=incident, actor=request.user,
                                                      type=data["type"], value=value)
        return Response(s.ObservableSerializer(observable).data,
                        status=status.HTTP_200_OK if known else status.HTTP_201_CREATED)


class Attachments(IncidentAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(operation_id="incidents_attachments_create",
                   request={"multipart/form-data": s.AttachmentUploadSerializer},
                   responses={201: s.AttachmentSerializer, **errors(400, 403, 404, 413, 415)},
                   description="Upload one file (form field `file`), up to the portal's limit.")
    def post(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        require_any(request.user, incident, Action.ATTACH)
        data = parsed(s.AttachmentUploadSerializer, request.data)
        limit = services.attachment_max_bytes()
        if data["file"].size > limit:
            return problem(413, f"The file is {data['file'].size:,} bytes; the limit is "
                                f"{limit:,} bytes.")
        attachment = services.incident_attach(incident=incident, actor=request.user,
                                              uploaded_file=data["file"])
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class Timeline(IncidentAPIView):
    @extend_schema(operation_id="incidents_timeline",
                   parameters=[OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
                   responses={200: s.TimelinePageSerializer, **errors(400, 404)},
                   description="The incident's events, latest first, in keyset pages.")
    def get(self, request, reference: str):
        incident = incident_or_404(request.user, reference)
        return paged(self, request, incident.events.select_related("actor"),
                     s.TimelineEventSerializer, TimelinePagination)


# --- Observables across incidents --------------------------------------------------------------


class ObservableSearch(IncidentAPIView):
    @extend_schema(operation_id="observables_search",
                   parameters=[OpenApiParameter("value", str, required=True),
                               OpenApiParameter("type", str, enum=s.ObservableType.values),
                               OpenApiParameter("cursor", str), OpenApiParameter("page_size", int)],
                   responses={200: s.FoundObservablePageSerializer, **errors(400)},
                   description="Where an observable was seen, in the incidents the caller may "
                               "see; the value is refanged and normalised as when stored.")
    def get(self, request):
        params = parsed(s.ObservableSearchSerializer, request.query_params)
        if "type" in params:
            try:
                wanted = [(params["type"], normalise(params["type"], params["value"]))]
            except ValidationError as error:
                raise exceptions.ValidationError({"value": error.messages}) from None
        else:
            wanted = extract(params["value"])
            if not wanted:
                raise exceptions.ValidationError({"value": [
                    "No observable found in this value: give its type as well."]})
        condition = Q()
        for type_, value in wanted:
            condition |= Q(type=type_, value=value)
        visible = visible_incidents(request.user).filter(pk=OuterRef("incident_id"))
        rows = (Observable.objects.filter(condition).filter(Exists(visible))
                .select_related("incident"))
        return paged(self, request, rows, s.FoundObservableSerializer)

