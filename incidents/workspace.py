"""Reads of the incident workspace (issue 9, item 4): the incident with the counts of its tabs, the
rows of one tab, and its SLA clocks as a person reads them.

Visibility is decided in incidents.access only: the incident comes through `visible_incidents`,
and whatever the page shows of other incidents (related ones, observables seen elsewhere) is
restricted by it too, so that nothing here tells a member about an incident they may not see.
Each read is a fixed number of queries, whatever the number of rows (issue 9: the workspace costs
the same at 10 and 1,000 incidents, and with 5 or 200 timeline events).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.db.models import Count, Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cert_portal.pagination import Cursor, Direction, Position, encode_cursor
from incidents.access import COUNT_CAP, visible_incidents
from incidents.models import (
    Attachment,
    Comment,
    Incident,
    IncidentLink,
    IncidentTask,
    Observable,
    OwnershipPeriod,
    Status,
    TimelineEvent,
)

# The tabs of the workspace, in their order, with their labels.
TABS: dict[str, str] = {
    "timeline": gettext_lazy("Timeline"),
    "comments": gettext_lazy("Comments"),
    "observables": gettext_lazy("Observables"),
    "files": gettext_lazy("Files"),
    "tasks": gettext_lazy("Tasks"),
    "related": gettext_lazy("Related incidents"),
    "owners": gettext_lazy("Owners"),
}
DEFAULT_TAB = "timeline"

# "Seen in N other incidents you may see" stops counting here: a campaign's indicator may be in
# thousands of incidents, and past this a number tells a person no more (as access.COUNT_CAP).
SEEN_ELSEWHERE_CAP = COUNT_CAP


def _visible(user, incident_field: str) -> Exists:
    """The condition that the incident in `incident_field` of the outer rows is one `user` may
    see: a correlated EXISTS on its primary key (incidents.access decides), so that the database
    checks the rows at hand instead of listing everything the member may see."""
    return Exists(visible_incidents(user).filter(pk=OuterRef(incident_field)))


def _count_of(queryset: QuerySet, link: str = "incident") -> Coalesce:
    """A scalar subquery counting the rows of `queryset` that belong to the outer incident."""
    counted = (queryset.filter(**{link: OuterRef("pk")}).order_by().values(link)
               .annotate(total=Count("pk")).values("total"))
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def workspace_incident(user, reference: str) -> Incident:
    """The incident with this reference if `user` may see it, with its owner, assignee and the
    count of each tab (`tab_counts`), in one query; Http404 for missing and invisible alike."""
    related = (_count_of(IncidentLink.objects.filter(_visible(user, "related_id")))
               + _count_of(IncidentLink.objects.filter(_visible(user, "incident_id")),
                           link="related"))
    queryset = (Incident.objects.select_related("owner_cert", "assignee", "sector", "merged_into")
                .annotate(count_timeline=_count_of(TimelineEvent.objects.all()),
                          count_comments=_count_of(Comment.objects.all()),
                          count_observables=_count_of(Observable.objects.all()),
                          count_files=_count_of(Attachment.objects.all()),
                          count_tasks=_count_of(IncidentTask.objects.all()),
                          count_open_tasks=_count_of(IncidentTask.objects.filter(
                              done_at__isnull=True)),
                          count_related=related,
                          count_owners=_count_of(OwnershipPeriod.objects.all())))
    # Whether any advisory was drawn from it (issue 10): a subquery of this same query, so that
    # the page reads the advisories (DrawnAdvisories) only for an incident that has some.
    from advisories.models import Advisory

    queryset = queryset.annotate(has_advisories=Exists(Advisory.objects.filter(
        source_incident=OuterRef("pk"))))
    incident = visible_incidents(user, queryset).filter(reference=reference).first()
    if incident is None:
        raise Http404("No incident matches the given query.")
    incident.drawn_advisories = DrawnAdvisories(user, incident)
    return incident


class DrawnAdvisories:
    """The advisories drawn from an incident that `user` may see (advisories.access: those they
    may read and their own CERTs' drafts), read when the page shows them, in one query; and
    whether `user` may draw a new one from it (advisories.access: they work the incident and write
    advisories). The workspace passes the incident on, so the template reads these lazily."""

    def __init__(self, user, incident: Incident):
        self.user = user
        self.incident = incident
        # The member's actions on the incident, when the page has read them already.
        self.incident_actions = None

    @cached_property
    def rows(self) -> list:
        if not getattr(self.incident, "has_advisories", True):
            return []
        from advisories.access import visible_advisories
        from advisories.models import Advisory, AdvisoryRevision, RevisionState

        opened = AdvisoryRevision.objects.filter(advisory=OuterRef("pk")).exclude(
            state=RevisionState.PUBLISHED)
        queryset = (Advisory.objects.filter(source_incident=self.incident)
                    .select_related("author_cert", "current_revision")
                    .annotate(shown_title=Coalesce(F("current_revision__title"),
                                                   Subquery(opened.values("title")[:1])),
                              shown_tlp=Coalesce(F("current_revision__tlp"),
                                                 Subquery(opened.values("tlp")[:1]))))
        rows = list(visible_advisories(self.user, queryset).order_by("-created_at", "-pk")
                    [:ADVISORIES_SHOWN])
        for advisory in rows:
            advisory.shown_tlp = advisory.shown_tlp or advisory.tlp
            advisory.tlp_class = "tlp-" + advisory.shown_tlp.removeprefix("TLP:").lower().replace("+", "-")
        return rows

    @cached_property
    def may_draft(self) -> bool:
        from advisories import access

        return (access.may_author_somewhere(self.user)
                and access.may_draw_from_incident(self.user, self.incident,
                                                  incident_actions=self.incident_actions))


def tab_counts(incident: Incident) -> dict[str, int]:
    return {tab: getattr(incident, f"count_{tab}") for tab in TABS}


# The incident page lists at most this many advisories drawn from it, the latest first.
ADVISORIES_SHOWN = 50

# The timeline tab shows this many events at a time, the latest first read: a busy incident has
# hundreds, and rendering them all cost most of its page (bench/README.md, issue 9).
TIMELINE_PAGE_SIZE = 100


@dataclass
class TimelinePage:
    events: list[TimelineEvent]  # oldest first, as a timeline reads
    earlier_cursor: str | None  # the page of the events before these, if any
    is_latest: bool  # these end with the incident's latest event


def timeline(incident: Incident, *, before: Cursor | None = None,
             size: int = TIMELINE_PAGE_SIZE) -> TimelinePage:
    """The `size` events before `before` (a keyset position of (at, pk); None: the latest), in one
    query by the index (incident, at)."""
    rows = incident.events.select_related("actor")
    if before is not None:
        at, pk = before.position.at, before.position.pk
        rows = rows.filter(Q(at__lt=at) | Q(at=at, pk__lt=pk))
    found = list(rows.order_by("-at", "-pk")[:size + 1])
    more = len(found) > size
    found = found[:size]
    found.reverse()
    earlier = (encode_cursor(Direction.OLDER, Position(found[0].at, found[0].pk))
               if more and found else None)
    return TimelinePage(events=found, earlier_cursor=earlier, is_latest=before is None)


def comments(incident: Incident) -> list[Comment]:
    return list(incident.comments.select_related("author").order_by("created_at", "pk"))


def attachments(incident: Incident) -> list[Attachment]:
    return list(incident.attachments.select_related("uploaded_by").order_by("created_at", "pk"))


def tasks(incident: Incident) -> list[IncidentTask]:
    return list(incident.tasks.select_related("assignee", "done_by").order_by("created_at", "pk"))


def owners(incident: Incident) -> list[OwnershipPeriod]:
    return list(incident.ownerships.select_related("cert").order_by("started_at", "pk"))


@dataclass
class SeenObservable:
    observable: Observable
    # Other incidents the member may see that have the same observable, at most the cap.
    seen_elsewhere: int
    seen_elsewhere_capped: bool


def observables(user, incident: Incident) -> list[SeenObservable]:
    """The incident's observables, each with the number of other incidents `user` may see that
    have it too (DOMAIN.md §7), counted up to SEEN_ELSEWHERE_CAP + 1 each, in one query.

    The count reads the observables index (type, value, incident) and asks visibility of each
    incident found, stopping at the cap: what a campaign's indicator costs is bounded."""
    others = (Observable.objects
              .filter(_visible(user, "incident_id"), type=OuterRef(OuterRef("type")),
                      value=OuterRef(OuterRef("value")))
              .exclude(incident_id=incident.pk)
              .order_by().values("pk")[:SEEN_ELSEWHERE_CAP + 1])
    # COUNT as a plain function, not an aggregate: one count over the capped rows, no GROUP BY.
    counted = (Observable.objects.filter(pk__in=others).order_by()
               .annotate(total=Func(F("pk"), function="COUNT")).values("total"))
    rows = (incident.observables.select_related("added_by").order_by("type", "value", "pk")
            .annotate(seen_elsewhere=Coalesce(Subquery(counted, output_field=IntegerField()),
                                              Value(0))))
    return [SeenObservable(row, min(row.seen_elsewhere, SEEN_ELSEWHERE_CAP),
                           row.seen_elsewhere > SEEN_ELSEWHERE_CAP) for row in rows]


@dataclass
class RelatedIncident:
    incident: Incident
    relation: str  # "linked", "merged_here" (a duplicate merged into this one)


def related_incidents(user, incident: Incident) -> list[RelatedIncident]:
    """The incidents linked to this one and the duplicates merged into it, only those `user` may
    see (two queries)."""
    links = (IncidentLink.objects
             .filter(Q(incident=incident) & _visible(user, "related_id")
                     | Q(related=incident) & _visible(user, "incident_id"))
             .select_related("incident__owner_cert", "related__owner_cert")
             .order_by("created_at", "pk"))
    found = [RelatedIncident(link.related if link.incident_id == incident.pk else link.incident,
                             "linked") for link in links]
    duplicates = (visible_incidents(user, Incident.objects.select_related("owner_cert"))
                  .filter(merged_into=incident).order_by("reported_at", "pk"))
    found.extend(RelatedIncident(duplicate, "merged_here") for duplicate in duplicates)
    return found


def merged_into_visible(user, incident: Incident) -> Incident | None:
    """The incident this one was merged into, if `user` may see it (one query, only for a merged
    incident)."""
    if incident.merged_into_id is None:
        return None
    return visible_incidents(user).filter(pk=incident.merged_into_id).first()


# --- SLA clocks as a person reads them -------------------------------------------------------


# The three formats of a duration, translated when asked (in the reader's language).
def _days() -> str:
    return _("%(days)s d %(hours)s h")


def _hours() -> str:
    return _("%(hours)s h %(minutes)s min")


def _minutes() -> str:
    return _("%(minutes)s min")


def duration_text(seconds: float) -> str:
    """A duration to the minute, as the clocks print it: "2 d 3 h", "3 h 10 min", "45 min".
    static/js/dashboard.js counts down with the same rule."""
    minutes = max(1, math.floor(abs(seconds) / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _days() % {"days": days, "hours": hours}
    if hours:
        return _hours() % {"hours": hours, "minutes": minutes}
    return _minutes() % {"minutes": minutes}


@dataclass
class SlaClock:
    """One SLA clock: running (time left or overdue, counted down by the page's script) or
    stopped (met or missed, at `stopped_at`)."""

    name: str
    due: datetime
    running: bool
    overdue: bool
    text: str
    stopped_at: datetime | None = None

    @property
    def left_pattern(self) -> str:
        return _("%(time)s left") % {"time": "{time}"}

    @property
    def overdue_pattern(self) -> str:
        return _("overdue by %(time)s") % {"time": "{time}"}

    @property
    def formats(self) -> dict[str, str]:
        """The duration formats for the script, with {days}, {hours} and {minutes} to fill."""
        fill = {"days": "{days}", "hours": "{hours}", "minutes": "{minutes}"}
        return {"days": _days() % fill, "hours": _hours() % fill, "minutes": _minutes() % fill}


def _running(name: str, due: datetime, now: datetime) -> SlaClock:
    seconds = (due - now).total_seconds()
    if seconds > 0:
        return SlaClock(name, due, True, False, _("%(time)s left") % {"time": duration_text(seconds)})
    return SlaClock(name, due, True, True, _("overdue by %(time)s") % {"time": duration_text(seconds)})


def _stopped(name: str, due: datetime, at: datetime | None, met: str, missed: str) -> SlaClock:
    late = at is not None and at > due
    return SlaClock(name, due, False, late, missed if late else met, stopped_at=at)


def sla_clocks(incident: Incident, now: datetime | None = None) -> list[SlaClock]:
    """The acknowledgement clock (running until the incident is acknowledged) and the resolution
    clock (running while it is open)."""
    now = now or timezone.now()
    ack_name, resolve_name = _("Acknowledge"), _("Resolve")
    if incident.status == Status.NEW:
        ack = _running(ack_name, incident.ack_due_at, now)
    else:
        ack = _stopped(ack_name, incident.ack_due_at, incident.acknowledged_at,
                       _("acknowledged in time"), _("acknowledged late"))
        if incident.acknowledged_at is None:
            ack.text = _("not needed any more")
    if incident.is_open:
        resolve = _running(resolve_name, incident.resolve_due_at, now)
    else:
        resolve = _stopped(resolve_name, incident.resolve_due_at, incident.resolved_at,
                           _("closed in time"), _("closed late"))
    return [ack, resolve]


__all__ = ["ADVISORIES_SHOWN", "DEFAULT_TAB", "SEEN_ELSEWHERE_CAP", "TABS", "DrawnAdvisories",
           "RelatedIncident", "SeenObservable", "SlaClock", "attachments", "comments",
           "duration_text", "merged_into_visible", "observables", "owners", "related_incidents",
           "sla_clocks", "tab_counts", "tasks", "timeline", "workspace_incident"]
