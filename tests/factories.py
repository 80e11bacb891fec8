"""One minimal valid factory per model. CERTs and memberships are made through the registry
services, exactly as the portal makes them, so factories can never build what the rules forbid."""

import factory
from django.contrib.auth import get_user_model

from organizations.models import Cert, Membership, Sector
from organizations.services import cert_create, membership_add


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@cert.example")
    password = factory.django.Password("correct horse battery staple")


class SectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sector
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"sector-{n}")
    name = factory.LazyAttribute(lambda sector: sector.slug.replace("-", " ").title())
    regulator = factory.LazyAttribute(lambda sector: f"Regulator of {sector.name}")


class CertFactory(factory.django.DjangoModelFactory):
    """Pass kind, parent and region/sector as the rules require; defaults make an
    organizational CERT."""

    class Meta:
        model = Cert

    kind = "organizational"
    slug = factory.Sequence(lambda n: f"cert-{n}")
    name = factory.LazyAttribute(lambda cert: f"CERT {cert.slug}")
    short_name = factory.LazyAttribute(lambda cert: cert.slug.upper()[:40])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return cert_create(actor=None, **kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    role = "handler"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return membership_add(actor=None, **kwargs)


def make_incident(*, owner_cert, actor=None, **fields):
    """An incident opened through the service, as the portal opens them."""
    from incidents.services import incident_create

    defaults = {"title": "Phishing campaign against staff", "classification": "fraud",
                "incident_type": "phishing", "description": "", "severity": 2,
                "tlp": "TLP:AMBER"}
    return incident_create(actor=actor, owner_cert=owner_cert, **{**defaults, **fields})
