"""What the incidents app asks of registry changes (see organizations.hooks)."""

from __future__ import annotations

from incidents.grants import sync_grants
from incidents.models import OPEN_STATUSES, Incident
from organizations.models import Cert
from organizations.rules import Violation

RESYNC_BATCH = 1000


def open_incidents_block_deactivation(cert: Cert) -> list[Violation]:
    """A CERT that owns open incidents cannot be deactivated: they would have no one to work
    them (DOMAIN.md §1)."""
    count = Incident.objects.filter(owner_cert=cert, status__in=OPEN_STATUSES).count()
    if not count:
        return []
    return [Violation("tree.open_incidents", f"{cert.name} owns {count} open incident"
                      f"{'s' if count != 1 else ''}: escalate, refer or resolve them first.",
                      "is_active")]


def resync_after_move(cert: Cert) -> None:
    """The CERTs above an owner see its incidents (TLP permitting): after `cert` moved, re-derive
    the grants of every incident owned in its subtree, in batches of constant query cost."""
    ids = list(Incident.objects.filter(owner_cert__path__startswith=cert.path)
               .order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), RESYNC_BATCH):
        sync_grants(ids[start:start + RESYNC_BATCH])
