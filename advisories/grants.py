"""Which CERTs and people may read or work an advisory (DOMAIN.md §2), and the sync applying it.

`derive_advisory_grants` is pure; `sync_advisory_grants` writes its result to django-guardian's
direct foreign-key tables by difference, in a constant number of queries for any number of
advisories.

- The author CERT: view and work, in every state (it writes the drafts; the originator of
  information is not restricted by its own label).
- Published (or withdrawn) under TLP:AMBER or TLP:AMBER+STRICT: view for each audience CERT.
- Published under TLP:RED: view for each named reader (a user grant, not a group grant).
- TLP:CLEAR (everyone) and TLP:GREEN (every member of an active CERT) need no grant: the label
  alone decides, in advisories.access, so a CERT added to the registry reads them at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from cert_portal.audit.events import grant_names, permission_changes
from incidents.tlp import Tlp

VIEW = "view_advisory"
WORK = "work_advisory"
ALL_GRANTS = (VIEW, WORK)
_AUDIENCE_LABELS = frozenset({Tlp.AMBER, Tlp.AMBER_STRICT})


def derive_advisory_grants(*, author_cert_id: int, published: bool, tlp: str,
                           audience_ids: Iterable[int], reader_ids: Iterable[int]
                           ) -> tuple[dict[int, frozenset[str]], dict[int, frozenset[str]]]:
    """Return ({cert id: codenames}, {user id: codenames}) for one advisory."""
    certs: dict[int, set[str]] = {author_cert_id: {VIEW, WORK}}
    users: dict[int, set[str]] = {}
    if published and tlp in _AUDIENCE_LABELS:
        for cert_id in audience_ids:
            certs.setdefault(cert_id, set()).add(VIEW)
    if published and tlp == Tlp.RED:
        for user_id in reader_ids:
            users.setdefault(user_id, set()).add(VIEW)
    return ({cert_id: frozenset(names) for cert_id, names in certs.items()},
            {user_id: frozenset(names) for user_id, names in users.items()})


def sync_advisory_grants(advisory_ids: Iterable[int]) -> tuple[int, int]:
    """Bring the permissions of these advisories in line with `derive_advisory_grants`.

    Returns (granted, revoked)."""
    from advisories.models import (
        Advisory,
        AdvisoryGroupObjectPermission,
        AdvisoryUserObjectPermission,
    )
    from organizations.models import Cert

    advisory_ids = list(advisory_ids)
    if not advisory_ids:
        return 0, 0
    rows = list(Advisory.objects.filter(pk__in=advisory_ids)
                .values_list("pk", "author_cert_id", "status", "tlp", "reference"))
    audience: dict[int, set[int]] = {}
    for advisory_id, cert_id in Advisory.audience.through.objects.filter(
            advisory_id__in=advisory_ids).values_list("advisory_id", "cert_id"):
        audience.setdefault(advisory_id, set()).add(cert_id)
    readers: dict[int, set[int]] = {}
    for advisory_id, user_id in Advisory.readers.through.objects.filter(
            advisory_id__in=advisory_ids).values_list("advisory_id", "user_id"):
        readers.setdefault(advisory_id, set()).add(user_id)

    wanted_certs: set[tuple[int, int, str]] = set()
    wanted_users: set[tuple[int, int, str]] = set()
    for advisory_id, author_cert_id, status, tlp, _ in rows:
        certs, users = derive_advisory_grants(
            author_cert_id=author_cert_id, published=status in ("published", "withdrawn"), tlp=tlp,
            audience_ids=audience.get(advisory_id, ()), reader_ids=readers.get(advisory_id, ()))
        wanted_certs.update((advisory_id, cert_id, name)
                            for cert_id, names in certs.items() for name in names)
        wanted_users.update((advisory_id, user_id, name)
                            for user_id, names in users.items() for name in names)

    group_of = dict(Cert.objects.filter(pk__in={cert for _, cert, _ in wanted_certs})
                    .values_list("pk", "group_id"))
    permission_ids = dict(Permission.objects.filter(content_type__app_label="advisories",
                                                    codename__in=ALL_GRANTS)
                          .values_list("codename", "pk"))
    wanted_group_rows = {(advisory_id, group_of[cert_id], permission_ids[name])
                         for advisory_id, cert_id, name in wanted_certs}
    wanted_user_rows = {(advisory_id, user_id, permission_ids[name])
                        for advisory_id, user_id, name in wanted_users}
    existing_groups = {(row[1], row[2], row[3]): row[0] for row in
                       AdvisoryGroupObjectPermission.objects.filter(content_object_id__in=advisory_ids)
                       .values_list("pk", "content_object_id", "group_id", "permission_id")}
    existing_users = {(row[1], row[2], row[3]): row[0] for row in
                      AdvisoryUserObjectPermission.objects.filter(content_object_id__in=advisory_ids)
                      .values_list("pk", "content_object_id", "user_id", "permission_id")}
    add_groups = wanted_group_rows - existing_groups.keys()
    add_users = wanted_user_rows - existing_users.keys()
    removed_group_rows = [key for key in existing_groups if key not in wanted_group_rows]
    removed_user_rows = [key for key in existing_users if key not in wanted_user_rows]
    remove_groups = [existing_groups[key] for key in removed_group_rows]
    remove_users = [existing_users[key] for key in removed_user_rows]
    with transaction.atomic():
        if remove_groups:
            AdvisoryGroupObjectPermission.objects.filter(pk__in=remove_groups).delete()
        if remove_users:
            AdvisoryUserObjectPermission.objects.filter(pk__in=remove_users).delete()
        AdvisoryGroupObjectPermission.objects.bulk_create([
            AdvisoryGroupObjectPermission(content_object_id=advisory_id, group_id=group_id,
                                          permission_id=permission_id)
            for advisory_id, group_id, permission_id in add_groups])
        AdvisoryUserObjectPermission.objects.bulk_create([
            AdvisoryUserObjectPermission(content_object_id=advisory_id, user_id=user_id,
                                         permission_id=permission_id)
            for advisory_id, user_id, permission_id in add_users])
        if add_groups or add_users or remove_groups or remove_users:
            _audit(rows, (add_groups, removed_group_rows), (add_users, removed_user_rows),
                   permission_ids)
    return len(add_groups) + len(add_users), len(remove_groups) + len(remove_users)


def _audit(rows, group_changes, user_changes, permission_ids: dict[str, int]) -> None:
    """PERMISSION_CHANGED for each advisory whose grants changed (one query each for the names of
    the groups and users concerned, one INSERT), under its author CERT."""
    (add_groups, removed_groups), (add_users, removed_users) = group_changes, user_changes
    group_ids = {row[1] for row in (*add_groups, *removed_groups)}
    user_ids = {row[1] for row in (*add_users, *removed_users)}
    group_names = dict(Group.objects.filter(pk__in=group_ids).values_list("pk", "name")
                       ) if group_ids else {}
    user_model = get_user_model()
    user_names = dict(user_model.objects.filter(pk__in=user_ids)
                      .values_list("pk", user_model.USERNAME_FIELD)) if user_ids else {}
    codenames = {pk: codename for codename, pk in permission_ids.items()}
    added = grant_names(add_groups, group_names, codenames)
    removed = grant_names(removed_groups, group_names, codenames)
    for target, changes in ((added, add_users), (removed, removed_users)):
        for advisory_id, names in grant_names(changes, user_names, codenames).items():
            target.setdefault(advisory_id, []).extend(f"user {name}" for name in names)
    permission_changes("advisory", {pk: (reference, author) for pk, author, _, _, reference
                                    in rows}, added, removed)
