"""Every write to the CERT registry goes through these functions.

They enforce organizations.rules (the one table of composition rules), keep the materialised tree
path of every CERT and the Django group of every CERT in step, and either save everything or
nothing.
"""

from __future__ import annotations

import logging

from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext

from cert_portal.audit.models import AuditKind
from cert_portal.audit.record import record
from organizations import hooks
from organizations.models import PATH_SEPARATOR, Cert, Membership, Role
from organizations.rules import RULES, Violation, cert_violations, database_constraints

logger = logging.getLogger(__name__)

STRUCTURE_FIELDS = frozenset({"kind", "name", "short_name", "slug", "parent", "region", "sector",
                              "is_active"})
PROFILE_FIELDS = frozenset({"constituency", "description", "hotline", "email", "website",
                            "pgp_fingerprint", "time_zone", "languages"})
CERT_FIELDS = STRUCTURE_FIELDS | PROFILE_FIELDS


class RegistryRuleError(ValidationError):
    """A write that would break a composition rule; `violations` lists each broken rule."""

    def __init__(self, violations: list[Violation]):
        self.violations = violations
        by_field: dict[str, list[ValidationError]] = {}
        for violation in violations:
            by_field.setdefault(violation.field or NON_FIELD_ERRORS, []).append(
                ValidationError(violation.message, code=violation.code))
        super().__init__(by_field)

    def __str__(self) -> str:
        return "; ".join(str(violation) for violation in self.violations)


def group_name_for(slug: str) -> str:
    return f"CERT: {slug}"


def cert_check(cert: Cert) -> list[Violation]:
    """Return the composition rules that saving `cert` as it is now would break, and for an
    inactive CERT the objections of other apps (organizations.hooks.deactivation_checks)."""
    parent = Cert.objects.filter(pk=cert.parent_id).first() if cert.parent_id else None
    rule = RULES.get(cert.kind)
    peers = []
    if rule is not None and rule.limit is not None:
        peers = list(Cert.objects.filter(kind=cert.kind, is_active=True).exclude(pk=cert.pk))
    children = list(Cert.objects.filter(parent_id=cert.pk)) if cert.pk else []
    violations = cert_violations(
        cert,
        parent=parent,
        parent_chain_ids=set(parent.path_ids) if parent else set(),
        peers=peers,
        children=children,
    )
    if cert.pk and not cert.is_active:
        for check in hooks.deactivation_checks:
            violations.extend(check(cert))
    return violations


def cert_create(*, actor, **fields) -> Cert:
    """Create a CERT with its group, after checking every composition rule."""
    _refuse_unknown_fields(fields)
    cert = Cert(**fields)
    _normalise(cert)
    with transaction.atomic():
        _lock_registry()
        _validate(cert)
        cert.group = Group.objects.create(name=group_name_for(cert.slug))
        _save_or_explain(cert)
        parent_path = cert.parent.path if cert.parent_id else PATH_SEPARATOR
        cert.path = f"{parent_path}{cert.pk}{PATH_SEPARATOR}"
        cert.depth = cert.path.count(PATH_SEPARATOR) - 2
        cert.save(update_fields=["path", "depth"])
        record(AuditKind.REGISTRY_CHANGED, actor=actor, obj=cert, detail={
            "action": "create",
            "changes": {name: {"old": None, "new": _plain(getattr(cert, name))}
                        for name in sorted(fields)}})
    logger.info("registry: %s created %s (%s)", _who(actor), cert.slug, cert.kind)
    return cert


def cert_update(*, cert: Cert, actor, **changes) -> Cert:
    """Change, move (new `parent`), deactivate or reactivate a CERT.

    Every rule is checked again for the CERT and for its children; on a move the paths of the whole
    subtree are rewritten in one statement. Returns the CERT as saved; on a broken rule raises
    RegistryRuleError and saves nothing.
    """
    _refuse_unknown_fields(changes)
    with transaction.atomic():
        _lock_registry()
        current = Cert.objects.select_for_update().get(pk=cert.pk)
        old_parent_id, old_path, old_slug = current.parent_id, current.path, current.slug
        before = {name: _plain(getattr(current, name)) for name in changes}
        for name, value in changes.items():
            setattr(current, name, value)
        _normalise(current)
        _validate(current)
        _save_or_explain(current)
        if current.parent_id != old_parent_id:
            _move_subtree(current, old_path)
            for hook in hooks.after_move:
                hook(current)
        if current.slug != old_slug:
            Group.objects.filter(pk=current.group_id).update(name=group_name_for(current.slug))
        changed = {name: {"old": before[name], "new": _plain(getattr(current, name))}
                   for name in sorted(changes) if before[name] != _plain(getattr(current, name))}
        if changed:
            record(AuditKind.REGISTRY_CHANGED, actor=actor, obj=current,
                   detail={"action": "update", "changes": changed})
    logger.info("registry: %s changed %s: %s", _who(actor), current.slug, ", ".join(sorted(changes)))
    return current


def membership_add(*, cert: Cert, user, role: str, actor) -> Membership:
    """Make `user` a member of `cert` with `role`, and put them in the CERT's group."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}: choose one of "
                                       f"{', '.join(Role.values)}."})
    with transaction.atomic():
        cert = Cert.objects.select_for_update().get(pk=cert.pk)
        if not cert.is_active:
            raise ValidationError({"cert": f"{cert.name} is not active: it takes no new members."})
        if Membership.objects.filter(cert=cert, user=user).exists():
            raise ValidationError({"user": f"{user} is already a member of {cert.name}."})
        membership = Membership.objects.create(cert=cert, user=user, role=role)
        user.groups.add(cert.group_id)
        record(AuditKind.MEMBERSHIP_CHANGED, actor=actor, obj=membership,
               object_label=_membership_label(cert, user),
               detail={"action": "add", "user": user.get_username(), "role": role})
    logger.info("registry: %s added %s to %s as %s", _who(actor), user, cert.slug, role)
    return membership


def membership_change_role(*, membership: Membership, role: str, actor,
                           keep_a_head: bool = False) -> Membership:
    """Give a member another role. With `keep_a_head` (the dashboard, where heads manage their
    own CERT), refuse a change that would leave the CERT without a head
    (membership_head_check)."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}: choose one of "
                                       f"{', '.join(Role.values)}."})
    with transaction.atomic():
        if keep_a_head:
            membership = _locked_membership(membership)
            membership_head_check(membership=membership, role=role, actor=actor)
        old_role = membership.role
        Membership.objects.filter(pk=membership.pk).update(role=role)
        record(AuditKind.MEMBERSHIP_CHANGED, actor=actor, obj=membership,
               object_label=_membership_label(membership.cert, membership.user),
               detail={"action": "role", "user": membership.user.get_username(),
                       "old": old_role, "new": role})
    membership.role = role
    logger.info("registry: %s made %s %s", _who(actor), membership.user, role)
    return membership


def membership_remove(*, membership: Membership, actor, keep_a_head: bool = False) -> None:
    """End a membership and take the person out of the CERT's group. With `keep_a_head` (the
    dashboard), refuse to remove the CERT's last head (membership_head_check)."""
    with transaction.atomic():
        if keep_a_head:
            membership = _locked_membership(membership)
            membership_head_check(membership=membership, role=None, actor=actor)
        membership.user.groups.remove(membership.cert.group_id)
        record(AuditKind.MEMBERSHIP_CHANGED, actor=actor, obj=membership,
               object_label=_membership_label(membership.cert, membership.user),
               detail={"action": "remove", "user": membership.user.get_username(),
                       "role": membership.role})
        membership.delete()
    logger.info("registry: %s removed %s from %s", _who(actor), membership.user,
                membership.cert.slug)


def membership_head_check(*, membership: Membership, role: str | None, actor) -> None:
    """Raise ValidationError (on "role") when giving `membership` `role` (None: ending it) would
    leave its CERT without a head: nobody could then manage its members or lower a TLP, and the
    head who manages members in the dashboard is the one it would lock out (issue 9, item 7).
    Callers that must not race a concurrent change hold the CERT's row lock
    (membership_change_role and membership_remove with keep_a_head do)."""
    if membership.role != Role.HEAD or role == Role.HEAD:
        return
    if Membership.objects.filter(cert_id=membership.cert_id, role=Role.HEAD).exclude(
            pk=membership.pk).exists():
        return
    cert_name = membership.cert.name
    if actor is not None and actor.pk == membership.user_id:
        message = gettext("You are the only head of %(cert)s, so you cannot step down or leave: "
                          "a CERT needs a head to manage its members. Make another member head "
                          "first.") % {"cert": cert_name}
    else:
        message = gettext("%(person)s is the only head of %(cert)s: a CERT needs a head to manage "
                          "its members. Make another member head first.") % {
            "person": membership.user.get_full_name() or membership.user.get_username(),
            "cert": cert_name}
    raise ValidationError({"role": message}, code="last_head")


def _locked_membership(membership: Membership) -> Membership:
    """The membership as stored now, read after locking its CERT's row, so that two heads
    changing each other at once are serialised (SQLite: the write lock taken at BEGIN)."""
    list(Cert.objects.select_for_update().filter(pk=membership.cert_id).values_list("pk", flat=True))
    current = (Membership.objects.select_related("cert", "user")
               .filter(pk=membership.pk).first())
    if current is None:
        raise ValidationError({"user": gettext("%(person)s is no longer a member of this CERT.") % {
            "person": membership.user.get_username()}}, code="gone")
    return current


def sync_cert_groups() -> int:
    """Put every member in their CERT's group and take everyone else out; return the changes.

    The membership services keep groups in step; this repairs groups edited by other means.
    """
    changes = 0
    through = Group.user_set.through
    certs = list(Cert.objects.only("pk", "group_id"))
    group_ids = [cert.group_id for cert in certs]
    wanted = {(m.user_id, m.cert.group_id)
              for m in Membership.objects.select_related("cert").only("user_id", "cert__group_id")}
    existing = set(through.objects.filter(group_id__in=group_ids).values_list("user_id", "group_id"))
    missing = wanted - existing
    extra = existing - wanted
    with transaction.atomic():
        through.objects.bulk_create([through(user_id=u, group_id=g) for u, g in missing])
        for user_id, group_id in extra:
            through.objects.filter(user_id=user_id, group_id=group_id).delete()
        changes = len(missing) + len(extra)
    return changes


def _refuse_unknown_fields(fields: dict) -> None:
    unknown = set(fields) - CERT_FIELDS
    if unknown:
        raise TypeError(f"Not CERT fields the registry services set: {', '.join(sorted(unknown))}")


def _normalise(cert: Cert) -> None:
    if cert.pgp_fingerprint:
        compact = cert.pgp_fingerprint.replace(" ", "").upper()
        cert.pgp_fingerprint = " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    cert.languages = ", ".join(cert.language_list)


def _validate(cert: Cert) -> None:
    """Field validation (formats, unique names) first, then the composition rules."""
    cert.full_clean(exclude={"group", "path", "depth"}, validate_constraints=False)
    violations = cert_check(cert)
    if violations:
        raise RegistryRuleError(violations)


def _lock_registry() -> None:
    """Serialise registry writes so that two concurrent moves cannot together make a cycle or a
    second CERT where one is allowed. PostgreSQL: lock the root row. SQLite: every transaction
    already takes the write lock at BEGIN (transaction_mode IMMEDIATE in settings)."""
    list(Cert.objects.select_for_update().filter(parent__isnull=True).values_list("pk", flat=True))


def _save_or_explain(cert: Cert) -> None:
    """Save; if a database constraint still refuses (a concurrent writer got there first), answer
    with that constraint's rule instead of an IntegrityError."""
    try:
        with transaction.atomic():
            cert.save()
    except IntegrityError as error:
        text = str(error)
        for constraint in database_constraints():
            if constraint.name in text:
                raise RegistryRuleError([Violation(constraint.name,
                                                   str(constraint.violation_error_message))]) from None
        raise


def _move_subtree(cert: Cert, old_path: str) -> None:
    parent = Cert.objects.get(pk=cert.parent_id) if cert.parent_id else None
    new_path = f"{parent.path if parent else PATH_SEPARATOR}{cert.pk}{PATH_SEPARATOR}"
    delta = (new_path.count(PATH_SEPARATOR) - 2) - cert.depth
    Cert.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1), output_field=CharField()),
        depth=F("depth") + delta,
    )
    cert.path = new_path
    cert.depth += delta


def _plain(value):
    """A field's value as the audit trail keeps it: JSON, a related row by its name."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _membership_label(cert: Cert, user) -> str:
    return f"{user.get_username()} in {cert.short_name}"


def _who(actor) -> str:
    return str(actor) if actor is not None else "system"
