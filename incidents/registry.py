"""What the incidents app asks of registry changes (see organizations.hooks)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from incidents.grants import sync_grants
from incidents.models import OPEN_STATUSES, Incident
from organizations.models import Cert
from organizations.rules import Violation

RESYNC_BATCH = 1000
# Past this many, the refusal to deactivate a CERT says "N+ open incidents" instead of counting
# them all: the admin's save must not scan a national CERT's whole backlog to say no.
OPEN_INCIDENTS_COUNT_CAP = 10_000


def open_incidents_block_deactivation(cert: Cert) -> list[Violation]:
    """A CERT that owns open incidents cannot be deactivated: they would have no one to work
    them (DOMAIN.md §1)."""
    cap = OPEN_INCIDENTS_COUNT_CAP
    count = Incident.objects.filter(owner_cert=cert, status__in=OPEN_STATUSES)[:cap + 1].count()
    if not count:
        return []
    how_many = (f"{cap:,}+ open incidents" if count > cap
                else f"{count} open incident{'s' if count != 1 else ''}")
    return [Violation("tree.open_incidents", f"{cert.name} owns {how_many}: escalate, refer or "
                      "resolve them first.", "is_active")]


def resync_after_move(cert: Cert) -> None:
    """The CERTs above an owner see its incidents (TLP permitting): after `cert` moved, re-derive
    the grants of every incident owned in its subtree, in batches of constant query cost."""
    for ids in incident_id_batches(Incident.objects.filter(owner_cert__path__startswith=cert.path),
                                   RESYNC_BATCH):
        sync_grants(ids)


def incident_id_batches(incidents: QuerySet[Incident], size: int) -> Iterator[list[int]]:
    """The ids of `incidents` in ascending batches of at most `size`, each read by keyset (ids
    above the last batch's), so that memory and the cost of each query stay bounded however many
    there are. An incident created meanwhile is included if its id is above the last batch read."""
    last = 0
    while ids := list(incidents.filter(pk__gt=last).order_by("pk")
                      .values_list("pk", flat=True)[:size]):
        yield ids
        if len(ids) < size:
            return
        last = ids[-1]
