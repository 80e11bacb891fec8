"""/taxii2/: TAXII 2.1 (issue 11). One API root, /taxii2/api/."""

from django.urls import path

from cert_portal.taxii import views

app_name = "taxii"

urlpatterns = [
    path("", views.DiscoveryView.as_view(), name="discovery"),
    path("api/", views.ApiRootView.as_view(), name="api_root"),
    path("api/status/<uuid:status_id>/", views.StatusView.as_view(), name="status"),
    path("api/collections/", views.CollectionsView.as_view(), name="collections"),
    path("api/collections/<str:collection_id>/", views.CollectionView.as_view(), name="collection"),
    path("api/collections/<str:collection_id>/objects/", views.ObjectsView.as_view(), name="objects"),
    path("api/collections/<str:collection_id>/manifest/", views.ManifestView.as_view(),
         name="manifest"),
    path("api/collections/<str:collection_id>/objects/<str:object_id>/", views.ObjectView.as_view(),
         name="object"),
    path("api/collections/<str:collection_id>/objects/<str:object_id>/versions/",
         views.VersionsView.as_view(), name="versions"),
]
