from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Incident tickets: lifecycle, escalation along the CERT tree, SLA clocks, permissions."""

    name = "incidents"
    verbose_name = "Incidents"
