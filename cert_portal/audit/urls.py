"""The audit trail's pages in the staff dashboard (issue 13, item 1), under /dashboard/audit/."""

from django.urls import path

from cert_portal.audit import views

app_name = "audit"

urlpatterns: list = [
    path("", views.trail, name="trail"),
    path("export.csv", views.trail_csv, name="trail_csv"),
    path("outside/", views.outside, name="outside"),
    path("outside/export.csv", views.outside_csv, name="outside_csv"),
]
