"""Helpers shared by the incident service, SLA and concurrency tests: a frozen clock, and short
ways to read the effects the services leave behind (timeline, grants, ownership, queued tasks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core import mail
from django.utils import timezone
from django_q.models import OrmQ

from incidents.grants import COMMENT, VIEW, WORK, sync_grants
from incidents.models import (
    Incident,
    IncidentGroupObjectPermission,
    OwnershipPeriod,
    Status,
    TimelineEvent,
)

# A Tuesday morning in Karachi (05:00 UTC is 10:00 PKT): far from a year boundary.
T0 = datetime(2026, 3, 10, 5, 0, tzinfo=UTC)

FULL = {VIEW, COMMENT, WORK}
VIEW_COMMENT = {VIEW, COMMENT}
VIEW_ONLY = {VIEW}

DELIVERY_TASK = "incidents.tasks.deliver_notifications"


class FrozenClock:
    """django.utils.timezone.now, frozen at `now` until the test moves it. The services, the
    model's auto_now fields and the delivery code all read the clock through that function."""

    def __init__(self, monkeypatch, at: datetime = T0):
        self.now = at
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, at: datetime) -> datetime:
        self.now = at
        return self.now


def grants_by_cert(incident) -> dict[str, set[str]]:
    """{CERT slug: permission codenames} granted to CERT groups on `incident`."""
    grants: dict[str, set[str]] = {}
    for slug, codename in (IncidentGroupObjectPermission.objects
                           .filter(content_object=incident)
                           .values_list("group__cert__slug", "permission__codename")):
        grants.setdefault(slug, set()).add(codename)
    return grants


def events(incident, kind=None) -> list[TimelineEvent]:
    queryset = TimelineEvent.objects.filter(incident=incident).order_by("pk")
    if kind is not None:
        queryset = queryset.filter(kind=kind)
    return list(queryset)


def ownership_history(incident) -> list[tuple[str, datetime, datetime | None]]:
    return [(period.cert.slug, period.started_at, period.ended_at) for period in
            OwnershipPeriod.objects.filter(incident=incident).select_related("cert")
            .order_by("started_at", "pk")]


def queued_funcs() -> list[str]:
    """The functions of the django-q2 tasks waiting in the ORM broker, oldest first."""
    return [task.func() for task in OrmQ.objects.order_by("pk")]


def bulk_incidents(owner, count: int, *, tag: str, ack_due: datetime, resolve_due: datetime,
                   reported: datetime, status: str = Status.NEW) -> list[int]:
    """`count` Medium TLP:AMBER incidents owned by `owner`, created in bulk with their ownership
    records and grants (as the services leave them), for tests that need many. Returns their ids.
    """
    incidents = Incident.objects.bulk_create([
        Incident(reference=f"TEST-{tag}-{n:06d}", title=f"Bulk {tag} {n}",
                 classification="fraud", incident_type="phishing", severity=2, tlp="TLP:AMBER",
                 status=status, owner_cert=owner, reported_at=reported, owner_since=reported,
                 ack_due_at=ack_due, resolve_due_at=resolve_due)
        for n in range(count)
    ])
    OwnershipPeriod.objects.bulk_create([
        OwnershipPeriod(incident=incident, cert=owner, started_at=reported)
        for incident in incidents])
    ids = [incident.pk for incident in incidents]
    sync_grants(ids)
    return ids


# Members made by the `member` fixture (tests/incidents/conftest.py) have addresses in this domain.
STAFF_DOMAIN = "@t.example"


def emails_of(slug: str, *roles: str) -> list[str]:
    """The addresses of the `member` fixture's users of CERT `slug` in `roles`, sorted."""
    return sorted(f"{slug}.{role}{STAFF_DOMAIN}" for role in roles)


def new_mail() -> list:
    """Deliver the outbox and return the e-mails this delivery sent."""
    from incidents.tasks import deliver_notifications

    already = len(mail.outbox)
    deliver_notifications()
    return mail.outbox[already:]
