"""Who may see and do what with incidents: the only place that decides it (DOMAIN.md §2).

What a person may do = what their CERT's group was granted on the incident (incidents.grants)
AND what their role in that CERT allows. Views, the API, tasks and templates ask here.
An incident the user may not see is answered exactly like one that does not exist (404).
"""

from __future__ import annotations

from enum import StrEnum

from django.db.models import QuerySet
from django.http import Http404

from incidents.grants import COMMENT, VIEW, WORK
from incidents.models import Incident, IncidentGroupObjectPermission
from organizations.models import Membership, Role


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


def _roles_by_group(user) -> dict[int, str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached = getattr(user, "_cert_roles_by_group", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user, cert__is_active=True)
                      .values_list("cert__group_id", "role"))
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


def visible_incidents(user, queryset: QuerySet[Incident] | None = None) -> QuerySet[Incident]:
    """The incidents `user` may see, as one query whatever their number.

    Only the groups of the user's memberships in active CERTs count: the same set that
    `allowed_actions` uses, so a CERT's group left behind on deactivation grants nothing. That is
    why this asks guardian's direct permission table with those groups rather than
    get_objects_for_user, which would take every group the user is in.
    """
    queryset = Incident.objects.all() if queryset is None else queryset
    roles = _roles_by_group(user)
    if not roles:
        return queryset.none()
    return queryset.filter(pk__in=IncidentGroupObjectPermission.objects.filter(
        group_id__in=list(roles), permission__codename=VIEW,
        permission__content_type__app_label="incidents",
    ).values("content_object_id"))


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
