"""The composition rules of the CERT registry, as one declarative table (DOMAIN.md §1).

`RULES` says, per kind of CERT, who may be its parent and how many may exist. Everything else
derives from it: the database constraints on `Cert`, the checks of the registry services, the
admin's validation and `manage.py check_registry`. Nothing else in the code names these rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _


class CertKind(models.TextChoices):
    NATIONAL = "national", _("National CERT")
    GOVERNMENT = "government", _("Government CERT")
    CII = "cii", _("Critical Information Infrastructure CERT")
    FEDERAL = "federal", _("Federal government CERT")
    PROVINCIAL = "provincial", _("Provincial government CERT")
    LOCAL = "local", _("Local government CERT")
    SECTORAL = "sectoral", _("Sectoral CERT")
    ORGANIZATIONAL = "organizational", _("Organizational CERT")


class Region(models.TextChoices):
    """Provinces and territories, ISO 3166-2:PK."""

    PUNJAB = "PK-PB", _("Punjab")
    SINDH = "PK-SD", _("Sindh")
    KHYBER_PAKHTUNKHWA = "PK-KP", _("Khyber Pakhtunkhwa")
    BALOCHISTAN = "PK-BA", _("Balochistan")
    ISLAMABAD = "PK-IS", _("Islamabad Capital Territory")
    GILGIT_BALTISTAN = "PK-GB", _("Gilgit-Baltistan")
    AZAD_KASHMIR = "PK-JK", _("Azad Jammu and Kashmir")


@dataclass(frozen=True)
class KindRule:
    """What the registry requires of one kind of CERT."""

    kind: str
    parent_kinds: tuple[str, ...]  # empty: the kind is the root of the tree
    limit: int | None = None  # how many active CERTs of the kind may exist; None: any number
    limit_per: str | None = None  # "region" or "sector": the limit counts per value of that field
    region_required: bool = False
    region_from_parent: bool = False  # region must equal the parent's region
    sector_required: bool = False
    note: str = ""

    @property
    def is_root(self) -> bool:
        return not self.parent_kinds

    @property
    def label(self) -> str:
        return kind_name(self.kind)


RULES: dict[str, KindRule] = {
    rule.kind: rule
    for rule in [
        KindRule(CertKind.NATIONAL, (), limit=1, note="runs the national security operations centre"),
        KindRule(CertKind.GOVERNMENT, (CertKind.NATIONAL,), limit=1),
        KindRule(CertKind.CII, (CertKind.NATIONAL,), limit=1, note="oversees the sectoral CERTs"),
        KindRule(CertKind.FEDERAL, (CertKind.GOVERNMENT,), limit=1),
        KindRule(
            CertKind.PROVINCIAL, (CertKind.GOVERNMENT,), limit=1, limit_per="region",
            region_required=True,
        ),
        KindRule(
            CertKind.LOCAL, (CertKind.PROVINCIAL,), region_required=True, region_from_parent=True,
        ),
        KindRule(
            CertKind.SECTORAL, (CertKind.CII,), limit=1, limit_per="sector", sector_required=True,
        ),
        KindRule(
            CertKind.ORGANIZATIONAL,
            (CertKind.SECTORAL, CertKind.FEDERAL, CertKind.PROVINCIAL, CertKind.LOCAL),
        ),
    ]
}

# The national CERT must exist (reported by check_registry when it does not).
REQUIRED_KINDS = tuple(rule.kind for rule in RULES.values() if rule.is_root)


@dataclass(frozen=True)
class Violation:
    """One broken rule: `code` names the rule, `field` the form field it is about."""

    code: str
    message: str
    field: str | None = None

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


def kind_name(kind: str) -> str:
    """The English name of a kind, for the rules' messages (written in English, like the other
    messages of the registry's administration); pages show the translated label."""
    with translation.override("en"):
        return str(CertKind(kind).label)


def _kind_list(kinds: Iterable[str]) -> str:
    labels = [kind_name(kind) for kind in kinds]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def _name(cert) -> str:
    return cert.name or cert.slug or "this CERT"


def limit_message(rule: KindRule) -> str:
    per = {"region": " per region", "sector": " per sector"}.get(rule.limit_per or "", "")
    count = "one" if rule.limit == 1 else str(rule.limit)
    return f"There may be at most {count} active {rule.label}{per}."


def cert_violations(cert, *, parent, parent_chain_ids: set[int], peers, children) -> list[Violation]:
    """Return every composition rule that `cert`, as it would be saved, breaks.

    The caller supplies the context so that the same function serves one write (the registry
    services load it from the database) and the whole registry at once (check_registry builds it in
    memory):
    - `parent`: the parent `cert` would have, or None;
    - `parent_chain_ids`: primary keys of that parent and all its ancestors;
    - `peers`: the other active CERTs of the same kind;
    - `children`: the CERTs whose parent `cert` is.
    """
    rule = RULES.get(cert.kind)
    if rule is None:
        return [Violation("kind", f"Unknown kind {cert.kind!r}: choose one of "
                                  f"{', '.join(RULES)}.", "kind")]
    found: list[Violation] = []
    code = rule.kind

    if rule.is_root and parent is not None:
        found.append(Violation(f"{code}.root", f"The {rule.label} is the root of the tree and "
                                              "has no parent.", "parent"))
    if not rule.is_root:
        if parent is None:
            found.append(Violation(f"{code}.parent", f"A {rule.label} needs a parent: a "
                                   f"{_kind_list(rule.parent_kinds)}. Only the national CERT "
                                   "has no parent.", "parent"))
        elif parent.kind not in rule.parent_kinds:
            found.append(Violation(f"{code}.parent", f"A {rule.label}'s parent must be a "
                                   f"{_kind_list(rule.parent_kinds)}; {_name(parent)} is a "
                                   f"{kind_name(parent.kind)}.", "parent"))
    if parent is not None and cert.pk is not None and cert.pk in parent_chain_ids:
        found.append(Violation("tree.cycle", f"{_name(cert)} cannot be placed under "
                               f"{_name(parent)}: that CERT is {_name(cert)} itself or one of its "
                               "descendants, which would make a cycle.", "parent"))
    if parent is not None and cert.is_active and not parent.is_active:
        found.append(Violation("tree.inactive_parent", f"{_name(parent)} is not active: an active "
                               "CERT needs an active parent.", "parent"))

    if rule.region_required and not cert.region:
        found.append(Violation(f"{code}.region", f"A {rule.label} needs a region.", "region"))
    if (rule.region_from_parent and cert.region and parent is not None and parent.region
            and cert.region != parent.region):
        found.append(Violation(f"{code}.region", f"A {rule.label} must be in its parent's region: "
                               f"{_name(parent)} is in {Region(parent.region).label}, not "
                               f"{Region(cert.region).label}.", "region"))
    if rule.sector_required and cert.sector_id is None:
        found.append(Violation(f"{code}.sector", f"A {rule.label} needs a sector.", "sector"))

    if rule.limit is not None and cert.is_active:
        per = rule.limit_per
        same = [p for p in peers if p.pk != cert.pk and p.is_active and p.kind == cert.kind
                and (per is None or getattr(p, _per_attr(per)) == getattr(cert, _per_attr(per)))]
        if len(same) >= rule.limit:
            others = ", ".join(sorted(_name(p) for p in same))
            found.append(Violation(f"{code}.limit", f"{limit_message(rule)} Already there: "
                                   f"{others}.", per or "kind"))

    active_children = [child for child in children if child.is_active]
    if not cert.is_active and active_children:
        names = ", ".join(sorted(_name(child) for child in active_children))
        found.append(Violation("tree.active_children", f"{_name(cert)} has active children "
                               f"({names}): move or deactivate them first.", "is_active"))
    for child in children:
        child_rule = RULES.get(child.kind)
        if child_rule is None:
            continue
        if child_rule.is_root:
            # Only a write around the model meets this (the database refuses a root kind with a
            # parent), but the rules must still answer it, not fail building the message.
            found.append(Violation(f"{child.kind}.parent", f"{_name(child)} is the "
                                   f"{child_rule.label}, the root of the tree: it cannot be under "
                                   f"{_name(cert)}.", "kind"))
        elif cert.kind not in child_rule.parent_kinds:
            found.append(Violation(f"{child.kind}.parent", f"{_name(child)} ({child_rule.label}) "
                                   f"would be left under a {rule.label}: its parent must be a "
                                   f"{_kind_list(child_rule.parent_kinds)}. Move it first.", "kind"))
        if child_rule.region_from_parent and child.region and child.region != cert.region:
            found.append(Violation(f"{child.kind}.region", f"{_name(child)} is in "
                                   f"{Region(child.region).label}, so its parent must stay in that "
                                   "region. Move it first.", "region"))
    return found


def _per_attr(per: str) -> str:
    return "sector_id" if per == "sector" else per


def database_constraints() -> list[models.BaseConstraint]:
    """The rules that the database itself can hold, derived from RULES for `Cert.Meta`."""
    constraints: list[models.BaseConstraint] = [
        models.CheckConstraint(
            condition=Q(kind__in=list(RULES)), name="cert_kind_known",
            violation_error_message="Unknown kind of CERT.",
        ),
    ]
    root_kinds = [rule.kind for rule in RULES.values() if rule.is_root]
    constraints.append(models.CheckConstraint(
        condition=(Q(kind__in=root_kinds, parent__isnull=True)
                   | (~Q(kind__in=root_kinds) & Q(parent__isnull=False))),
        name="cert_only_root_kind_without_parent",
        violation_error_message="Only the national CERT has no parent.",
    ))
    for rule in RULES.values():
        if rule.limit == 1:
            fields = [rule.limit_per] if rule.limit_per else ["kind"]
            constraints.append(models.UniqueConstraint(
                fields=fields, condition=Q(kind=rule.kind, is_active=True),
                name=f"cert_limit_{rule.kind}", violation_error_message=limit_message(rule),
            ))
    region_kinds = [rule.kind for rule in RULES.values() if rule.region_required]
    constraints.append(models.CheckConstraint(
        condition=~Q(kind__in=region_kinds) | ~Q(region=""), name="cert_region_required",
        violation_error_message=f"A {_kind_list(region_kinds)} needs a region.",
    ))
    sector_kinds = [rule.kind for rule in RULES.values() if rule.sector_required]
    constraints.append(models.CheckConstraint(
        condition=~Q(kind__in=sector_kinds) | Q(sector__isnull=False), name="cert_sector_required",
        violation_error_message=f"A {_kind_list(sector_kinds)} needs a sector.",
    ))
    return constraints
