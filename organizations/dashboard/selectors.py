"""The incident numbers of the registry pages (issue 9, item 7).

The registry (organizations) must not depend on the apps built on it (organizations.hooks); its
dashboard pages are part of the staff dashboard, which sits on top of both, so the counting of
incidents lives here rather than in organizations.selectors.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from incidents.models import OPEN_STATUSES, Incident, overdue_condition
from organizations.models import Cert
from organizations.selectors import subtree_totals


@dataclass(frozen=True)
class IncidentCounts:
    """Open and overdue incidents per CERT (by primary key): `own_*` those it owns, `open` and
    `overdue` those owned anywhere in its subtree. Every TLP is counted: numbers flow up the tree,
    details do not (DOMAIN.md §2). A CERT missing from a dict has none."""

    own_open: dict[int, int]
    own_overdue: dict[int, int]
    open: dict[int, int]
    overdue: dict[int, int]



def incident_counts(*, now, subtree: Cert | None = None) -> IncidentCounts:
    """Count the open and the overdue incidents of every CERT (or only of those in `subtree`,
    for one CERT's page): two GROUP BY queries over the
    open incidents by owner (the index incident_owner_status, (owner_cert, status, reported_at),
    holds the rows they read), summed up the tree in Python by each owner's stored path.

    The numbers are of open work only, which the SLA clocks keep short; the closed history of
    years is never read. With `subtree`, the totals of the CERTs above it are partial: read
    only those of its CERTs."""
    open_incidents = Incident.objects.filter(status__in=OPEN_STATUSES).order_by()
    if subtree is not None:
        open_incidents = open_incidents.filter(owner_cert__path__startswith=subtree.path)
    by_owner = _by_owner(open_incidents)
    overdue_by_owner = _by_owner(open_incidents.filter(overdue_condition(now)))
    return IncidentCounts(
        own_open={pk: number for pk, _, number in by_owner},
        own_overdue={pk: number for pk, _, number in overdue_by_owner},
        open=subtree_totals((path, number) for _, path, number in by_owner),
        overdue=subtree_totals((path, number) for _, path, number in overdue_by_owner),
    )


def _by_owner(incidents) -> list[tuple[int, str, int]]:
    return list(incidents.values("owner_cert_id", "owner_cert__path")
                .annotate(number=Count("pk")).values_list("owner_cert_id", "owner_cert__path",
                                                          "number"))
