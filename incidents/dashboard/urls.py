from django.urls import path

from incidents.dashboard import create as create_views
from incidents.dashboard import inbox as inbox_views
from incidents.dashboard import queue, workspace
from incidents.dashboard import reports as report_views
from incidents.dashboard import statistics as statistics_views
from incidents.dashboard import triage as triage_views
from incidents.dashboard import webhooks as webhook_views

app_name = "dashboard"

urlpatterns: list = [
    path("", queue.queue, name="queue"),
    path("bulk/", queue.bulk, name="bulk"),
    path("views/new/", queue.saved_view_create_view, name="saved_view_create"),
    path("views/<int:pk>/delete/", queue.saved_view_delete_view, name="saved_view_delete"),
    path("triage/", triage_views.triage, name="triage"),
    path("triage/<str:reference>/", triage_views.triage_report, name="triage_report"),
    path("triage/<str:reference>/<slug:action>/", triage_views.triage_action,
         name="triage_action"),
    path("incidents/new/", create_views.incident_create, name="incident_create"),
    # incident_create ("incidents/new/") must stay above this pattern: "new" is no reference.
    path("incidents/<str:reference>/", workspace.incident, name="incident"),
    path("incidents/<str:reference>/<slug:action>/", workspace.incident_action,
         name="incident_action"),
    path("notifications/", inbox_views.inbox, name="inbox"),
    path("notifications/<int:item_id>/", inbox_views.inbox_open, name="inbox_open"),
    path("notifications/read/", inbox_views.inbox_read_all, name="inbox_read_all"),
    path("settings/", inbox_views.preferences, name="preferences"),
    path("statistics/", statistics_views.statistics, name="statistics"),
    path("statistics/<slug:slug>/", statistics_views.statistics, name="statistics_cert"),
    path("statistics/<slug:slug>/<slug:table>.csv", statistics_views.statistics_csv,
         name="statistics_csv"),
    path("reports/", report_views.report_list, name="reports"),
    path("reports/generate/", report_views.report_generate, name="report_generate"),
    path("reports/<uuid:public_id>/", report_views.report_view, name="report"),
    path("reports/<uuid:public_id>/pdf/", report_views.report_pdf, name="report_pdf"),
    path("webhooks/", webhook_views.webhooks, name="webhooks"),
    path("webhooks/<uuid:public_id>/", webhook_views.webhook_attempts, name="webhook_attempts"),
    path("webhooks/<uuid:public_id>/<slug:action>/", webhook_views.webhook_action,
         name="webhook_action"),
]
