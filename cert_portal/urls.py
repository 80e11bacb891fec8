from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "CERT portal administration"
admin.site.site_title = "CERT portal admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("incidents/", include("incidents.urls")),
    path("", include("organizations.urls")),
]
