"""Who may see and do what with incidents: the only place that decides it (DOMAIN.md §2).

What a person may do = what their CERT's group was granted on the incident (incidents.grants)
AND what their role in that CERT allows. Views, the API, tasks and templates ask here.
An incident the user may not see is answered exactly like one that does not exist (404).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.expressions import RawSQL
from django.http import Http404

from cert_portal.pagination import Cursor, Direction, Position, encode_cursor
from incidents.grants import COMMENT, VIEW, WORK
from incidents.models import (
    Incident,
    IncidentGroupObjectPermission,
    IncidentWatch,
    Notification,
    SavedView,
    Source,
    Status,
)
from organizations.models import Cert, Membership, Role


class Action(StrEnum):
    VIEW = "view"
    COMMENT = "comment"
    ADD_OBSERVABLE = "add_observable"
    ATTACH = "attach"
    TRANSITION = "transition"
    ASSIGN = "assign"
    CHANGE_SEVERITY = "change_severity"
    RAISE_TLP = "raise_tlp"
    LOWER_TLP = "lower_tlp"
    ESCALATE = "escalate"
    REFER = "refer"
    SHARE = "share"
    REOPEN_FINAL = "reopen_final"  # closed -> in progress, rejected -> new
    MERGE = "merge"  # a duplicate into another incident (issue 9)
    MANAGE_TASKS = "manage_tasks"  # the incident's checklist: add, assign, tick (issue 9)
    LINK = "link"  # mark another incident as related (issue 9)


_ALL_ROLES = frozenset(Role.values)
_WORKERS = frozenset({Role.HEAD, Role.HANDLER})

# Action: (grant the CERT needs on the incident, roles that may take it).
ACTION_RULES: dict[Action, tuple[str, frozenset[str]]] = {
    Action.VIEW: (VIEW, _ALL_ROLES),
    Action.COMMENT: (COMMENT, _ALL_ROLES),
    Action.ADD_OBSERVABLE: (WORK, frozenset({Role.HEAD, Role.HANDLER, Role.ANALYST})),
    Action.ATTACH: (WORK, frozenset({Role.HEAD, Role.HANDLER, Role.ANALYST})),
    Action.TRANSITION: (WORK, _WORKERS),
    Action.ASSIGN: (WORK, _WORKERS),
    Action.CHANGE_SEVERITY: (WORK, _WORKERS),
    Action.RAISE_TLP: (WORK, _WORKERS),
    Action.LOWER_TLP: (WORK, frozenset({Role.HEAD})),
    Action.ESCALATE: (WORK, _WORKERS),
    Action.REFER: (WORK, _WORKERS),
    Action.SHARE: (WORK, _WORKERS),
    Action.REOPEN_FINAL: (WORK, frozenset({Role.HEAD})),
    Action.MERGE: (WORK, _WORKERS),
    # The people who work or analyse the incident at its owner keep its checklist and relations.
    Action.MANAGE_TASKS: (WORK, frozenset({Role.HEAD, Role.HANDLER, Role.ANALYST})),
    Action.LINK: (WORK, frozenset({Role.HEAD, Role.HANDLER, Role.ANALYST})),
}


class ActionNotAllowed(Exception):
    """The user may see the incident but not take this action."""


def actions_from(grants_by_group: dict[int, set[str]], roles_by_group: dict[int, str]) -> set[Action]:
    """The actions allowed by CERT grants (per group) combined with the user's role in that
    CERT (per group). Pure, so the list view and the detail view decide alike."""
    allowed: set[Action] = set()
    for group_id, role in roles_by_group.items():
        granted = grants_by_group.get(group_id, set())
        allowed.update(action for action, (grant, roles) in ACTION_RULES.items()
                       if grant in granted and role in roles)
    return allowed


# The user's role per group of an active CERT they belong to. Every staff request asks it first,
# so it is one plain statement: the ORM's building and compiling of it cost twice its execution.
_ROLES_SQL = (f"SELECT cert.group_id, membership.role FROM {Membership._meta.db_table} membership "  # nosec B608 # table names from our models' Meta; values are %s parameters
              f"JOIN {Cert._meta.db_table} cert ON cert.id = membership.cert_id "
              "WHERE membership.user_id = %s AND cert.is_active = %s ORDER BY cert.path, cert.id")


def _roles_by_group(user) -> dict[int, str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached = getattr(user, "_cert_roles_by_group", None)
    if cached is None:
        with connections[DEFAULT_DB_ALIAS].cursor() as db_cursor:
            db_cursor.execute(_ROLES_SQL, [user.pk, True])
            cached = dict(db_cursor.fetchall())
        user._cert_roles_by_group = cached
    return cached


def allowed_actions(user, incident: Incident) -> set[Action]:
    """Every action `user` may take on `incident` (two queries, one of them cached per user)."""
    roles = _roles_by_group(user)
    if not roles:
        return set()
    grants: dict[int, set[str]] = {}
    for group_id, codename in (IncidentGroupObjectPermission.objects
                               .filter(content_object=incident, group_id__in=roles)
                               .values_list("group_id", "permission__codename")):
        grants.setdefault(group_id, set()).add(codename)
    return actions_from(grants, roles)


def can(user, incident: Incident, action: Action) -> bool:
    return action in allowed_actions(user, incident)


def require(user, incident: Incident, action: Action) -> None:
    """Raise Http404 when the user may not see the incident, ActionNotAllowed when they may
    see it but not take `action`."""
    allowed = allowed_actions(user, incident)
    if Action.VIEW not in allowed:
        raise Http404("No incident matches the given query.")
    if action not in allowed:
        raise ActionNotAllowed(f"Your role does not allow this on {incident.reference}: "
                               f"{action.value.replace('_', ' ')}.")


_view_permission: dict[str, int] = {}  # database alias -> id of the view grant's Permission


def _view_permission_id() -> int:
    """The id of the view grant's Permission, read once per process: every list and visibility
    query filters on it, and a join to the permission tables in each would cost more than the
    page itself. Forgotten whenever permissions may have been made again (forget_permission_ids).
    """
    try:
        return _view_permission[DEFAULT_DB_ALIAS]
    except KeyError:
        found = Permission.objects.get(content_type__app_label="incidents", codename=VIEW).pk
        return _view_permission.setdefault(DEFAULT_DB_ALIAS, found)


def forget_permission_ids(**kwargs) -> None:
    """Connected to post_migrate, which follows every migrate and flush: the permissions may have
    been created again with other ids."""
    _view_permission.clear()


def _view_grants(group_ids: Iterable[int]) -> QuerySet[IncidentGroupObjectPermission]:
    """The view grants of these CERT groups: what decides visibility, for every function below."""
    return IncidentGroupObjectPermission.objects.filter(group_id__in=list(group_ids),
                                                        permission_id=_view_permission_id())


def visible_incidents(user, queryset: QuerySet[Incident] | None = None) -> QuerySet[Incident]:
    """The incidents `user` may see, as one query whatever their number.

    Only the groups of the user's memberships in active CERTs count: the same set that
    `allowed_actions` uses, so a CERT's group left behind on deactivation grants nothing. That is
    why this asks guardian's direct permission table with those groups rather than
    get_objects_for_user, which would take every group the user is in. The test is a correlated
    EXISTS, so the database may stop at the first rows it needs; a page of a list in its order
    comes from `visible_incident_page`, which walks the grants in that order.
    """
    queryset = Incident.objects.all() if queryset is None else queryset
    roles = _roles_by_group(user)
    if not roles:
        return queryset.none()
    return queryset.filter(Exists(_view_grants(roles).filter(content_object_id=OuterRef("pk"))))


@dataclass
class IncidentPage:
    """One page of a list of incidents, newest report first, and the cursors of its neighbours
    (None where there is no such page)."""

    incidents: list[Incident]
    older_cursor: str | None = None
    newer_cursor: str | None = None
    # With `with_count`: how many the user may see (of the filtered set), at most COUNT_CAP, and
    # whether there are more.
    count: int | None = None
    count_is_capped: bool = False


def _key(row: Incident | dict, name: str):
    return row[name] if isinstance(row, dict) else getattr(row, name)


_GRANTS = IncidentGroupObjectPermission._meta.db_table


# A list's filters, for the functions below: querysets of incidents, or of incident ids (a
# one-column values() queryset, e.g. of observables: the rows need not be read from the incidents
# table at all), every one of which a listed incident must be in.
Within = QuerySet | Sequence[QuerySet] | None


def _restrictions(within: Within) -> list[tuple[str, list]]:
    if within is None:
        return []
    restrictions = []
    for queryset in [within] if isinstance(within, QuerySet) else within:
        ids = queryset.order_by()
        if ids.model is Incident:
            ids = ids.values("pk")
        restrictions.append(ids.query.get_compiler(using=ids.db).as_sql())
    return restrictions


def _grant_walk(group_id: int, *, within: Within, limit: int,
                cursor: Cursor | None = None, order: str | None = None,
                columns: str = "content_object_id") -> tuple[str, list]:
    """SQL and parameters of one CERT group's view grants: of the incidents in `within`, past
    `cursor`, in list order (`order` "DESC" or "ASC"; None: any), at most `limit` rows.

    This is `_view_grants` (the rule: the group's rows of the view permission) written as SQL,
    because building and compiling it with the ORM on every page cost three times what the
    database takes to run it (issue 8). The range on the report time repeats what the keyset
    condition implies, so that the index scan starts at the cursor's position."""
    conditions = ["group_id = %s", "permission_id = %s"]
    params: list = [group_id, _view_permission_id()]
    for sql, within_params in _restrictions(within):
        conditions.append(f"content_object_id IN ({sql})")
        params.extend(within_params)
    if cursor is not None:
        beyond = ">" if cursor.direction is Direction.NEWER else "<"
        at = connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value(cursor.position.at)
        conditions.append(f"incident_reported_at {beyond}= %s AND (incident_reported_at {beyond} %s"
                          f" OR (incident_reported_at = %s AND content_object_id {beyond} %s))")
        params.extend([at, at, at, cursor.position.pk])
    sql = f"SELECT {columns} FROM {_GRANTS} WHERE {' AND '.join(conditions)}"  # nosec B608 # columns and conditions are our constants; every value is a %s parameter
    if order is not None:
        sql += f" ORDER BY incident_reported_at {order}, content_object_id {order}"
    return f"{sql} LIMIT {int(limit)}", params


def _union(walks: list[tuple[str, list]], columns: str, limit: int,
           order: str) -> tuple[str, list]:
    """One statement for several walks, each stopping at its own limit: a member of several
    CERTs walks each CERT's grants in order and the database merges what it read. (One walk over
    `group_id IN (...)` could not use the index order and would sort every row.)"""
    parts, params = [], []
    for number, (sql, walk_params) in enumerate(walks):
        parts.append(f"SELECT {columns} FROM ({sql}) walk_{number}")  # nosec B608 # joins statements built by _grant_walk from constants; values are parameters
        params.extend(walk_params)
    return (f"SELECT {columns} FROM ({' UNION ALL '.join(parts)}) walks "  # nosec B608 # joins statements built from constants; limit is int()
            f"ORDER BY {order} LIMIT {int(limit)}", params)


def visible_incident_page(user, *, size: int, cursor: Cursor | None = None,
                          within: Within = None,
                          values: Sequence[str] = (), with_count: bool = False) -> IncidentPage:
    """A page of `size` incidents that `user` may see, newest report first, starting after
    `cursor` (keyset pagination, cert_portal.pagination), optionally only those in `within` (the
    filters of a list). With `values` (field names, as for QuerySet.values) the page holds dicts
    of those fields, "pk" and "reported_at" instead of Incident objects, which a list that only
    prints them reads faster.

    It decides exactly as `visible_incidents` does (the view grants of the user's active CERTs)
    but reads the grants in the list's order, from the index (group, permission, report time,
    incident), and stops after the page: the cost is that of the page, not of everything the
    user may see, and the same for page 100 as for page 1. One query (two for a member of
    several CERTs: their walks are merged in one statement, then their rows are loaded).
    `with_count` adds the count of `count_visible_incidents`, in the same statement where it can.
    """
    roles = _roles_by_group(user)
    if not roles or size < 1:
        return IncidentPage([])
    newer = cursor is not None and cursor.direction is Direction.NEWER
    direction = "ASC" if newer else "DESC"
    rows = Incident.objects.all()
    if values:
        rows = rows.values("pk", "reported_at", *values)
    cap = COUNT_CAP
    if len(roles) == 1:
        # One statement: the walk is the subquery that picks the page's rows (and, asked for, a
        # scalar subquery counts, which the database runs once, not per row).
        group_id = next(iter(roles))
        walk, params = _grant_walk(group_id, within=within, cursor=cursor, limit=size + 1,
                                   order=direction)
        order = ("reported_at", "pk") if newer else ("-reported_at", "-pk")
        rows = rows.filter(pk__in=RawSQL(walk, params)).order_by(*order)  # nosec B611 # the walk is built from constants; values are parameters
        if with_count:
            counted_sql, count_params = _grant_walk(group_id, within=within, limit=cap + 1)
            rows = rows.annotate(visible_count=RawSQL(  # nosec B611 # the walk is built from constants; values are parameters
                f"SELECT COUNT(*) FROM ({counted_sql}) capped", count_params))  # nosec B608 # wraps a statement of constants; values are parameters
        incidents = list(rows)
    else:
        # Each walk's first size + 1 rows hold the first size + 1 distinct incidents of all.
        sql, params = _union(
            [_grant_walk(group_id, within=within, cursor=cursor, limit=size + 1, order=direction,
                         columns="incident_reported_at, content_object_id")
             for group_id in roles],
            "incident_reported_at, content_object_id", (size + 1) * len(roles),
            f"incident_reported_at {direction}, content_object_id {direction}")
        with connections[DEFAULT_DB_ALIAS].cursor() as db_cursor:
            db_cursor.execute(sql, params)
            # An incident visible through two of the user's CERTs is on the page once.
            pks = list(dict.fromkeys(pk for _, pk in db_cursor.fetchall()))[:size + 1]
        by_pk = {_key(row, "pk"): row for row in rows.filter(pk__in=pks)}
        incidents = [by_pk[pk] for pk in pks if pk in by_pk]
    count = None
    if with_count and len(roles) == 1 and incidents:
        count = _key(incidents[0], "visible_count")
    elif with_count:
        count = _count(roles, within, cap)
    more = len(incidents) > size
    incidents = incidents[:size]
    if newer:
        incidents.reverse()
    counted = {} if count is None else {"count": min(count, cap), "count_is_capped": count > cap}
    if not incidents:
        return IncidentPage([], **counted)
    # The grant rows copy the incident's report time, so the incidents give the positions.
    first = Position(_key(incidents[0], "reported_at"), _key(incidents[0], "pk"))
    last = Position(_key(incidents[-1], "reported_at"), _key(incidents[-1], "pk"))
    has_older = more if not newer else True
    has_newer = more if newer else cursor is not None
    return IncidentPage(
        incidents,
        older_cursor=encode_cursor(Direction.OLDER, last) if has_older else None,
        newer_cursor=encode_cursor(Direction.NEWER, first) if has_newer else None,
        **counted,
    )


# Counts of a list stop here: a number past it reads as "more than 1,000" (issue 8: no request
# counts millions of rows to print one number). Counting costs about 0.25 ms per 1,000 rows on
# PostgreSQL, a tenth of a list page at 10,000; past a thousand a number tells a person no more.
COUNT_CAP = 1_000


def count_visible_incidents(user, *, within: Within = None,
                            cap: int | None = None) -> tuple[int, bool]:
    """How many incidents `user` may see (of `within`), counting at most `cap` + 1 rows
    (default COUNT_CAP): (count, True) when there are more than `cap`, then count is `cap`."""
    cap = COUNT_CAP if cap is None else cap
    roles = _roles_by_group(user)
    if not roles:
        return 0, False
    found = _count(roles, within, cap)
    return (cap, True) if found > cap else (found, False)


def _count(group_ids, within: Within, cap: int) -> int:
    """The distinct incidents the groups may view (of `within`), counting at most cap + 1 (more
    than cap: capped). A member of several CERTs counts the union: when any group's walk is full
    it alone holds cap + 1."""
    walks = [_grant_walk(group_id, within=within, limit=cap + 1) for group_id in group_ids]
    if len(walks) == 1:
        sql, params = walks[0]
    else:
        sql, params = _union(walks, "DISTINCT content_object_id", cap + 1, "content_object_id")
    with connections[DEFAULT_DB_ALIAS].cursor() as db_cursor:
        db_cursor.execute(f"SELECT COUNT(*) FROM ({sql}) capped", params)  # nosec B608 # wraps a statement of constants; values are parameters
        return db_cursor.fetchone()[0]


def get_visible_incident(user, **lookup) -> Incident:
    """The incident matching `lookup` if the user may see it; Http404 for missing and forbidden
    alike."""
    incident = visible_incidents(user).filter(**lookup).first()
    if incident is None:
        raise Http404("No incident matches the given query.")
    return incident


def actions_for_list(user, incidents: list[Incident]) -> dict[int, set[Action]]:
    """Allowed actions for each incident of a page, in a constant number of queries."""
    roles = _roles_by_group(user)
    if not roles or not incidents:
        return {incident.pk: set() for incident in incidents}
    grants: dict[int, dict[int, set[str]]] = {}
    for incident_id, group_id, codename in (
        IncidentGroupObjectPermission.objects
        .filter(content_object__in=[incident.pk for incident in incidents], group_id__in=roles)
        .values_list("content_object_id", "group_id", "permission__codename")
    ):
        grants.setdefault(incident_id, {}).setdefault(group_id, set()).add(codename)
    return {incident.pk: actions_from(grants.get(incident.pk, {}), roles)
            for incident in incidents}


# --- The lists of the dashboard's queue (issue 9) -------------------------------------------------
#
# The queue shows tabs of the active CERT's own work ("mine", "new and unassigned", "overdue",
# "escalated or referred to us") next to tabs of what its member may see elsewhere ("oversight",
# "shared with us", "we handed over", "all"). The first kind is read from the incidents table by
# the index (owner_cert, status, reported_at) instead of walking the member's grants, after
# checking that the member belongs to that CERT (`owned_incidents`). That decides exactly as the
# grants do: every member of an incident's current owner may view it, because derive_grants gives
# the owner view, comment and work whatever the TLP (DOMAIN.md §2), and sync_grants applies that
# in the transaction of every change of owner. The walk would read through everything the
# member's CERTs may see (for the National CERT, every incident of the country but the AMBER+STRICT
# and RED ones) to find one CERT's open incidents; the owner index reads only that CERT's.


class ListOrder(StrEnum):
    NEWEST = "newest"  # newest report first
    OLDEST = "oldest"  # oldest report first
    DEADLINE = "deadline"  # the running SLA deadline soonest: lists of one CERT's own incidents


def running_deadline() -> Case:
    """The deadline that runs now: acknowledgement while the incident is new, then resolution."""
    return Case(When(status=Status.NEW, then=F("ack_due_at")), default=F("resolve_due_at"),
                output_field=DateTimeField())


@dataclass(frozen=True)
class ListScope:
    """Which incidents one list holds. With `owner`: that CERT's own incidents, for a member of it
    (`owned_incidents`); without: every incident the user may see (the grant walk). Either is
    narrowed by `where` (conditions on the incident) and `within` (as for visible_incident_page).
    """

    where: Q = Q()  # never changed in place: filters combine Q objects into new ones
    within: Within = None
    owner: Cert | None = None
    # Without `owner`: `where` and `within` hold few incidents (bounded by the open work or by one
    # CERT's own part of the history), so the count reads them and looks up each one's grant
    # instead of walking all the grants (which reads the member's whole history to find them).
    few: bool = False


def owned_incidents(user, cert: Cert) -> QuerySet[Incident]:
    """The incidents `cert` owns, when `user` is a member of `cert` and it is active; none
    otherwise. See the note above: the owner's members may see all of them."""
    if cert.group_id not in _roles_by_group(user):
        return Incident.objects.none()
    return Incident.objects.filter(owner_cert_id=cert.pk)


def _within_list(within: Within) -> list[QuerySet]:
    if within is None:
        return []
    return [within] if isinstance(within, QuerySet) else list(within)


def _owned_rows(user, scope: ListScope) -> QuerySet[Incident]:
    rows = owned_incidents(user, scope.owner).filter(scope.where)
    for ids in _within_list(scope.within):
        rows = rows.filter(pk__in=ids.order_by())
    return rows


def _walk_within(scope: ListScope) -> list[QuerySet]:
    within = _within_list(scope.within)
    if scope.where:
        within.append(Incident.objects.filter(scope.where))
    return within


def incident_list_page(user, scope: ListScope, *, size: int, cursor: Cursor | None = None,
                       values: Sequence[str] = (),
                       order: ListOrder = ListOrder.NEWEST) -> IncidentPage:
    """A keyset page of the list `scope` describes, in `order` (DEADLINE only for a CERT's own
    incidents: ValueError otherwise), as visible_incident_page pages (`values` as there).

    The cursor's direction is relative to the list's order: Direction.OLDER asks for the rows
    after its position (the next page), Direction.NEWER for those before it (the previous page);
    the page's `older_cursor` leads to the next page and `newer_cursor` to the previous one. For
    the newest-first order that is exactly visible_incident_page's meaning. One query (two for a
    member of several CERTs, in the lists of everything they may see)."""
    if size < 1:
        return IncidentPage([])
    if scope.owner is not None:
        return _owned_page(user, scope, size=size, cursor=cursor, values=values, order=order)
    within = _walk_within(scope)
    if order is ListOrder.NEWEST:
        return visible_incident_page(user, size=size, cursor=cursor, within=within, values=values)
    if order is not ListOrder.OLDEST:
        raise ValueError(f"{order} order is only for a CERT's own incidents.")
    # Oldest first is the grant walk read the other way: the next page holds the rows reported
    # after the position, which is visible_incident_page's NEWER direction, and the reverse.
    forward = cursor is None or cursor.direction is Direction.OLDER
    start = cursor.position if cursor is not None else Position(_BEFORE_ANY_REPORT, 0)
    page = visible_incident_page(user, size=size, within=within, values=values,
                                 cursor=Cursor(Direction.NEWER if forward else Direction.OLDER,
                                               start))
    rows = list(reversed(page.incidents))
    if not rows:
        return IncidentPage([])
    has_next = page.newer_cursor is not None if forward else True
    has_previous = cursor is not None and (page.older_cursor is not None or forward)
    return _page_with_cursors(rows, "reported_at", has_next=has_next, has_previous=has_previous)


# Earlier than any report: where the oldest-first walk of a list's first page starts.
_BEFORE_ANY_REPORT = datetime(1900, 1, 1, tzinfo=UTC)


def _page_with_cursors(rows: list, key: str, *, has_next: bool, has_previous: bool) -> IncidentPage:
    first = Position(_key(rows[0], key), _key(rows[0], "pk"))
    last = Position(_key(rows[-1], key), _key(rows[-1], "pk"))
    return IncidentPage(rows,
                        older_cursor=encode_cursor(Direction.OLDER, last) if has_next else None,
                        newer_cursor=encode_cursor(Direction.NEWER, first) if has_previous else None)


def _owned_page(user, scope: ListScope, *, size: int, cursor: Cursor | None,
                values: Sequence[str], order: ListOrder) -> IncidentPage:
    rows = _owned_rows(user, scope)
    key = "reported_at"
    if order is ListOrder.DEADLINE:
        rows, key = rows.annotate(list_at=running_deadline()), "list_at"
    forward = cursor is None or cursor.direction is Direction.OLDER
    ascending = (order is not ListOrder.NEWEST) == forward
    if cursor is not None:
        beyond, at = ("gt" if ascending else "lt"), cursor.position.at
        # The first condition repeats what the second implies, so that an index scan starts at
        # the cursor's position.
        rows = rows.filter(**{f"{key}__{beyond}e": at}).filter(
            Q(**{f"{key}__{beyond}": at}) | Q(**{key: at, f"pk__{beyond}": cursor.position.pk}))
    sign = "" if ascending else "-"
    rows = rows.order_by(f"{sign}{key}", f"{sign}pk")
    if values:
        rows = rows.values("pk", "reported_at", *(["list_at"] if key == "list_at" else []), *values)
    found = list(rows[:size + 1])
    more = len(found) > size
    found = found[:size]
    if not forward:
        found.reverse()
    if not found:
        return IncidentPage([])
    return _page_with_cursors(found, key, has_next=more if forward else True,
                              has_previous=cursor is not None if forward else more)


def _few_visible_rows(roles: Mapping[int, str], scope: ListScope) -> QuerySet[Incident]:
    """The incidents of `scope` (a `few` one) that a group of `roles` has the view grant on: the
    grant rule of `_view_grants`, looked up per incident in the index (group, permission,
    incident). A scalar subquery, because the database runs it per row and never turns it into a
    join that would read the grants first."""
    grant = IncidentGroupObjectPermission.objects.filter(
        group_id__in=list(roles), permission_id=_view_permission_id(),
        content_object_id=OuterRef("pk")).values("pk")[:1]
    rows = Incident.objects.filter(scope.where)
    for ids in _within_list(scope.within):
        rows = rows.filter(pk__in=ids.order_by())
    return rows.alias(view_grant=Subquery(grant)).filter(view_grant__isnull=False).order_by()


def count_incident_lists(user, scopes: Mapping[str, ListScope], *,
                         cap: int | None = None) -> dict[str, tuple[int, bool]]:
    """How many incidents each list holds, as count_visible_incidents counts (at most `cap` + 1
    rows read per list, default COUNT_CAP; (cap, True) past it), all in one statement: the
    queue's tabs count on every page, and ten round trips would cost more than the counting."""
    cap = COUNT_CAP if cap is None else cap
    roles = _roles_by_group(user)
    counted: dict[str, tuple[int, bool]] = {name: (0, False) for name in scopes}
    parts: list[tuple[str, str, list]] = []
    for name, scope in scopes.items():
        try:
            if scope.owner is not None:
                if scope.owner.group_id not in roles:
                    continue
                rows = _owned_rows(user, scope).order_by().values("pk")[:cap + 1]
                sql, params = rows.query.get_compiler(using=rows.db).as_sql()
            elif roles and scope.few:
                rows = _few_visible_rows(roles, scope).values("pk")[:cap + 1]
                sql, params = rows.query.get_compiler(using=rows.db).as_sql()
            elif roles:
                within = _walk_within(scope)
                walks = [_grant_walk(group_id, within=within, limit=cap + 1) for group_id in roles]
                sql, params = walks[0] if len(walks) == 1 else _union(
                    walks, "DISTINCT content_object_id", cap + 1, "content_object_id")
            else:
                continue
        except EmptyResultSet:
            continue  # a condition nothing can match (e.g. an empty list of ids)
        parts.append((name, sql, list(params)))
    if not parts:
        return counted
    selects = ", ".join(f"(SELECT COUNT(*) FROM ({sql}) capped_{number})"  # nosec B608 # wraps statements of constants; values are parameters
                        for number, (_, sql, _) in enumerate(parts))
    with connections[DEFAULT_DB_ALIAS].cursor() as db_cursor:
        db_cursor.execute(f"SELECT {selects}", [param for _, _, params in parts for param in params])
        found = db_cursor.fetchone()
    for (name, _, _), count in zip(parts, found, strict=True):
        counted[name] = (cap, True) if count > cap else (count, False)
    return counted


# Saved views of the queue (issue 9): a member's own, and those shared with a CERT they belong to.

def visible_saved_views(user) -> QuerySet[SavedView]:
    """The saved views `user` may see and use: their own, and those shared with an active CERT
    they are a member of."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return SavedView.objects.none()
    return SavedView.objects.filter(Q(owner_id=user.pk)
                                    | Q(cert__group_id__in=list(_roles_by_group(user))))


def get_visible_saved_view(user, pk) -> SavedView:
    """The saved view `pk` if `user` may see it; Http404 for missing, forbidden and malformed
    ids alike."""
    try:
        found = visible_saved_views(user).select_related("cert").filter(pk=pk).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise Http404("No saved view matches the given query.")
    return found


def may_delete_saved_view(user, saved_view: SavedView) -> bool:
    """Who saved a view may delete it; so may a head of the CERT it is shared with."""
    if saved_view.owner_id == user.pk:
        return True
    return (saved_view.cert_id is not None
            and _roles_by_group(user).get(saved_view.cert.group_id) == Role.HEAD)


def may_share_saved_view_with(user, cert: Cert) -> bool:
    """A member shares views only with an active CERT they belong to."""
    return cert.group_id in _roles_by_group(user)


# Who may open an incident for a CERT: the people who would work or analyse it there; a liaison
# only talks to outside parties.
OPENER_ROLES = frozenset({Role.HEAD, Role.HANDLER, Role.ANALYST})


def certs_to_open_incidents_for(user) -> QuerySet[Cert]:
    """The active CERTs `user` may open incidents for (as their owner); none for anyone who is
    not an active, signed-in user. The staff form offers these and incident_create allows these.
    Read from the roles `_roles_by_group` gives (the memberships in active CERTs), so that an API
    key's service user, whose role is only in that cache and never a Membership row, opens
    incidents for its CERT like a member (issue 11)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Cert.objects.none()
    groups = [group_id for group_id, role in _roles_by_group(user).items() if role in OPENER_ROLES]
    return Cert.objects.filter(is_active=True, group_id__in=groups)


def may_open_incident_for(user, cert: Cert) -> bool:
    return certs_to_open_incidents_for(user).filter(pk=cert.pk).exists()


def may_use_staff_interface(user) -> bool:
    """Whether the incident pages of the staff interface (the admin) open for `user` at all:
    only for members of an active CERT, superusers included (DOMAIN.md §1). Which incidents they
    then see is `visible_incidents`. Cached per user object, so once per request."""
    return bool(_roles_by_group(user))


def assignable_users(incident: Incident) -> QuerySet:
    """Who may be assigned `incident`: the active members of the CERT that owns it, any role."""
    return get_user_model().objects.filter(
        is_active=True,
        pk__in=Membership.objects.filter(cert_id=incident.owner_cert_id).values("user_id"))


def incident_link(model) -> str | None:
    """How a row of `model` leads to its incident: "pk" for Incident, the name of the foreign key
    to Incident for a model whose rows belong to one (comments, timeline, files, shares,
    notifications, ownership periods, guardian's rows), None for any other model."""
    if model is Incident:
        return "pk"
    for field in model._meta.concrete_fields:
        if field.many_to_one and field.related_model is Incident:
            return field.name
    return None


def get_visible_incident_part(user, model, object_id) -> object:
    """The row `object_id` of `model` (Incident or a model whose rows belong to an incident, see
    `incident_link`) if `user` may see its incident. Http404 for missing, forbidden and malformed
    ids alike, with the text of `get_visible_incident`."""
    link = incident_link(model)
    if link is None:
        raise ValueError(f"{model.__name__} rows do not belong to incidents.")
    visible = visible_incidents(user).values("pk")
    try:
        row = model._default_manager.filter(**{f"{link}__in": visible}, pk=object_id).first()
    except (TypeError, ValueError, ValidationError):
        row = None  # not an id at all: answered like an id that does not exist
    if row is None:
        raise Http404("No incident matches the given query.")
    return row


# The reporter of a public report (DOMAIN.md §4) has no account: a browser that sent the report, or
# showed its reference and token, may see that report for the rest of its session. The session
# keeps only primary keys; the token itself is never stored in it.
REPORTER_UNLOCKED = "report_access"


def reporter_unlock(session, incident: Incident) -> None:
    """Let this browser's session see the public report `incident` from now on.

    Call only after the browser proved it may: it sent the report (first answer only, never a
    resubmitted form) or gave the right reference and token.
    """
    unlocked = set(session.get(REPORTER_UNLOCKED, []))
    unlocked.add(incident.pk)
    session[REPORTER_UNLOCKED] = sorted(unlocked)


def reporter_unlocked_report(session, reference: str) -> Incident | None:
    """The public report with this reference if this browser's session unlocked it; None
    otherwise, the same for a report that does not exist, one not unlocked, and a staff incident.
    """
    return (Incident.objects.filter(pk__in=session.get(REPORTER_UNLOCKED, []), reference=reference,
                                    source=Source.PUBLIC_FORM)
            .select_related("owner_cert").first())


# --- Who receives messages about an incident (issue 7, "Recipients come from access") ----------
#
# A message about an incident tells its reader the incident's title and label, so it may reach
# only people who may view it (DOMAIN.md §2); oversight of what a CERT may not view flows up as
# counts only, never as a message. Like `has_message_access` and the recipient function aligned
# with it in Zulip, recipients are derived from the grants, never from position in the tree.


@dataclass(frozen=True)
class MessageAudience:
    """Who, among the people who may view an incident, one kind of staff message is for."""

    roles: frozenset[str] = frozenset()
    # For a CERT with nobody in `roles` to receive it (no head, say): these roles instead.
    fallback_roles: frozenset[str] = frozenset()
    # The incident's assignee as well, while they may view it.
    with_assignee: bool = False
    # The people watching the incident (at delivery), while they may view it. Such a message
    # names who acted (Notification.user, None for the system): they are left out, not added.
    with_watchers: bool = False


_HEADS = frozenset({Role.HEAD})
_HANDLERS = frozenset({Role.HANDLER})

# Staff messages by kind. A message that names a person (Notification.user) goes to that person,
# while they may view the incident; one that names a CERT (Notification.cert) only to its members.
MESSAGE_AUDIENCES: dict[str, MessageAudience] = {
    Notification.Kind.ESCALATED: MessageAudience(_WORKERS),
    Notification.Kind.REFERRED: MessageAudience(_WORKERS),
    Notification.Kind.ASSIGNED: MessageAudience(),
    Notification.Kind.NEW_REPORT: MessageAudience(_WORKERS),
    Notification.Kind.REPORTER_FOLLOW_UP: MessageAudience(_WORKERS, with_assignee=True),
    # DOMAIN.md §3: the owner's heads; handlers where the CERT has no head (issue 7, finding 8).
    Notification.Kind.RESOLUTION_MISSED: MessageAudience(_HEADS, fallback_roles=_HANDLERS,
                                                         with_assignee=True),
    Notification.Kind.RESOLUTION_MISSED_OVERSIGHT: MessageAudience(_WORKERS),
    # At the root there is no one to escalate to: the national duty handlers.
    Notification.Kind.ACK_MISSED_AT_ROOT: MessageAudience(_HANDLERS, with_assignee=True),
    # Issue 9: activity on a watched incident, for its watchers but not whoever acted.
    Notification.Kind.WATCHED_ACTIVITY: MessageAudience(with_watchers=True),
}

# Messages for the reporter of a public report, who has no account, and whether the reporter
# must have consented to be contacted: the receipt answers their own request (it carries the
# tracking token they asked for); anything later is contact.
REPORTER_MESSAGES: dict[str, bool] = {
    Notification.Kind.REPORT_CONFIRMATION: False,
    Notification.Kind.REPORTER_REPLY: True,
}


class Message(Protocol):
    """What message_recipients reads of a message (a Notification row has all of it)."""

    incident: Incident
    kind: str
    cert_id: int | None
    user_id: int | None


def reporter_address(incident: Incident, kind: str) -> str:
    """The address a message of `kind` for the reporter of `incident` goes to, or "" when none
    may be sent: only for public reports (their status page is where the reporter reads
    anything), only to the address the reporter gave, and, past the receipt, only with their
    consent to be contacted."""
    if kind not in REPORTER_MESSAGES:
        return ""
    if incident.source != Source.PUBLIC_FORM:
        return ""
    if REPORTER_MESSAGES[kind] and not incident.reporter_consents_to_contact:
        return ""
    return incident.reporter_email or ""


@dataclass(frozen=True, order=True)
class Recipient:
    """One person a message goes to: a staff user (in-app, and by e-mail when `by_email`), or
    the reporter of a public report (user_id None: e-mail only, they have no account)."""

    email: str  # "" for a member without an address: in-app only
    user_id: int | None = None
    # Whether the message goes to this person by e-mail too: they have an address and did not
    # mute its kind (StaffPreferences.email_muted_kinds).
    by_email: bool = True


def email_addresses(recipients: Iterable[Recipient]) -> list[str]:
    """The addresses, sorted, of the recipients who receive the message by e-mail."""
    return sorted({recipient.email for recipient in recipients if recipient.by_email})


def message_recipients(messages: Sequence[Message]) -> list[list[Recipient] | None]:
    """Who each message goes to (sorted by address, then user), in the order of `messages`.

    Staff messages: active users who are members of an active CERT whose group may view the
    incident now (the grants as they are at delivery, not when the message was written: the
    label may have become stricter since), in the roles MESSAGE_AUDIENCES gives the kind, only
    in the message's CERT when it names one, plus the person it names, the assignee and the
    watchers where the kind says so, again only while they may view it. Everyone chosen gets the
    in-app notice; the e-mail (`email_addresses`) goes to those with an address who did not mute
    the kind. Reporter messages: see `reporter_address`; no in-app notice. Two queries for any
    number of messages, three when some go to watchers. A kind with no rule reaches nobody: its
    entry is None, for the caller to record as an error rather than a silent "sent".
    """
    staff = [message for message in messages if message.kind not in REPORTER_MESSAGES]
    viewing_groups: dict[int, set[int]] = {}
    for incident_id, group_id in IncidentGroupObjectPermission.objects.filter(
        content_object_id__in={message.incident.pk for message in staff},
        permission__codename=VIEW, permission__content_type__app_label="incidents",
    ).values_list("content_object_id", "group_id"):
        viewing_groups.setdefault(incident_id, set()).add(group_id)
    # group -> [(cert, role, user, e-mail, muted kinds)]
    members_by_group: dict[int, list[tuple[int, str, int, str, list]]] = {}
    if viewing_groups:
        for group_id, cert_id, role, user_id, email, muted in (
            Membership.objects
            .filter(cert__group_id__in=set().union(*viewing_groups.values()),
                    cert__is_active=True, user__is_active=True)
            .values_list("cert__group_id", "cert_id", "role", "user_id", "user__email",
                         "user__staff_preferences__email_muted_kinds")
        ):
            members_by_group.setdefault(group_id, []).append(
                (cert_id, role, user_id, email or "", muted or []))
    watchers: dict[int, set[int]] = {}
    watched = {message.incident.pk for message in staff
               if getattr(MESSAGE_AUDIENCES.get(message.kind), "with_watchers", False)}
    if watched and viewing_groups:
        for incident_id, user_id in IncidentWatch.objects.filter(
                incident_id__in=watched & viewing_groups.keys()).values_list("incident_id", "user_id"):
            watchers.setdefault(incident_id, set()).add(user_id)

    recipients: list[list[Recipient] | None] = []
    for message in messages:
        if message.kind in REPORTER_MESSAGES:
            address = reporter_address(message.incident, message.kind)
            recipients.append([Recipient(address)] if address else [])
            continue
        audience = MESSAGE_AUDIENCES.get(message.kind)
        if audience is None:
            recipients.append(None)
            continue
        # Everyone who may view the incident, whatever their role.
        viewers = [member for group_id in viewing_groups.get(message.incident.pk, ())
                   for member in members_by_group.get(group_id, ())]
        chosen: set[int] = set()
        for cert_id in ({message.cert_id} if message.cert_id is not None
                        else {member[0] for member in viewers}):
            in_cert = [member for member in viewers if member[0] == cert_id]
            picked = {member[2] for member in in_cert if member[1] in audience.roles}
            if not picked:
                picked = {member[2] for member in in_cert if member[1] in audience.fallback_roles}
            chosen |= picked
        people = {message.incident.assignee_id if audience.with_assignee else None}
        if audience.with_watchers:
            people |= watchers.get(message.incident.pk, set())
        else:
            people.add(message.user_id)
        chosen |= {member[2] for member in viewers if member[2] in people}
        if audience.with_watchers:
            chosen.discard(message.user_id)  # who acted knows what they did
        by_user = {user_id: Recipient(email, user_id, bool(email) and message.kind not in muted)
                   for _, _, user_id, email, muted in viewers if user_id in chosen}
        recipients.append(sorted(by_user.values()))
    return recipients


def certs_that_may_view(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of the (incident id, CERT id) pairs, those where the CERT may view the incident now, in
    one query: whether a per-incident message to that CERT may exist at all."""
    pairs = set(pairs)
    if not pairs:
        return set()
    found = set(IncidentGroupObjectPermission.objects.filter(
        content_object_id__in={incident_id for incident_id, _ in pairs},
        group__cert__id__in={cert_id for _, cert_id in pairs}, group__cert__is_active=True,
        permission__codename=VIEW, permission__content_type__app_label="incidents",
    ).values_list("content_object_id", "group__cert__id"))
    return pairs & found
