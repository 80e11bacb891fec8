from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "CERT portal administration"
admin.site.site_title = "CERT portal admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    # set_language: the language switch in base.html posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("incidents/", include("incidents.urls")),
    path("report/", include("incidents.public.urls")),
    path("", include("organizations.urls")),
]
