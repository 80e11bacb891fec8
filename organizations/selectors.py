"""Reads of the public registry, each a constant number of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.http import Http404

from organizations.models import PATH_SEPARATOR, Cert, Membership, Role
from organizations.rules import RULES


@dataclass
class TreeNode:
    cert: Cert
    children: list[TreeNode] = field(default_factory=list)


_KIND_ORDER = {kind: position for position, kind in enumerate(RULES)}


def _sort_key(cert: Cert) -> tuple[int, str]:
    return (_KIND_ORDER.get(cert.kind, len(_KIND_ORDER)), cert.name.lower())


def active_cert_tree() -> list[TreeNode]:
    """The active CERTs as a forest of nodes, siblings ordered by kind then name (one query).

    A CERT whose parent is inactive cannot be active (the rules refuse it), so every active CERT
    but the root finds its parent here.
    """
    certs = list(Cert.objects.filter(is_active=True).select_related("sector"))
    nodes = {cert.pk: TreeNode(cert) for cert in certs}
    roots: list[TreeNode] = []
    for cert in sorted(certs, key=_sort_key):
        parent = nodes.get(cert.parent_id)
        (parent.children if parent else roots).append(nodes[cert.pk])
    return roots


def public_cert_profile(slug: str) -> tuple[Cert, list[Cert], list[Cert]]:
    """An active CERT, its ancestors (root first) and its active children; 404 when there is
    no active CERT with that slug."""
    cert = Cert.objects.select_related("sector", "parent").filter(slug=slug, is_active=True).first()
    if cert is None:
        raise Http404("No active CERT has this address.")
    ancestors = list(cert.ancestors())
    children = sorted(cert.children.filter(is_active=True), key=_sort_key)
    return cert, ancestors, children


def subtree_totals(counts_by_path: Iterable[tuple[str, int]]) -> dict[int, int]:
    """Sum per-CERT numbers up the tree: from (CERT's stored path, number) pairs, the total of
    every CERT over its whole subtree, by primary key (a CERT's own number counts for it and for
    each CERT above it). Pure: the callers count, this adds."""
    totals: dict[int, int] = defaultdict(int)
    for path, number in counts_by_path:
        for pk in path.split(PATH_SEPARATOR):
            if pk:
                totals[int(pk)] += number
    return dict(totals)


_ROLE_ORDER = {role: position for position, role in enumerate(Role.values)}


def cert_members(cert: Cert) -> list[Membership]:
    """The members of `cert` with their users, heads first, then by name (one query)."""
    members = Membership.objects.filter(cert=cert).select_related("user", "cert")
    return sorted(members, key=lambda m: (_ROLE_ORDER.get(m.role, len(_ROLE_ORDER)),
                                          (m.user.get_full_name() or m.user.get_username()).lower()))


def active_users_named(text: str) -> list:
    """The active accounts that `text` names: the one whose username it is (ignoring case), or
    else those whose e-mail address it is. At most two, enough to tell one from several."""
    text = text.strip()
    if not text:
        return []
    users = get_user_model()._default_manager.filter(is_active=True)
    by_username = list(users.filter(username__iexact=text)[:2])
    if by_username:
        # Usernames are unique as typed, not ignoring case: the exact one wins a tie.
        return [user for user in by_username if user.get_username() == text] or by_username
    return list(users.filter(email__iexact=text).order_by("pk")[:2])


def active_cert(slug: str) -> Cert:
    """The active CERT with this slug, or Http404 (one query)."""
    cert = Cert.objects.select_related("parent").filter(slug=slug, is_active=True).first()
    if cert is None:
        raise Http404("No active CERT has this address.")
    return cert


def cert_membership(cert: Cert, pk) -> Membership | None:
    """The membership `pk` of `cert` with its user, or None (also for a `pk` that is no number)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return Membership.objects.select_related("user", "cert").filter(cert=cert, pk=pk).first()
