"""/api/v1/advisories/: list, filter, read, and for writers of the author CERT create and submit
for review (issue 11).

Reads start from advisories.access (visible_advisories: what the caller may read and their
CERTs' drafts; get_visible_advisory: 404 for anything else); writes call advisories.services,
which ask access again. Approval is not here: it is a head's act in the dashboard (four eyes), and
a key is no person.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from advisories import access, services
from advisories.api.serializers import (
    AdvisoryCreateSerializer,
    AdvisoryDetailSerializer,
    AdvisoryFilterSerializer,
    AdvisoryListSerializer,
    VersionSerializer,
)
from advisories.content import AdvisoryContent
from advisories.models import Advisory, AdvisoryCve, AdvisoryProduct, AdvisoryRevision, RevisionState
from cert_portal.api.authentication import request_api_key
from cert_portal.api.pagination import NewestFirstCursorPagination
from cert_portal.api.problems import Conflict
from cert_portal.audit.events import advisory_viewed
from organizations.models import Cert

WRITE_NOTE = ("For a read-write key of the author CERT, or a head, handler or analyst of it "
              "signed in. Approval is not in the API: a head approves in the dashboard, and never "
              "the revision's own author (four eyes).")


@contextmanager
def service_answers():
    """The services' refusals as the API's answers: ActionNotAllowed 403 with its reason, a
    conflict 409; ValidationError and Http404 pass to the problem handler (400, 404)."""
    try:
        yield
    except access.ActionNotAllowed as refusal:
        raise exceptions.PermissionDenied(str(refusal)) from None
    except services.AdvisoryConflictError as conflict:
        raise Conflict(str(conflict)) from None


def _renamed(error: DjangoValidationError, names: dict[str, str]) -> DjangoValidationError:
    """The content's field names as the API calls them (audience_ids -> audience)."""
    if not hasattr(error, "error_dict"):
        return error
    return DjangoValidationError({names.get(field, field): messages
                                  for field, messages in error.message_dict.items()})


@extend_schema_view(
    list=extend_schema(
        summary="List the advisories you may read, and your CERT's drafts",
        parameters=[AdvisoryFilterSerializer],
        description="Newest first (by creation), keyset pages (`cursor`, `page_size` up to 200). "
                    "TLP:CLEAR and TLP:GREEN advisories are listed for every CERT; TLP:AMBER and "
                    "AMBER+STRICT for the author and audience CERTs; TLP:RED for the author CERT "
                    "and named readers. The author CERT's members also see its drafts and "
                    "revisions in review. Severity, CVE and product filters match the published "
                    "text."),
    retrieve=extend_schema(summary="One advisory by its reference",
                           description="404 when it does not exist or the caller may not read it."),
    create=extend_schema(summary="Start an advisory (a draft)", request=AdvisoryCreateSerializer,
                         responses={201: AdvisoryDetailSerializer}, description=WRITE_NOTE),
)
class AdvisoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    pagination_class = NewestFirstCursorPagination
    lookup_field = "reference"
    lookup_value_regex = r"[A-Za-z0-9-]+"
    serializer_class = AdvisoryListSerializer
    queryset = Advisory.objects.none()  # for the schema; get_queryset asks access

    def get_serializer_class(self):
        return AdvisoryListSerializer if self.action == "list" else AdvisoryDetailSerializer

    def get_queryset(self):
        rows = access.visible_advisories(self.request.user, Advisory.objects.select_related(
            "author_cert", "current_revision").defer("current_revision__body_markdown",
                                                     "current_revision__body_html"))
        filters = AdvisoryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return self._filtered(rows, filters.validated_data).prefetch_related(Prefetch(
            "revisions", to_attr="open_revisions",
            queryset=AdvisoryRevision.objects.filter(
                state__in=(RevisionState.DRAFT, RevisionState.IN_REVIEW)).only(
                "pk", "advisory_id", "title", "summary", "severity", "state")))

    @staticmethod
    def _filtered(rows, wanted: dict):
        if "status" in wanted:
            rows = rows.filter(status=wanted["status"])
        if "severity" in wanted:
            rows = rows.filter(current_revision__severity__gte=wanted["severity"])
        if "tlp" in wanted:
            rows = rows.filter(tlp=wanted["tlp"])
        if "cve" in wanted:
            rows = rows.filter(Exists(AdvisoryCve.objects.filter(
                advisory=OuterRef("pk"), cve_id=wanted["cve"].upper())))
        if "vendor" in wanted or "product" in wanted:
            products = AdvisoryProduct.objects.filter(advisory=OuterRef("pk"))
            if "vendor" in wanted:
                products = products.filter(vendor=wanted["vendor"].strip().lower())
            if "product" in wanted:
                products = products.filter(product=wanted["product"].strip().lower())
            rows = rows.filter(Exists(products))
        if "published_since" in wanted:
            rows = rows.filter(last_published_at__gte=wanted["published_since"])
        return rows

    def _detail(self, advisory: Advisory, *, status_code=status.HTTP_200_OK) -> Response:
        user = self.request.user
        revision = access.open_revision(advisory) if access.may_see_drafts(user, advisory) else None
        context = {**self.get_serializer_context(), "open_revision": revision,
                   "actions": {str(a) for a in access.allowed_actions(user, advisory, revision)}}
        return Response(AdvisoryDetailSerializer(advisory, context=context).data, status=status_code)

    def retrieve(self, request, reference: str):
        advisory = access.get_visible_advisory(request.user, reference=reference)
        advisory_viewed(request, advisory)
        return self._detail(advisory)

    def create(self, request):
        body = AdvisoryCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        cert = self._author_cert(request, data.pop("cert", None))
        audience = data.pop("audience")
        found = dict(Cert.objects.filter(slug__in=audience, is_active=True).values_list("slug", "pk"))
        missing = [slug for slug in audience if slug not in found]
        if missing:
            raise exceptions.ValidationError({"audience": [
                f"No active CERT has the slug {', '.join(missing[:5])}: see /api/v1/certs/."]})
        data["products"] = [dict(product) for product in data["products"]]
        content = AdvisoryContent(audience_ids=[found[slug] for slug in audience], **data)
        with service_answers():
            try:
                advisory = services.advisory_create(actor=request.user, cert=cert, content=content)
            except DjangoValidationError as error:
                raise _renamed(error, {"audience_ids": "audience"}) from None
        return self._detail(access.get_visible_advisory(request.user, pk=advisory.pk),
                            status_code=status.HTTP_201_CREATED)

    def _author_cert(self, request, slug: str | None) -> Cert:
        """The CERT the caller writes for: a key's own; a member's named one, or their only one."""
        key = request_api_key(request)
        if slug is None and key is not None:
            return key.cert
        if slug is None:
            mine = list(access.certs_that_may_author(request.user)[:2])
            if len(mine) == 1:
                return mine[0]
            raise exceptions.ValidationError({"cert": [
                "Name the author CERT by its slug: you write for several CERTs, or for none."]})
        cert = Cert.objects.filter(slug=slug, is_active=True).first()
        if cert is None:
            raise exceptions.ValidationError({"cert": [
                f"No active CERT has the slug {slug!r}: see /api/v1/certs/."]})
        return cert

    @extend_schema(summary="Send the draft for review", request=VersionSerializer,
                   responses={200: AdvisoryDetailSerializer},
                   description="The draft goes to the author CERT's heads for review. " + WRITE_NOTE)
    @action(detail=True, methods=["post"])
    def submit(self, request, reference: str):
        advisory = access.get_visible_advisory(request.user, reference=reference)
        body = VersionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_answers():
            services.advisory_submit(actor=request.user, advisory=advisory,
                                     version=body.validated_data.get("version"))
        return self._detail(access.get_visible_advisory(request.user, pk=advisory.pk))
