"""The registry health check behind `manage.py check_registry`.

It reads the whole registry in a few queries and judges every CERT with the same rule function
the services use (organizations.rules.cert_violations), walking real parent links rather than the
stored paths so that it also finds what was written around the services.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q

from organizations.models import PATH_SEPARATOR, Cert, Role
from organizations.rules import REQUIRED_KINDS, cert_violations, kind_name


@dataclass(frozen=True)
class Finding:
    level: str  # "error": a composition rule is broken; "warning": a staffing gap
    code: str
    message: str
    cert: Cert | None = None

    def __str__(self) -> str:
        where = f"{self.cert.slug}: " if self.cert is not None else ""
        return f"{self.level.upper():7} {where}[{self.code}] {self.message}"


def registry_findings() -> list[Finding]:
    certs = list(Cert.objects.annotate(
        heads=Count("memberships", filter=Q(memberships__role=Role.HEAD)),
        handlers=Count("memberships", filter=Q(memberships__role=Role.HANDLER)),
    ).order_by("path", "pk"))
    by_pk = {cert.pk: cert for cert in certs}
    children: dict[int | None, list[Cert]] = defaultdict(list)
    by_kind: dict[str, list[Cert]] = defaultdict(list)
    for cert in certs:
        children[cert.parent_id].append(cert)
        if cert.is_active:
            by_kind[cert.kind].append(cert)

    findings: list[Finding] = []
    for kind in REQUIRED_KINDS:
        if not by_kind.get(kind):
            findings.append(Finding("error", f"{kind}.missing",
                                    f"There is no active {kind_name(kind)}.", None))

    for cert in certs:
        chain, cyclic = _parent_chain(cert, by_pk)
        parent = by_pk.get(cert.parent_id)
        if cyclic and cert.pk in chain:
            findings.append(Finding("error", "tree.cycle", f"{cert.name} is its own ancestor: "
                                    "its parent links go round in a circle.", cert))
        elif cyclic:
            findings.append(Finding("error", "tree.cycle", f"{cert.name} hangs below a cycle: "
                                    "its ancestors' parent links go round in a circle.", cert))
        for violation in cert_violations(
            cert, parent=parent, parent_chain_ids=set() if cyclic else chain,
            peers=by_kind.get(cert.kind, []), children=[],
        ):
            findings.append(Finding("error", violation.code, violation.message, cert))
        if not cert.is_active and any(child.is_active for child in children[cert.pk]):
            findings.append(Finding("error", "tree.active_children", f"{cert.name} is inactive "
                                    "but has active children.", cert))
        if not cyclic:
            expected = _expected_path(cert, by_pk)
            if cert.path != expected:
                findings.append(Finding("error", "tree.path", f"Stored tree path {cert.path!r} "
                                        f"should be {expected!r}; run `manage.py check_registry "
                                        "--repair-paths`.", cert))
        if cert.is_active:
            findings.extend(_staffing_gaps(cert))
    return findings


def repair_paths() -> int:
    """Rewrite every stored path and depth from the parent links; return how many changed."""
    certs = list(Cert.objects.all())
    by_pk = {cert.pk: cert for cert in certs}
    changed = []
    for cert in certs:
        _, cyclic = _parent_chain(cert, by_pk)
        if cyclic:
            continue
        expected = _expected_path(cert, by_pk)
        if cert.path != expected:
            cert.path = expected
            cert.depth = expected.count(PATH_SEPARATOR) - 2
            changed.append(cert)
    Cert.objects.bulk_update(changed, ["path", "depth"])
    return len(changed)


def _parent_chain(cert: Cert, by_pk: dict[int, Cert]) -> tuple[set[int], bool]:
    """Primary keys of the parent and all ancestors, and whether the links loop back. When
    they loop back through `cert` itself, `cert.pk` is among the keys."""
    seen: set[int] = set()
    current = by_pk.get(cert.parent_id)
    while current is not None:
        if current.pk in seen:
            return seen, True
        seen.add(current.pk)
        current = by_pk.get(current.parent_id)
    return seen, False


def _expected_path(cert: Cert, by_pk: dict[int, Cert]) -> str:
    ids = [cert.pk]
    current = by_pk.get(cert.parent_id)
    while current is not None:
        ids.append(current.pk)
        current = by_pk.get(current.parent_id)
    return PATH_SEPARATOR + "".join(f"{pk}{PATH_SEPARATOR}" for pk in reversed(ids))


def _staffing_gaps(cert: Cert) -> list[Finding]:
    gaps = []
    if not cert.heads:
        gaps.append(Finding("warning", "staffing.head", f"{cert.name} has no head.", cert))
    if not cert.handlers:
        gaps.append(Finding("warning", "staffing.handler", f"{cert.name} has no incident "
                            "handler.", cert))
    if not cert.has_24x7_contact:
        missing = " and ".join(label for label, value in (("hotline", cert.hotline),
                                                          ("email", cert.email)) if not value)
        gaps.append(Finding("warning", "staffing.contact", f"{cert.name} has no 24/7 contact: "
                            f"{missing} missing.", cert))
    return gaps



