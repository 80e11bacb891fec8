from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    """The CERT registry: CERTs, their composition rules, sectors and memberships."""

    name = "organizations"
    verbose_name = "CERT registry"
