"""Which CERTs may do what with an incident (DOMAIN.md §2), and the sync that applies it.

`derive_grants` is a pure function of the incident's owner, ownership history, shares and TLP.
`sync_grants` writes its result to django-guardian's group permissions (one group per CERT) by
difference, for one incident or many, in a constant number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from cert_portal.audit.events import grant_names, permission_changes
from incidents.tlp import shareable, visible_to_ancestors

VIEW = "view_incident"
COMMENT = "comment_incident"
WORK = "work_incident"
ALL_GRANTS = (VIEW, COMMENT, WORK)


def derive_grants(*, owner_path_ids: list[int], earlier_owner_ids: Iterable[int],
                  shared_cert_ids: Iterable[int], tlp: str) -> dict[int, frozenset[str]]:
    """Return {cert id: permission codenames} for one incident.

    `owner_path_ids` runs from the root to the current owner (the owner is the last element).
    - current owner: view, comment, work;
    - earlier owners: view and comment;
    - ancestors of the owner: view, except for TLP:AMBER+STRICT and TLP:RED;
    - CERTs shared with: view, only for TLP:CLEAR, GREEN and AMBER.
    """
    grants: dict[int, set[str]] = {}

    def add(cert_id: int, *codenames: str) -> None:
        grants.setdefault(cert_id, set()).update(codenames)

    *ancestors, owner = owner_path_ids
    if visible_to_ancestors(tlp):
        for cert_id in ancestors:
            add(cert_id, VIEW)
    if shareable(tlp):
        for cert_id in shared_cert_ids:
            add(cert_id, VIEW)
    for cert_id in earlier_owner_ids:
        add(cert_id, VIEW, COMMENT)
    add(owner, VIEW, COMMENT, WORK)
    return {cert_id: frozenset(codenames) for cert_id, codenames in grants.items()}


def sync_grants(incident_ids: Iterable[int]) -> tuple[int, int]:
    """Bring the group permissions of these incidents in line with `derive_grants`.

    Returns (granted, revoked). Costs the same few queries for one incident or a thousand.
    """
    from incidents.models import (
        Incident,
        IncidentGroupObjectPermission,
        IncidentShare,
        OwnershipPeriod,
    )
    from organizations.models import Cert

    incident_ids = list(incident_ids)
    if not incident_ids:
        return 0, 0
    incidents = list(Incident.objects.filter(pk__in=incident_ids)
                     .values_list("pk", "tlp", "owner_cert__path", "reported_at", "reference",
                                  "owner_cert_id"))
    reported_at = {incident_id: reported for incident_id, _, _, reported, _, _ in incidents}
    earlier: dict[int, set[int]] = {}
    for incident_id, cert_id in (OwnershipPeriod.objects
                                 .filter(incident_id__in=incident_ids, ended_at__isnull=False)
                                 .values_list("incident_id", "cert_id")):
        earlier.setdefault(incident_id, set()).add(cert_id)
    shared: dict[int, set[int]] = {}
    for incident_id, cert_id in (IncidentShare.objects.filter(incident_id__in=incident_ids)
                                 .values_list("incident_id", "cert_id")):
        shared.setdefault(incident_id, set()).add(cert_id)

    wanted: set[tuple[int, int, str]] = set()  # (incident, cert, codename)
    for incident_id, tlp, owner_path, _, _, _ in incidents:
        path_ids = [int(part) for part in owner_path.split("/") if part]
        for cert_id, codenames in derive_grants(
            owner_path_ids=path_ids, earlier_owner_ids=earlier.get(incident_id, ()),
            shared_cert_ids=shared.get(incident_id, ()), tlp=tlp,
        ).items():
            wanted.update((incident_id, cert_id, codename) for codename in codenames)

    group_of = dict(Cert.objects.filter(pk__in={cert for _, cert, _ in wanted})
                    .values_list("pk", "group_id"))
    permission_ids = dict(Permission.objects.filter(content_type__app_label="incidents",
                                                    codename__in=ALL_GRANTS)
                          .values_list("codename", "pk"))
    wanted_rows = {(incident_id, group_of[cert_id], permission_ids[codename])
                   for incident_id, cert_id, codename in wanted}
    existing = {(row[1], row[2], row[3]): row[0] for row in
                IncidentGroupObjectPermission.objects.filter(content_object_id__in=incident_ids)
                .values_list("pk", "content_object_id", "group_id", "permission_id")}
    to_add = wanted_rows - existing.keys()
    removed_rows = [key for key in existing if key not in wanted_rows]
    to_remove = [existing[key] for key in removed_rows]
    with transaction.atomic():
        if to_remove:
            IncidentGroupObjectPermission.objects.filter(pk__in=to_remove).delete()
        IncidentGroupObjectPermission.objects.bulk_create([
            IncidentGroupObjectPermission(content_object_id=incident_id, group_id=group_id,
                                          permission_id=permission_id,
                                          incident_reported_at=reported_at[incident_id])
            for incident_id, group_id, permission_id in to_add
        ])
        if to_add or removed_rows:
            _audit(incidents, to_add, removed_rows, permission_ids)
    return len(to_add), len(to_remove)


def _audit(incidents, added, removed, permission_ids: dict[str, int]) -> None:
    """PERMISSION_CHANGED for each incident whose grants changed (one query for the names of
    the groups, one INSERT), under the owner CERT of that moment."""
    group_names = dict(Group.objects.filter(pk__in={row[1] for row in (*added, *removed)})
                       .values_list("pk", "name"))
    codenames = {pk: codename for codename, pk in permission_ids.items()}
    permission_changes("incident", {pk: (reference, owner) for pk, _, _, _, reference, owner
                                    in incidents},
                       grant_names(added, group_names, codenames),
                       grant_names(removed, group_names, codenames))
