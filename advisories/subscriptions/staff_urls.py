"""A member's advisory e-mail settings, mounted at /dashboard/advisories/subscription/."""

from django.urls import path

from advisories.subscriptions import views

app_name = "advisory_subscription_settings"
urlpatterns = [
    path("", views.member_subscription, name="edit"),
]
