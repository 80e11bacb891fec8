"""What a member's advisory subscription asks for (MemberSubscription), as pure functions.

Kept apart from the services and the views so that advisories.access, which decides who receives
an advisory, can use them without importing either (no import circle).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from advisories.models import AdvisorySeverity, MemberSubscription

Mode = MemberSubscription.Mode

# Members without a subscription row get every advisory they may read of this severity or above.
DEFAULT_MIN_SEVERITY = AdvisorySeverity.HIGH
MAX_PRODUCT_LINES = 100
MAX_PRODUCT_PART = 200


def _normal(text: str) -> str:
    return " ".join(str(text).lower().split())


def parse_product_lines(text: str) -> list[tuple[str, str | None]]:
    """Turn the products box ("vendor" or "vendor / product", one per line) into distinct
    (vendor, product or None) pairs, lower-cased with single spaces; raise ValidationError naming
    the first line to fix. The first "/" separates vendor and product."""
    filters: list[tuple[str, str | None]] = []
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if len(lines) > MAX_PRODUCT_LINES:
        raise ValidationError(f"At most {MAX_PRODUCT_LINES} lines: keep the vendors and products "
                              "you care most about.", code="too_many")
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        vendor, slash, product = line.partition("/")
        vendor, product = _normal(vendor), _normal(product)
        if not vendor or (slash and not product):
            raise ValidationError(f'Line {number}: write "vendor" or "vendor / product", for '
                                  'example "Microsoft" or "Microsoft / Exchange Server".',
                                  code="line")
        if len(vendor) > MAX_PRODUCT_PART or len(product) > MAX_PRODUCT_PART:
            raise ValidationError(f"Line {number}: a vendor or product name has at most "
                                  f"{MAX_PRODUCT_PART} characters.", code="long")
        pair = (vendor, product or None)
        if pair not in filters:
            filters.append(pair)
    return filters


def format_product_lines(filters: Iterable[tuple[str, str | None]]) -> str:
    """The stored form of the products box: one filter per line, as parse_product_lines reads it."""
    return "\n".join(f"{vendor} / {product}" if product else vendor for vendor, product in filters)


def advisory_products(products: Iterable[dict]) -> set[tuple[str, str]]:
    """The (vendor, product) pairs of a revision's affected products, normalised like filters."""
    return {(_normal(item.get("vendor") or ""), _normal(item.get("product") or ""))
            for item in products or ()}


def products_match(filters_text: str, pairs: set[tuple[str, str]]) -> bool:
    """Whether one of the stored filters names a vendor, or a vendor and product, in `pairs`.
    Stored text is valid (the service wrote it); a line that is not is skipped, not fatal."""
    if not pairs or not filters_text:
        return False
    vendors = {vendor for vendor, _ in pairs}
    for line in filters_text.splitlines():
        vendor, slash, product = line.partition("/")
        vendor, product = _normal(vendor), _normal(product)
        if vendor and ((vendor, product) in pairs if slash else vendor in vendors):
            return True
    return False


def wants(*, mode: str | None, min_severity: int | None, products_text: str | None,
          sector_match: bool, severity: int, pairs: set[tuple[str, str]]) -> bool:
    """Whether a member's subscription asks for an advisory of `severity` whose affected products
    are `pairs` (`sector_match`: the advisory concerns one of the subscription's sectors).

    `mode` None means the member has no subscription row: the default applies (severity high or
    above). Filtered: the severity threshold OR a sector OR a vendor/product matches. Whether the
    member may read the advisory at all is not decided here (advisories.access)."""
    if mode is None:
        return severity >= DEFAULT_MIN_SEVERITY
    if mode == Mode.ALL:
        return True
    if mode == Mode.FILTERED:
        return (severity >= (DEFAULT_MIN_SEVERITY if min_severity is None else min_severity)
                or sector_match or products_match(products_text or "", pairs))
    return False  # Mode.NONE, and any unknown mode (fail closed)
