from django.contrib.admin.apps import AdminConfig


class TwoFactorAdminConfig(AdminConfig):
    """django.contrib.admin with the site of cert_portal/accounts/admin_site.py as admin.site."""

    default_site = "cert_portal.accounts.admin_site.TwoFactorAdminSite"
