from django.urls import path

from cert_portal.accounts import views

app_name = "accounts"

# Two-factor sign-in, sign-out and the member's two-factor page (issue 9, item 1).
urlpatterns: list = [
    path("login/", views.login, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("login/authenticator/", views.login_enrol, name="login_enrol"),
    path("logout/", views.logout, name="logout"),
    path("account/two-factor/", views.two_factor, name="two_factor"),
    path("account/two-factor/recovery-codes/", views.two_factor_recovery_codes,
         name="two_factor_recovery_codes"),
    path("account/two-factor/replace/", views.two_factor_replace, name="two_factor_replace"),
    path("account/two-factor/new-authenticator/", views.two_factor_enrol, name="two_factor_enrol"),
]
