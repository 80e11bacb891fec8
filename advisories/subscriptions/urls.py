"""Public subscription to TLP:CLEAR advisories, mounted at /advisories/subscription/."""

from django.urls import path

from advisories.subscriptions import views

app_name = "advisory_subscriptions"
urlpatterns = [
    path("", views.subscribe, name="subscribe"),
    path("sent/", views.sent, name="sent"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
