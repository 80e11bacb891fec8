"""The Reference Security Incident Taxonomy (RSIT) that classifies incidents (DOMAIN.md §3).

The portal pins its own copy of the taxonomy in `incidents/data/rsit.json` (a byte-for-byte copy
of `shared/standards/rsit.json`, in the MISP taxonomy format): its "predicates" are the
classifications and its "values" list the incident types of each classification. The file is read
once, on first use, never at import time.

An incident stores two strings: its classification (e.g. "fraud") and its type (e.g. "phishing").
Type values are unique across the whole taxonomy (the loader checks it), so a grouped select of
types, `choices()`, is enough for a form: the classification follows from the type
(`classification_of`), and `validate_classification` checks that a stored pair belongs together.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured, ValidationError

RSIT_PATH = Path(__file__).resolve().parent / "data" / "rsit.json"


@dataclass(frozen=True)
class IncidentType:
    """One RSIT incident type, e.g. value "phishing", label "Phishing"."""

    value: str
    label: str
    description: str


@dataclass(frozen=True)
class Classification:
    """One RSIT classification with its incident types, in the taxonomy's order."""

    value: str
    label: str
    description: str
    types: tuple[IncidentType, ...]


@dataclass(frozen=True)
class Taxonomy:
    version: int
    classifications: dict[str, Classification]  # in the taxonomy's order
    classification_of_type: dict[str, str]  # type value -> classification value


@functools.cache
def load() -> Taxonomy:
    """Read and check the pinned RSIT file; the result is cached for the life of the process.

    Raise ImproperlyConfigured if the file does not have the expected shape: a broken pin must stop
    the portal at its first use, not classify incidents wrongly.
    """
    data = json.loads(RSIT_PATH.read_text(encoding="utf-8"))
    try:
        entries_of = {block["predicate"]: block["entry"] for block in data["values"]}
        unknown = set(entries_of) - {predicate["value"] for predicate in data["predicates"]}
        if unknown:
            raise ImproperlyConfigured(
                f"{RSIT_PATH}: types listed for unknown classifications {sorted(unknown)}."
            )
        classifications: dict[str, Classification] = {}
        classification_of_type: dict[str, str] = {}
        for predicate in data["predicates"]:
            types = tuple(
                IncidentType(entry["value"], entry["expanded"], entry.get("description", ""))
                for entry in entries_of.get(predicate["value"], [])
            )
            for incident_type in types:
                if incident_type.value in classification_of_type:
                    raise ImproperlyConfigured(
                        f"{RSIT_PATH}: the type {incident_type.value!r} appears in more than one "
                        f"classification, so a type no longer identifies its classification."
                    )
                classification_of_type[incident_type.value] = predicate["value"]
            classifications[predicate["value"]] = Classification(
                predicate["value"], predicate["expanded"], predicate.get("description", ""), types
            )
        return Taxonomy(int(data["version"]), classifications, classification_of_type)
    except (KeyError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{RSIT_PATH} is not an RSIT taxonomy file: {exc!r}") from exc


def version() -> int:
    """Return the version number of the pinned RSIT file (the MISP taxonomy "version")."""
    return load().version


def classifications() -> list[tuple[str, str]]:
    """Return every classification as (value, label), in the taxonomy's order."""
    return [(c.value, c.label) for c in load().classifications.values()]


def types_for(classification: str) -> list[tuple[str, str, str]]:
    """Return the types of `classification` as (value, label, description), in order.

    Raise ValidationError (code "unknown_classification") if `classification` is not in RSIT.
    """
    return [(t.value, t.label, t.description) for t in _classification(classification).types]


def classification_of(type: str) -> str:
    """Return the classification that the incident type `type` belongs to.

    Raise ValidationError (code "unknown_type") if no classification has that type.
    """
    taxonomy = load()
    try:
        return taxonomy.classification_of_type[type]
    except (KeyError, TypeError):
        raise ValidationError(
            f"{type!r} is not an RSIT incident type. Choose one of: "
            f"{', '.join(taxonomy.classification_of_type)}.",
            code="unknown_type",
        ) from None


def choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Return the incident types grouped by classification, for a Django select with optgroups.

    The shape is Django's grouped choices: [(classification label, [(type value, type label), ...]),
    ...]. The option values are type values, unique across the taxonomy; derive the classification
    with `classification_of`.
    """
    return [
        (c.label, [(t.value, t.label) for t in c.types]) for c in load().classifications.values()
    ]


def validate_classification(classification: str, type: str) -> None:
    """Check that `classification` is an RSIT classification and `type` one of its types.

    Raise ValidationError with code "unknown_classification" or "type_not_in_classification"; the
    message names the bad value and lists the values to choose from instead.
    """
    known = _classification(classification)
    if any(t.value == type for t in known.types):
        return
    belongs_to = load().classification_of_type.get(type) if isinstance(type, str) else None
    where = (
        f" ({type!r} belongs to {belongs_to!r})"
        if belongs_to
        else f" ({type!r} is not an RSIT incident type)"
    )
    raise ValidationError(
        f"{type!r} is not a type of the RSIT classification {classification!r}{where}. "
        f"Choose one of: {', '.join(t.value for t in known.types)}.",
        code="type_not_in_classification",
    )


def _classification(value: str) -> Classification:
    taxonomy = load()
    try:
        return taxonomy.classifications[value]
    except (KeyError, TypeError):
        raise ValidationError(
            f"{value!r} is not an RSIT classification. Choose one of: "
            f"{', '.join(taxonomy.classifications)}.",
            code="unknown_classification",
        ) from None
