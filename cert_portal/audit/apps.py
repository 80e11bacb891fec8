from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "cert_portal.audit"
    label = "audit"
    verbose_name = "Audit trail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Connects the receivers of sign-in failures and sign-outs.
        from cert_portal.audit import signins  # noqa: F401
