from django.urls import path

from organizations import views

app_name = "organizations"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("certs/<slug:slug>/", views.cert_detail, name="cert_detail"),
]
