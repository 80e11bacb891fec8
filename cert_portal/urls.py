from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.http import Http404, HttpResponseRedirect
from django.urls import include, path

from cert_portal.staff import switch_cert
from incidents.access import get_visible_incident_part, incident_link

admin.site.site_header = "CERT portal administration"
admin.site.site_title = "CERT portal admin"


def view_on_site(request, content_type_id: int, object_id: str):
    """The admin's "view on site" link (/admin/r/<content type>/<id>/), which must not tell a
    member which incidents exist (issue 7, finding 10). Django's shortcut redirects for any row
    that exists and answers 404 otherwise, with texts (under DEBUG) that differ between "no such
    row" and "no page for such rows". For incidents and the rows that belong to them, a row the
    user may not see is answered exactly like one that does not exist; other models keep the
    shortcut."""
    content_type = ContentType.objects.filter(pk=content_type_id).first()
    model = content_type.model_class() if content_type else None
    if model is None or incident_link(model) is None:
        return shortcut(request, content_type_id, object_id)
    row = get_visible_incident_part(request.user, model, object_id)
    if not hasattr(row, "get_absolute_url"):
        raise Http404("No incident matches the given query.")  # the answer to a missing row
    return HttpResponseRedirect(row.get_absolute_url())


urlpatterns = [
    # Before the admin's own pattern for the same address, which it replaces.
    path("admin/r/<int:content_type_id>/<path:object_id>/", admin.site.admin_view(view_on_site)),
    path("admin/", admin.site.urls),
    # Staff: two-factor sign-in, then the dashboard (issue 9).
    path("", include("cert_portal.accounts.urls")),
    path("dashboard/cert/", switch_cert, name="switch_cert"),
    path("dashboard/registry/", include("organizations.dashboard.urls")),
    path("dashboard/advisories/subscription/", include("advisories.subscriptions.staff_urls")),
    path("dashboard/advisories/", include("advisories.dashboard.urls")),
    # The heads' audit trail of their CERT (issue 13).
    path("dashboard/audit/", include("cert_portal.audit.urls")),
    path("dashboard/", include("incidents.dashboard.urls")),
    # set_language: the language switch in base.html posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("incidents/", include("incidents.urls")),
    # Partner CERTs' systems (issue 11): REST, TAXII 2.1 and a MISP feed, with API keys.
    path("api/", include("cert_portal.api.urls")),
    path("taxii2/", include("cert_portal.taxii.urls")),
    path("misp/", include("cert_portal.misp.urls")),
    path("report/", include("incidents.public.urls")),
    # Advisories (issue 10): public pages and feeds, and the CSAF provider with /.well-known/.
    path("advisories/subscription/", include("advisories.subscriptions.urls")),
    path("advisories/", include("advisories.public.urls")),
    path("", include("advisories.csaf.urls")),
    path("", include("organizations.urls")),
]
