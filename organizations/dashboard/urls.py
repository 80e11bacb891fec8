from django.urls import path

from organizations.dashboard import views

app_name = "registry"

urlpatterns: list = [
    path("", views.tree, name="tree"),
    # Above the profile's pattern: "health" would otherwise be read as a CERT's slug (a CERT
    # with the slug "health" could show its profile only on the public pages).
    path("health/", views.health, name="health"),
    path("<slug:slug>/", views.cert, name="cert"),
    path("<slug:slug>/members/", views.members, name="members"),
]
