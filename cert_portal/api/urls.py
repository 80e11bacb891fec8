"""/api/: the versioned partner API (issue 11), its OpenAPI schema and Swagger UI."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from cert_portal.api.problems import problem


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([])
def no_such_endpoint(request, path=""):
    """Any other address under /api/: a problem document, not the HTML 404 page."""
    return problem(404, "There is no API endpoint at this address: see /api/docs/.")


urlpatterns = [
    path("v1/", include("organizations.api.urls")),
    path("v1/", include("incidents.api.urls")),
    path("v1/", include("advisories.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from ?script=, not inline: the
    # Content-Security-Policy allows no inline script (issue 13).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema",
                                                      template_name="api/swagger_ui.html"),
         name="api-docs"),
    # [\s\S], not ".": an address with a newline (%0A) must get the problem document too.
    re_path(r"^(?P<path>[\s\S]*)$", no_such_endpoint),
]
