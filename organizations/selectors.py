"""Reads of the public registry, each a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import Http404

from organizations.models import Cert
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
