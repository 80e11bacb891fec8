"""/api/v1/ incidents and observables (issue 11)."""

from django.urls import path

from incidents.api import views

urlpatterns = [
    path("incidents/", views.IncidentList.as_view(), name="api-incidents"),
    path("incidents/<str:reference>/", views.IncidentDetail.as_view(), name="api-incident"),
    path("incidents/<str:reference>/acknowledge/", views.Acknowledge.as_view(),
         name="api-incident-acknowledge"),
    path("incidents/<str:reference>/transition/", views.Transition.as_view(),
         name="api-incident-transition"),
    path("incidents/<str:reference>/assign/", views.Assign.as_view(), name="api-incident-assign"),
    path("incidents/<str:reference>/escalate/", views.Escalate.as_view(),
         name="api-incident-escalate"),
    path("incidents/<str:reference>/refer/", views.Refer.as_view(), name="api-incident-refer"),
    path("incidents/<str:reference>/share/", views.Share.as_view(), name="api-incident-share"),
    path("incidents/<str:reference>/comments/", views.Comments.as_view(),
         name="api-incident-comments"),
    path("incidents/<str:reference>/observables/", views.Observables.as_view(),
         name="api-incident-observables"),
    path("incidents/<str:reference>/attachments/", views.Attachments.as_view(),
         name="api-incident-attachments"),
    path("incidents/<str:reference>/timeline/", views.Timeline.as_view(),
         name="api-incident-timeline"),
    path("observables/", views.ObservableSearch.as_view(), name="api-observables"),
]
