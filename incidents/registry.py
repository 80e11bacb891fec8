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
    """The ids of `incidents` in ascending batches of at most `size`.

    One query streams them (the database cursor hands them over `size` at a time, so memory stays
    bounded, and the query is planned and sorted once: reading each batch by keyset re-sorted a
    provincial subtree's 117k incidents for every batch, 44 of a move's 63 s at 1M incidents).
    Then, by keyset, any incident created meanwhile with a higher id, which the stream's snapshot
    may not show, so that none is left with the grants of the old tree."""
    last, batch = 0, []
    for pk in incidents.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=size):
        batch.append(pk)
        if len(batch) == size:
            yield batch
            last, batch = batch[-1], []
    if batch:
        yield batch
        last = batch[-1]
    while ids := list(incidents.filter(pk__gt=last).order_by("pk")
                      .values_list("pk", flat=True)[:size]):
        yield ids
        if len(ids) < size:
            return
        last = ids[-1]
