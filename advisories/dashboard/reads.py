"""Reads of the advisories' staff pages (issue 10): the list, the review queue, one advisory.

Who may see what is decided in advisories.access only (visible_advisories, readable_advisories,
allowed_actions, readable_revisions) and, for the source incident, in incidents.access. Every list
is one query per page whatever its size, paged by keyset on (time, pk), newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from advisories import access
from advisories.access import AUTHOR_CERT_RULES, Action
from advisories.models import Advisory, AdvisoryRevision, AdvisorySeverity, AdvisoryStatus, RevisionState
from cert_portal.pagination import Cursor, Direction, Position, encode_cursor
from organizations.models import Cert

OPEN_STATES = (RevisionState.DRAFT, RevisionState.IN_REVIEW)
PAGE_SIZES = (25, 50, 100)
# The review badge of the navigation counts up to here ("99+"), like the unread notices.
REVIEW_COUNT_CAP = 99


class Tab:
    """The list's tabs, in their order."""

    ALL = "all"
    PUBLISHED = "published"
    DRAFTS = "drafts"
    DEFAULT = ALL
    LABELS = {
        ALL: gettext_lazy("All I may see"),
        PUBLISHED: gettext_lazy("Published"),
        DRAFTS: gettext_lazy("Drafts and reviews of my CERTs"),
    }
    EMPTY = {
        ALL: gettext_lazy("There are no advisories you may see yet."),
        PUBLISHED: gettext_lazy("No advisory you may read has been published yet."),
        DRAFTS: gettext_lazy("Your CERTs have no advisory being written or reviewed."),
    }


def tlp_class(label: str) -> str:
    """The CSS class of a TLP label: TLP:AMBER+STRICT -> tlp-amber-strict."""
    return "tlp-" + str(label).removeprefix("TLP:").lower().replace("+", "-")


@dataclass
class Page:
    rows: list
    older_cursor: str | None = None
    newer_cursor: str | None = None


def _keyset(queryset: QuerySet, key: str, *, size: int, cursor: Cursor | None) -> Page:
    """One page of `queryset` ordered by (`key`, pk) descending, after or before `cursor`: one
    query, whatever the page's size."""
    newer = cursor is not None and cursor.direction is Direction.NEWER
    if cursor is not None:
        at, pk = cursor.position.at, cursor.position.pk
        beyond = (Q(**{f"{key}__gt": at}) | Q(**{key: at, "pk__gt": pk}) if newer
                  else Q(**{f"{key}__lt": at}) | Q(**{key: at, "pk__lt": pk}))
        queryset = queryset.filter(beyond)
    order = (key, "pk") if newer else (f"-{key}", "-pk")
    rows = list(queryset.order_by(*order)[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if newer:
        rows.reverse()
    if not rows:
        return Page([])
    first = Position(getattr(rows[0], key), rows[0].pk)
    last = Position(getattr(rows[-1], key), rows[-1].pk)
    has_older = more if not newer else True
    has_newer = more if newer else cursor is not None
    return Page(rows, older_cursor=encode_cursor(Direction.OLDER, last) if has_older else None,
                newer_cursor=encode_cursor(Direction.NEWER, first) if has_newer else None)


def _open_revisions() -> QuerySet[AdvisoryRevision]:
    return AdvisoryRevision.objects.filter(advisory=OuterRef("pk"), state__in=OPEN_STATES)


def _my_groups(user) -> list[int]:
    return list(access.member_group_roles(user))


# --- The list ----------------------------------------------------------------------------------


@dataclass
class ListRow:
    reference: str
    title: str
    severity: int
    severity_label: str
    tlp: str
    tlp_class: str
    status: str
    status_label: str
    open_state: str | None  # the state of an open revision of the member's own CERT's advisory
    author_cert: Cert
    at: datetime
    published: bool


def advisory_list(user, *, tab: str, search: str = "", size: int, cursor: Cursor | None) -> Page:
    """A page of the advisories `user` may see in `tab`, newest first (by publication, else by
    creation), in one query: the title and severity of drafts come from their open revision, and
    an open revision is said only of the member's own CERTs' advisories."""
    groups = _my_groups(user)
    queryset = (Advisory.objects.select_related("author_cert", "current_revision")
                .annotate(sort_at=Coalesce("last_published_at", "created_at"),
                          shown_title=Coalesce(F("current_revision__title"),
                                               Subquery(_open_revisions().values("title")[:1])),
                          shown_severity=Coalesce(F("current_revision__severity"),
                                                  Subquery(_open_revisions().values("severity")[:1])),
                          shown_tlp=Coalesce(F("current_revision__tlp"),
                                             Subquery(_open_revisions().values("tlp")[:1])),
                          open_state=Case(When(author_cert__group_id__in=groups,
                                               then=Subquery(_open_revisions().values("state")[:1])),
                                          default=Value(None), output_field=CharField())))
    if tab == Tab.PUBLISHED:
        queryset = access.readable_advisories(user, queryset)
    elif tab == Tab.DRAFTS:
        queryset = access.visible_advisories(user, queryset).filter(
            Q(author_cert__group_id__in=groups)
            & (Q(status__in=(AdvisoryStatus.DRAFT, AdvisoryStatus.IN_REVIEW))
               | Exists(_open_revisions())))
    else:
        queryset = access.visible_advisories(user, queryset)
    search = search.strip()
    if search:
        queryset = queryset.filter(Q(reference__icontains=search) | Q(shown_title__icontains=search))
    page = _keyset(queryset, "sort_at", size=size, cursor=cursor)
    statuses = dict(AdvisoryStatus.choices)
    severities = dict(AdvisorySeverity.choices)
    page.rows = [ListRow(
        reference=advisory.reference, title=advisory.shown_title or "",
        severity=advisory.shown_severity, severity_label=severities.get(advisory.shown_severity, ""),
        tlp=advisory.shown_tlp or advisory.tlp, tlp_class=tlp_class(advisory.shown_tlp or advisory.tlp),
        status=advisory.status,
        status_label=statuses.get(advisory.status, advisory.status),
        open_state=advisory.open_state if advisory.is_published else None,
        author_cert=advisory.author_cert, at=advisory.sort_at, published=advisory.is_published)
        for advisory in page.rows]
    return page


# --- The review queue ----------------------------------------------------------------------------


def approver_groups(user) -> list[int]:
    """The groups of the user's CERTs in which their role may approve (access' rule table)."""
    return [group for group, role in access.member_group_roles(user).items()
            if role in AUTHOR_CERT_RULES[Action.APPROVE]]


def _in_review(user, groups: list[int]) -> QuerySet[AdvisoryRevision]:
    visible = access.visible_advisories(user, Advisory.objects.filter(pk=OuterRef("advisory_id")))
    return (AdvisoryRevision.objects
            .filter(state=RevisionState.IN_REVIEW, advisory__author_cert__group_id__in=groups)
            .filter(Exists(visible)))


@dataclass
class ReviewRow:
    revision: AdvisoryRevision
    advisory: Advisory
    may_approve: bool
    why_not: str = ""

    @property
    def tlp_class(self) -> str:
        return tlp_class(self.revision.tlp)


def review_queue(user, *, size: int, cursor: Cursor | None) -> Page:
    """The revisions in review of the CERTs where `user` may approve, newest submission first,
    each marked with whether they may approve it and, if not, why (four eyes). One query."""
    groups = approver_groups(user)
    if not groups:
        return Page([])
    queryset = (_in_review(user, groups)
                .select_related("advisory__author_cert", "advisory__current_revision", "author",
                                "last_edited_by")
                .annotate(waiting_since=Coalesce("submitted_at", "updated_at")))
    page = _keyset(queryset, "waiting_since", size=size, cursor=cursor)
    rows = []
    for revision in page.rows:
        advisory = revision.advisory
        allowed = access.allowed_actions(user, advisory, revision)
        row = ReviewRow(revision, advisory, Action.APPROVE in allowed)
        if not row.may_approve:
            if revision.author_id == user.pk:
                row.why_not = _("You wrote it: another head approves it.")
            elif revision.was_written_by(user):
                row.why_not = _("You edited it: another head approves it.")
            else:
                row.why_not = _("Your role does not allow approving it.")
        rows.append(row)
    page.rows = rows
    return page


# How many revisions in review the count reads at most: far above what waits in a real CERT.
REVIEW_SCAN_LIMIT = 500


def review_waiting_count(user) -> int:
    """How many revisions wait for `user`'s approval (counted up to REVIEW_COUNT_CAP + 1), in one
    query; none (and no query) for a member who approves nowhere."""
    groups = approver_groups(user)
    if not groups:
        return 0
    # Who edited a revision is a JSON list, which SQLite cannot search: the few revisions in
    # review (bounded) are read and the user's own left out here.
    waiting = (_in_review(user, groups).exclude(author_id=user.pk).order_by()
               .values_list("editor_ids", flat=True)[:REVIEW_SCAN_LIMIT])
    return min(sum(1 for editors in waiting if user.pk not in editors), REVIEW_COUNT_CAP + 1)


# --- One advisory --------------------------------------------------------------------------------

# The fields of a revision that the detail page compares, with the labels it says them by.
COMPARED_FIELDS = {
    "title": gettext_lazy("Title"),
    "summary": gettext_lazy("Summary"),
    "body_markdown": gettext_lazy("Body"),
    "severity": gettext_lazy("Severity"),
    "cvss_v3_vector": gettext_lazy("CVSS v3.1 vector"),
    "cvss_v4_vector": gettext_lazy("CVSS v4.0 vector"),
    "cve_ids": gettext_lazy("CVE IDs"),
    "cwe_id": gettext_lazy("CWE"),
    "cwe_name": gettext_lazy("CWE name"),
    "products": gettext_lazy("Affected products"),
    "remedies": gettext_lazy("Remedies"),
    "references": gettext_lazy("References"),
    "indicators": gettext_lazy("Indicators"),
    "sectors": gettext_lazy("Sectors"),
    "tlp": gettext_lazy("TLP"),
    "audience_ids": gettext_lazy("Audience CERTs"),
    "reader_ids": gettext_lazy("Named readers"),
}


def changed_fields(current: AdvisoryRevision, draft: AdvisoryRevision) -> list[str]:
    """The labels of the fields in which `draft` differs from `current` (sectors prefetched)."""
    changed = []
    for name, label in COMPARED_FIELDS.items():
        if name == "sectors":
            differs = ({sector.pk for sector in current.sectors.all()}
                       != {sector.pk for sector in draft.sectors.all()})
        else:
            differs = getattr(current, name) != getattr(draft, name)
        if differs:
            changed.append(str(label))
    return changed


@dataclass
class Readers:
    """Who receives a revision besides the author CERT (shown to the author CERT only)."""

    certs: list[Cert] = field(default_factory=list)
    people: list = field(default_factory=list)


def readers_of_revision(revision: AdvisoryRevision) -> Readers:
    User = get_user_model()
    certs = (list(Cert.objects.filter(pk__in=revision.audience_ids).order_by("path"))
             if revision.audience_ids else [])
    people = (list(User.objects.filter(pk__in=revision.reader_ids).order_by("username"))
              if revision.reader_ids else [])
    return Readers(certs, people)


@dataclass
class AdvisoryDetail:
    advisory: Advisory
    allowed: set[Action]
    current: AdvisoryRevision | None  # the published text, when the member may read it
    draft: AdvisoryRevision | None  # the open revision, for the author CERT
    history: list[AdvisoryRevision]
    changed: list[str]
    source_incident: dict | None
    current_readers: Readers | None
    draft_readers: Readers | None

    four_eyes_note: str = ""

    @property
    def sees_drafts(self) -> bool:
        return Action.SEE_DRAFTS in self.allowed

    @property
    def current_tlp_class(self) -> str:
        return tlp_class(self.current.tlp) if self.current else ""

    @property
    def draft_tlp_class(self) -> str:
        return tlp_class(self.draft.tlp) if self.draft else ""


def _four_eyes_note(user, advisory: Advisory, draft: AdvisoryRevision | None, allowed) -> str:
    """Why a head does not see "Approve" on a revision in review that they wrote or edited."""
    if draft is None or draft.state != RevisionState.IN_REVIEW or Action.APPROVE in allowed:
        return ""
    role = access.member_group_roles(user).get(advisory.author_cert.group_id)
    if role not in AUTHOR_CERT_RULES[Action.APPROVE]:
        return ""
    if draft.author_id == user.pk:
        return _("You wrote this revision: another head of the CERT approves it (four eyes).")
    if draft.was_written_by(user):
        return _("You edited this revision: another head of the CERT approves it (four eyes).")
    return ""


def _with_sectors(revision: AdvisoryRevision | None) -> AdvisoryRevision | None:
    if revision is None:
        return None
    return (AdvisoryRevision.objects.select_related("author", "last_edited_by", "approved_by")
            .prefetch_related("sectors").get(pk=revision.pk))


def advisory_detail(user, advisory: Advisory) -> AdvisoryDetail:
    """What the detail page shows `user` of `advisory` (which they may see: get_visible_advisory)."""
    from incidents.access import visible_incidents

    allowed = access.allowed_actions(user, advisory)
    draft = None
    if Action.SEE_DRAFTS in allowed:
        draft = access.open_revision(advisory)
        if draft is not None:
            allowed = access.allowed_actions(user, advisory, draft)
            draft = _with_sectors(draft)
    current = _with_sectors(advisory.current_revision) if Action.READ in allowed else None
    history = access.readable_revisions(user, advisory) if current is not None else []
    source = None
    if advisory.source_incident_id:
        source = (visible_incidents(user).filter(pk=advisory.source_incident_id)
                  .values("reference", "title", "tlp").first())
    sees_drafts = Action.SEE_DRAFTS in allowed
    return AdvisoryDetail(
        advisory=advisory, allowed=allowed, current=current, draft=draft, history=history,
        changed=changed_fields(current, draft) if current and draft else [],
        source_incident=source,
        current_readers=readers_of_revision(current) if sees_drafts and current else None,
        draft_readers=readers_of_revision(draft) if sees_drafts and draft else None,
        four_eyes_note=_four_eyes_note(user, advisory, draft, allowed))


def readable_revision(user, advisory: Advisory, number: int) -> AdvisoryRevision | None:
    """Published revision `number` of `advisory`, if `user` may read it."""
    found = next((revision for revision in access.readable_revisions(user, advisory)
                  if revision.number == number), None)
    return _with_sectors(found)
