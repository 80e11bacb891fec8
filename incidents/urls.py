from django.urls import path

from incidents import views

app_name = "incidents"

urlpatterns = [
    path("attachments/<int:pk>/download/", views.attachment_download, name="attachment_download"),
]
