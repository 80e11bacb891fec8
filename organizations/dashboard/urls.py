from django.urls import path

from organizations.dashboard import api_keys, views

app_name = "registry"

urlpatterns: list = [
    path("", views.tree, name="tree"),
    # Above the profile's pattern: "health" would otherwise be read as a CERT's slug (a CERT
    # with the slug "health" could show its profile only on the public pages).
    path("health/", views.health, name="health"),
    # The active CERT's API keys (issue 11), above the profile's pattern for the same reason.
    path("api-keys/", api_keys.api_keys, name="api_keys"),
    path("api-keys/<int:pk>/revoke/", api_keys.api_key_revoke_view, name="api_key_revoke"),
    path("<slug:slug>/", views.cert, name="cert"),
    path("<slug:slug>/members/", views.members, name="members"),
]
