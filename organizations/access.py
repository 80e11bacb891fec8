"""Who may see and do what in the CERT registry pages of the staff dashboard (issue 9, item 7).

This is the only place that decides it; the registry's views ask `registry_access(user)` and render.
The registry's public part (names, kinds, places in the tree, RFC 2350 profiles) is public, so
every member sees it for every active CERT. Beyond that:

- Counts of open and overdue incidents. They flow up the tree (DOMAIN.md §2: counts, never
  details): a CERT's numbers cover its whole subtree and every TLP. A member, in any role, sees the
  numbers of each CERT they belong to and of every CERT below one of those: those numbers are made
  only of incidents of their own subtree, which their CERT oversees or (TLP:AMBER+STRICT, TLP:RED)
  is entitled to count. The numbers of any other CERT (a sibling; a parent, whose total includes
  other branches) are not shown: the page gives its name and kind only.
- Members (names and roles) of a CERT: its own members, in any role, and the heads of the CERTs
  above it, who answer for the staffing of the teams under them (the health report names their
  gaps to them as well). Anyone else gets 404 for the members page, as for anything not theirs.
- Managing members (add, change a role, remove): the heads of that CERT only (DOMAIN.md §1: a head
  manages members). Heads of the CERTs above read the list but do not change it; portal
  administrators use the admin.
- The registry health report (organizations.health): heads. A head of the national CERT (the root)
  sees every finding, those about no single CERT included; another head sees the findings about
  the CERTs of their subtrees. A CERT's staffing gaps on its profile: the same heads.

Only memberships of active CERTs count, and a superuser gets nothing that their memberships do not
give (DOMAIN.md §1: administrators are no backdoor).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.http import Http404

from organizations.health import Finding
from organizations.models import Cert, Membership, Role


@dataclass(frozen=True)
class RegistryAccess:
    """What one person may see and do in the registry, decided from their memberships of active
    CERTs (read once, by `registry_access`); every method below is a pure decision."""

    memberships: tuple[Membership, ...]

    def _paths(self, roles: Iterable[str] | None = None) -> list[str]:
        return [m.cert.path for m in self.memberships if roles is None or m.role in roles]

    def role_in(self, cert: Cert) -> str | None:
        """The person's role in `cert`, or None when they are not one of its members."""
        return next((m.role for m in self.memberships if m.cert_id == cert.pk), None)

    def may_see_counts(self, cert: Cert) -> bool:
        """Whether the incident counts of `cert` (its subtree's) are shown: it is one of the
        person's CERTs or below one of them."""
        return any(cert.path.startswith(path) for path in self._paths())

    def may_see_members(self, cert: Cert) -> bool:
        """Whether the names and roles of `cert`'s members are shown: a member of it, or a head
        of a CERT above it."""
        if self.role_in(cert) is not None:
            return True
        return any(cert.path.startswith(path) for path in self._paths({Role.HEAD}))

    def may_manage_members(self, cert: Cert) -> bool:
        """Whether the person may add, re-role and remove members of `cert`: one of its heads."""
        return cert.is_active and self.role_in(cert) == Role.HEAD

    def may_see_health(self) -> bool:
        """Whether the registry health report is open to the person: a head of some CERT."""
        return bool(self._paths({Role.HEAD}))

    def sees_whole_registry(self) -> bool:
        """A head of the root (the National CERT) sees every finding of the health report."""
        return any(m.role == Role.HEAD and m.cert.parent_id is None for m in self.memberships)

    def may_see_staffing(self, cert: Cert) -> bool:
        """Whether `cert`'s findings (staffing gaps, broken rules) are shown on its profile: a
        head of it or of a CERT above it."""
        return self.sees_whole_registry() or any(
            cert.path.startswith(path) for path in self._paths({Role.HEAD}))

    def visible_findings(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings of the health report this person may read: all for a head of the root;
        for another head, those about a CERT of their subtrees; none for anyone else."""
        if self.sees_whole_registry():
            return list(findings)
        heads_of = self._paths({Role.HEAD})
        return [finding for finding in findings if finding.cert is not None
                and any(finding.cert.path.startswith(path) for path in heads_of)]

    def may_read_reports(self, cert: Cert) -> bool:
        """Whether the monthly reports of `cert` (issue 12) are open to the person: a member of
        it, in any role. Not the CERTs above: each has its own report of its own subtree."""
        return self.role_in(cert) is not None

    def require_members_visible(self, cert: Cert) -> None:
        """Raise Http404, the answer to a CERT page that does not exist, unless the person may see
        `cert`'s members."""
        if not self.may_see_members(cert):
            raise Http404("No CERT members page at this address.")


def registry_access(user) -> RegistryAccess:
    """The registry decisions for `user` (one query: their memberships of active CERTs). Ask
    again after a membership changed: the object does not follow later changes."""
    if not user.is_authenticated or not user.is_active:
        return RegistryAccess(())
    memberships = Membership.objects.filter(user=user, cert__is_active=True).select_related("cert")
    return RegistryAccess(tuple(memberships))


def report_recipients(cert: Cert) -> list[str]:
    """The addresses told that a monthly report of `cert` is ready (issue 12): its heads, active
    users with an address, while the CERT is active. The e-mail names no incident, only the
    report, which every member may read (`may_read_reports`). One query."""
    if not cert.is_active:
        return []
    return sorted(set(Membership.objects.filter(cert=cert, role=Role.HEAD, user__is_active=True)
                      .exclude(user__email="").values_list("user__email", flat=True)))


def may_manage_members(user, cert: Cert) -> bool:
    """Whether `user` may add, re-role and remove members of `cert` (a head of it)."""
    return registry_access(user).may_manage_members(cert)


def may_see_members(user, cert: Cert) -> bool:
    return registry_access(user).may_see_members(cert)


__all__ = ["RegistryAccess", "may_manage_members", "may_see_members", "registry_access",
           "report_recipients"]
