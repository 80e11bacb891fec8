from django.apps import AppConfig


class AdvisoriesConfig(AppConfig):
    """Advisories: authoring with four eyes, TLP audiences, public pages and feeds, CSAF 2.0."""

    name = "advisories"
    verbose_name = "Advisories"
