from django.apps import AppConfig


class CertPortalConfig(AppConfig):
    """Project-wide pieces: the `run_portal` command and shared template helpers."""

    name = "cert_portal"
    verbose_name = "CERT portal"

    def ready(self):
        from cert_portal import db  # noqa: F401  (connects its signal receivers)
