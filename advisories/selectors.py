"""Reads of published advisories for the public pages and the feeds (issue 10, point 4).

Who may read what is asked of advisories.access (public_advisories, readable_advisories,
public_revisions); these functions only filter, order and page what it lets through, each in a
constant number of queries: one per list page, one per feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from advisories import access
from advisories.csaf.directory import document_path
from advisories.models import Advisory, AdvisoryCve, AdvisoryProduct, AdvisoryRevision, AdvisorySeverity
from cert_portal.pagination import Cursor, Direction, Position, encode_cursor

PAGE_SIZE = 20
FEED_SIZE = 50

# Severity in addresses and feed paths: /advisories/feed/high/rss/, ?severity=high.
SEVERITY_SLUGS: dict[str, AdvisorySeverity] = {level.name.lower(): level for level in AdvisorySeverity}

# What a row of a list or a feed item needs: not the body (up to 100k characters per revision).
_ROW_FIELDS = ("public_id", "reference", "tlp", "status", "first_published_at", "last_published_at",
               "withdrawn_at", "author_cert", "current_revision", "current_revision__title",
               "current_revision__summary", "current_revision__severity")


def severity_slug(severity: int) -> str:
    return AdvisorySeverity(severity).name.lower()


@dataclass(frozen=True)
class PublicFilters:
    """What a visitor asks of the public list; every field is optional."""

    q: str = ""
    severity: AdvisorySeverity | None = None
    exact_severity: bool = False  # False: this severity or higher
    cve: str = ""  # upper-cased, e.g. CVE-2026-1234
    vendor: str = ""  # lower-cased, as AdvisoryProduct stores it
    product: str = ""
    published_from: date | None = None  # local dates, both included
    published_to: date | None = None


@dataclass
class AdvisoryPage:
    advisories: list[Advisory]
    older_cursor: str | None = None  # the next page (older advisories)
    newer_cursor: str | None = None  # the previous page


def _start_of(day: date) -> datetime:
    """Midnight at the start of `day` in the portal's time zone, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _filtered(rows: QuerySet[Advisory], filters: PublicFilters) -> QuerySet[Advisory]:
    if filters.q:
        rows = rows.filter(Q(reference__iexact=filters.q)
                           | Q(current_revision__title__icontains=filters.q)
                           | Q(current_revision__summary__icontains=filters.q))
    if filters.severity is not None:
        lookup = "current_revision__severity" if filters.exact_severity else "current_revision__severity__gte"
        rows = rows.filter(**{lookup: filters.severity})
    if filters.cve:
        rows = rows.filter(Exists(AdvisoryCve.objects.filter(advisory=OuterRef("pk"), cve_id=filters.cve)))
    if filters.vendor or filters.product:
        products = AdvisoryProduct.objects.filter(advisory=OuterRef("pk"))
        if filters.vendor:
            products = products.filter(vendor=filters.vendor)
        if filters.product:
            products = products.filter(product=filters.product)
        rows = rows.filter(Exists(products))
    if filters.published_from:
        rows = rows.filter(last_published_at__gte=_start_of(filters.published_from))
    if filters.published_to:
        rows = rows.filter(last_published_at__lt=_start_of(filters.published_to + timedelta(days=1)))
    return rows


def public_advisory_page(filters: PublicFilters = PublicFilters(), *, cursor: Cursor | None = None,
                         size: int = PAGE_SIZE) -> AdvisoryPage:
    """A keyset page of the public (TLP:CLEAR, published or withdrawn) advisories that match
    `filters`, newest first by (last_published_at, pk), with the cursors of the pages around it.
    One query whatever `size`; nothing counts all matches."""
    rows = _filtered(access.public_advisories(Advisory.objects.select_related("current_revision")
                                              .only(*_ROW_FIELDS)), filters)
    newer = cursor is not None and cursor.direction is Direction.NEWER
    if cursor is not None:
        at, pk = cursor.position.at, cursor.position.pk
        if newer:
            rows = rows.filter(Q(last_published_at__gt=at) | Q(last_published_at=at, pk__gt=pk))
        else:
            rows = rows.filter(Q(last_published_at__lt=at) | Q(last_published_at=at, pk__lt=pk))
    order = ("last_published_at", "pk") if newer else ("-last_published_at", "-pk")
    advisories = list(rows.order_by(*order)[:size + 1])
    more = len(advisories) > size
    advisories = advisories[:size]
    if newer:
        advisories.reverse()
    if not advisories:
        return AdvisoryPage([])
    first = Position(advisories[0].last_published_at, advisories[0].pk)
    last = Position(advisories[-1].last_published_at, advisories[-1].pk)
    has_older = True if newer else more
    has_newer = more if newer else cursor is not None
    return AdvisoryPage(advisories,
                        older_cursor=encode_cursor(Direction.OLDER, last) if has_older else None,
                        newer_cursor=encode_cursor(Direction.NEWER, first) if has_newer else None)


def _latest(rows: QuerySet[Advisory], min_severity: AdvisorySeverity | None) -> list[Advisory]:
    rows = rows.select_related("current_revision").only(*_ROW_FIELDS)
    if min_severity is not None:
        rows = rows.filter(current_revision__severity__gte=min_severity)
    return list(rows.order_by("-last_published_at", "-pk")[:FEED_SIZE])


def public_feed_advisories(min_severity: AdvisorySeverity | None = None) -> list[Advisory]:
    """The latest public advisories for the public feeds (of `min_severity` or higher): one query."""
    return _latest(access.public_advisories(), min_severity)


def readable_feed_advisories(user) -> list[Advisory]:
    """The latest advisories `user` may read now, for their secret feed: one query (two when the
    user's memberships are not cached yet)."""
    return _latest(access.readable_advisories(user), None)


def public_history(advisory: Advisory) -> list[AdvisoryRevision]:
    """The public revisions of `advisory`, newest first, without their text: one query."""
    return list(access.public_revisions(advisory)
                .only("pk", "advisory_id", "number", "published_at", "change_summary", "withdraws", "tlp")
                .order_by("-number"))


def public_revision(advisory: Advisory, number: int) -> AdvisoryRevision | None:
    """Revision `number` of `advisory`, if anyone may read it."""
    return access.public_revisions(advisory).filter(number=number).first()


def csaf_white_path(advisory: Advisory) -> str:
    """Where the CSAF provider serves a public advisory's document, e.g.
    /.well-known/csaf/white/2026/pk-adv-2026-0042.json: the provider's own path (year of the
    initial release in UTC, file name of CSAF §5.1), so that the link and the file never differ."""
    return document_path(advisory)
