"""Traffic Light Protocol 2.0 labels and the portal's rules about them (DOMAIN.md §2).

The labels are exactly FIRST's TLP 2.0 labels, stored as written ("TLP:AMBER+STRICT"); TLP 1.0's
TLP:WHITE is not accepted (it became TLP:CLEAR). Every function here that takes a label accepts a
`Tlp` member or its string value and raises ValidationError for anything else, so that an unknown
label can never slip through a rule (fail closed).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class Tlp(models.TextChoices):
    """TLP 2.0 labels, from the least to the most strict."""

    CLEAR = "TLP:CLEAR", "TLP:CLEAR"
    GREEN = "TLP:GREEN", "TLP:GREEN"
    AMBER = "TLP:AMBER", "TLP:AMBER"
    AMBER_STRICT = "TLP:AMBER+STRICT", "TLP:AMBER+STRICT"
    RED = "TLP:RED", "TLP:RED"


# Incidents are TLP:AMBER unless someone chooses otherwise (DOMAIN.md §2).
DEFAULT_INCIDENT_TLP = Tlp.AMBER

# Higher is stricter: who may receive the information shrinks at every step.
STRICTNESS: dict[Tlp, int] = {
    Tlp.CLEAR: 0,
    Tlp.GREEN: 1,
    Tlp.AMBER: 2,
    Tlp.AMBER_STRICT: 3,
    Tlp.RED: 4,
}

# Label colours of FIRST TLP 2.0, as in shared/standards/tlp.json. FIRST writes the label in this
# colour on a black background, which is what makes TLP:CLEAR (white) readable.
COLOURS: dict[Tlp, str] = {
    Tlp.CLEAR: "#ffffff",
    Tlp.GREEN: "#33FF00",
    Tlp.AMBER: "#FFC000",
    Tlp.AMBER_STRICT: "#FFC000",
    Tlp.RED: "#FF2B2B",
}
BADGE_BACKGROUND = "#000000"

# DOMAIN.md §2, access table: a CERT the incident is explicitly shared with may view it only under
# these labels; an ancestor of the owner (oversight) may view it under these labels. The two sets
# are equal today but are separate rules, so they are kept apart.
_SHAREABLE = frozenset({Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER})
_VISIBLE_TO_ANCESTORS = frozenset({Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER})
# Tlp.values builds a new list on every call: the grants of a provincial move ask 230k times.
_LABELS = frozenset(Tlp.values)


def validate_tlp(value: object) -> None:
    """Raise ValidationError (code "invalid_tlp") unless `value` is a TLP 2.0 label.

    The message names the bad value and the allowed labels. Usable as a Django field validator.
    """
    if isinstance(value, str) and value in _LABELS:
        return
    hint = ""
    if isinstance(value, str):
        guess = value.strip().upper()
        guess = guess if guess.startswith("TLP:") else f"TLP:{guess}"
        if guess == "TLP:WHITE":
            hint = " TLP:WHITE is TLP 1.0; TLP 2.0 calls it TLP:CLEAR."
        elif guess in Tlp.values:
            hint = f" Did you mean {guess!r}?"
    raise ValidationError(
        f"{value!r} is not a TLP 2.0 label. Use one of: {', '.join(Tlp.values)}.{hint}",
        code="invalid_tlp",
    )


def as_tlp(value: object) -> Tlp:
    """Return `value` as a `Tlp` member; raise ValidationError as `validate_tlp` does."""
    validate_tlp(value)
    return Tlp(value)


def strictness(label: object) -> int:
    """Return the rank of `label`: 0 for TLP:CLEAR up to 4 for TLP:RED."""
    return STRICTNESS[as_tlp(label)]


def is_stricter(a: object, b: object) -> bool:
    """Return True if `a` is strictly stricter than `b` (e.g. RED than AMBER); False if equal."""
    return strictness(a) > strictness(b)


def is_less_strict(a: object, b: object) -> bool:
    """Return True if `a` is strictly less strict than `b` (e.g. GREEN than AMBER).

    Lowering an incident's TLP is a head's decision (DOMAIN.md §2): ask this of (new, old).
    """
    return strictness(a) < strictness(b)


def shareable(label: object) -> bool:
    """Return True if an incident under `label` may be shared with other CERTs (view access)."""
    return as_tlp(label) in _SHAREABLE


def visible_to_ancestors(label: object) -> bool:
    """Return True if the ancestors of the owner CERT may view an incident under `label`."""
    return as_tlp(label) in _VISIBLE_TO_ANCESTORS


def colour(label: object) -> str:
    """Return the FIRST colour of `label` as "#RRGGBB", for a badge on `BADGE_BACKGROUND`."""
    return COLOURS[as_tlp(label)]
