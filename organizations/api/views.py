"""/api/v1/certs/: the CERT registry, read-only, for any key or signed-in member (issue 11).

The registry's public part is public (organizations.access): every active CERT is listed, as in
the public directory; the caller's relation to each comes from the caller's memberships (a key's
CERT, through its service user's roles).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.pagination import CursorPagination

from advisories.access import member_group_roles
from organizations.api.serializers import CertSerializer
from organizations.models import Cert


class RegistryPagination(CursorPagination):
    """Keyset pages in the order of the slugs (unique); `?page_size=` up to 200."""

    ordering = ("slug",)
    page_size_query_param = "page_size"
    max_page_size = 200


def my_certs(user) -> dict[int, tuple[str, str]]:
    """{pk: (path, role)} of the user's active CERTs (one query; none without memberships)."""
    roles = member_group_roles(user)
    if not roles:
        return {}
    return {pk: (path, roles[group_id]) for pk, path, group_id in Cert.objects.filter(
        group_id__in=list(roles), is_active=True).values_list("pk", "path", "group_id")}


@extend_schema_view(
    list=extend_schema(summary="List the active CERTs of the national registry",
                       description="Every active CERT's public profile (RFC 2350 style), as the "
                                   "public directory shows it, with the caller's relation to it."),
    retrieve=extend_schema(summary="One active CERT by its slug",
                           description="404 when no active CERT has this slug."),
)
class CertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CertSerializer
    pagination_class = RegistryPagination
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    queryset = Cert.objects.filter(is_active=True).select_related("parent", "sector")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        context["my_certs"] = my_certs(self.request.user)
        return context
