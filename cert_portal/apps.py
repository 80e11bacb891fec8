from django.apps import AppConfig


class CertPortalConfig(AppConfig):
    """Project-wide pieces: the `run_portal` command and shared template helpers."""

    name = "cert_portal"
    verbose_name = "CERT portal"

    def ready(self):
        # db connects its signal receivers on import.
        from cert_portal import db, task_failures  # noqa: F401

        task_failures.connect()
