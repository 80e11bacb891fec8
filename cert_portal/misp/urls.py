"""/misp/: the MISP feed (issue 11, point 7)."""

from django.urls import path, re_path

from cert_portal.misp import views

urlpatterns = [
    path("manifest.json", views.ManifestView.as_view(), name="misp-manifest"),
    path("hashes.csv", views.HashesView.as_view(), name="misp-hashes"),
    path("<uuid:event_uuid>.json", views.EventView.as_view(), name="misp-event"),
    re_path(r"^(?P<path>.*)$", views.no_such_document),
]
