from django.urls import path

app_name = "accounts"

# Filled by cert_portal/accounts/views.py: login, logout, two-factor enrolment, recovery codes.
urlpatterns: list = []
