from django.urls import path

from incidents.public import views as public_views

app_name = "incidents_public"

urlpatterns = [
    path("", public_views.report, name="report"),
    path("received/", public_views.report_received, name="report_received"),
    path("status/", public_views.status, name="status"),
    path("status/<str:reference>/", public_views.status_detail, name="status_detail"),
]
