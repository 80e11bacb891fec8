"""The queue, the dashboard's home page (issue 9, item 2): its tabs, filters and rows.

Each tab is a list scope (incidents.access.ListScope) for the active CERT C and the member U:
the tabs of C's own work read C's incidents (access.owned_incidents, after access checked that U
belongs to C), the others what U may see (the grant walk). The filters narrow the scope; access
pages it by keyset and counts every tab, capped, in one statement. Visibility is decided only in
incidents.access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import OuterRef, Q, Subquery
from django.db.models.lookups import IsNull
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cert_portal.pagination import BadCursor
from incidents import taxonomy
from incidents.access import (
    Action,
    ListOrder,
    ListScope,
    actions_for_list,
    count_incident_lists,
    incident_list_page,
)
from incidents.models import (
    OPEN_STATUSES,
    IncidentShare,
    IncidentVisit,
    OwnershipPeriod,
    Status,
    overdue_condition,
)
from incidents.selectors import IncidentListQuery
from incidents.severity import Severity
from incidents.workspace import SlaClock, duration_text
from organizations.models import Cert, Membership, Sector
from organizations.rules import Region


def _any(choices) -> list[tuple[str, str]]:
    return [("", _("Any")), *[(str(value), label) for value, label in choices]]


class Tab:
    """The queue's tabs, in the order they are shown."""

    MINE = "mine"
    NEW = "new"
    OVERDUE = "overdue"
    RECEIVED = "received"
    OVERSIGHT = "oversight"
    SHARED = "shared"
    HANDED_OVER = "handed_over"
    ALL = "all"

    LABELS = {
        MINE: gettext_lazy("Mine"),
        NEW: gettext_lazy("New and unassigned"),
        OVERDUE: gettext_lazy("Overdue"),
        RECEIVED: gettext_lazy("Escalated or referred to us"),
        OVERSIGHT: gettext_lazy("Oversight"),
        SHARED: gettext_lazy("Shared with us"),
        HANDED_OVER: gettext_lazy("We handed over"),
        ALL: gettext_lazy("All"),
    }
    # What an empty tab says, with a hint of where to look instead.
    EMPTY = {
        MINE: gettext_lazy("Nothing is assigned to you. Take one from “New and unassigned”."),
        NEW: gettext_lazy("Every new incident of your CERT has someone on it."),
        OVERDUE: gettext_lazy("No open incident of your CERT has missed a deadline."),
        RECEIVED: gettext_lazy("No other CERT has escalated or referred an open incident to yours."),
        OVERSIGHT: gettext_lazy("No open incident of the CERTs below yours that you may see."),
        SHARED: gettext_lazy("No other CERT has shared an incident with yours."),
        HANDED_OVER: gettext_lazy("Your CERT has not escalated or referred an incident that "
                                  "another CERT now owns."),
        ALL: gettext_lazy("No incident you may see yet."),
    }
    # Tabs of the active CERT's own incidents: they may be sorted by the running deadline.
    OWN = (MINE, NEW, OVERDUE, RECEIVED)
    DEFAULT = MINE

    @classmethod
    def choices(cls) -> list[tuple[str, Any]]:
        return list(cls.LABELS.items())



def tab_scope(tab: str, *, user, cert: Cert, now: datetime) -> ListScope:
    """The incidents of `tab` for `user` working as `cert`, before any filter."""
    is_open = Q(status__in=OPEN_STATUSES)
    if tab == Tab.MINE:
        return ListScope(owner=cert, where=is_open & Q(assignee_id=user.pk))
    if tab == Tab.NEW:
        return ListScope(owner=cert, where=Q(status=Status.NEW, assignee__isnull=True))
    if tab == Tab.OVERDUE:
        return ListScope(owner=cert, where=overdue_condition(now))
    if tab == Tab.RECEIVED:
        # An earlier owner other than this CERT: it came from elsewhere, up or down the tree.
        # A scalar subquery, looked up per open incident of the CERT by the index (incident): as
        # EXISTS the database hashed every ended period of every other CERT, the whole history.
        earlier = OwnershipPeriod.objects.filter(incident=OuterRef("pk"), ended_at__isnull=False
                                                 ).exclude(cert_id=cert.pk).order_by().values("pk")[:1]
        return ListScope(owner=cert, where=is_open & Q(IsNull(Subquery(earlier), False)))
    if tab == Tab.OVERSIGHT:
        below = Cert.objects.filter(path__startswith=cert.path).exclude(pk=cert.pk).values("pk")
        return ListScope(where=is_open & Q(owner_cert_id__in=below), few=True)
    if tab == Tab.SHARED:
        return ListScope(within=[IncidentShare.objects.filter(cert_id=cert.pk).values("incident_id")],
                         few=True)
    if tab == Tab.HANDED_OVER:
        # The owner is tested on the incident, after the periods' incidents are made distinct.
        return ListScope(where=~Q(owner_cert_id=cert.pk), few=True,
                         within=[OwnershipPeriod.objects.filter(cert_id=cert.pk, ended_at__isnull=False)
                                 .values("incident_id")])
    if tab == Tab.ALL:
        return ListScope()
    raise ValueError(f"Unknown tab {tab!r}.")


def _narrowed(scope: ListScope, where: Q, within: list) -> ListScope:
    return ListScope(owner=scope.owner, where=scope.where & where,
                     within=[*(scope.within or []), *within], few=scope.few)


SORT_LABELS = {
    ListOrder.NEWEST: gettext_lazy("Newest first"),
    ListOrder.OLDEST: gettext_lazy("Oldest first"),
    ListOrder.DEADLINE: gettext_lazy("Deadline soonest"),
}


# Dates a filter may name: beyond them, a time zone's offset or the day after leaves the calendar.
FIRST_YEAR, LAST_YEAR = 1900, 9998


def _within_years(value) -> bool:
    return FIRST_YEAR <= value.year <= LAST_YEAR


class QueueQuery(IncidentListQuery):
    """The queue's question: the tab, IncidentListQuery's filters and search, and the queue's own
    filters. Every field is optional; a bad value is a form error that says what to fix."""

    tab = forms.ChoiceField(label=gettext_lazy("Tab"), choices=Tab.choices, required=False,
                            widget=forms.HiddenInput)
    classification = forms.ChoiceField(label=gettext_lazy("Classification"), required=False,
                                       choices=lambda: _any(taxonomy.classifications()))
    owner = forms.TypedChoiceField(label=gettext_lazy("Owner CERT"), coerce=int,
                                   empty_value=None, required=False)
    assignee = forms.ChoiceField(label=gettext_lazy("Assignee"), required=False)
    sector = forms.TypedChoiceField(label=gettext_lazy("Sector"), coerce=int, empty_value=None,
                                    required=False)
    region = forms.ChoiceField(label=gettext_lazy("Region"), choices=_any(Region.choices),
                               required=False)
    overdue = forms.BooleanField(label=gettext_lazy("Overdue only"), required=False)
    reported_from = forms.DateField(label=gettext_lazy("Reported from"), required=False,
                                    widget=forms.DateInput(attrs={"type": "date"}),
                                    help_text=gettext_lazy("A date, e.g. 2026-03-01."))
    reported_to = forms.DateField(label=gettext_lazy("Reported to"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text=gettext_lazy("A date, e.g. 2026-03-31 (included)."))
    changed_since = forms.DateTimeField(label=gettext_lazy("Changed since"), required=False,
                                        widget=forms.HiddenInput)
    sort = forms.ChoiceField(label=gettext_lazy("Sort"), required=False,
                             choices=[(str(order), label) for order, label in SORT_LABELS.items()])

    UNASSIGNED = "none"
    field_order = ["q", "status", "severity", "classification", "tlp", "owner", "assignee",
                   "sector", "region", "source", "overdue", "reported_from", "reported_to", "sort",
                   "size"]

    def __init__(self, data, *, owners: list[Cert], members: list, sectors: list):
        super().__init__(data)
        self.fields["owner"].choices = _any((cert.pk, cert.short_name) for cert in owners)
        self.fields["assignee"].choices = [("", _("Anyone")), (self.UNASSIGNED, _("Nobody")),
                                           *[(str(user.pk), user.get_username()) for user in members]]
        self.fields["sector"].choices = _any((sector.pk, sector.name) for sector in sectors)

    def clean_tab(self) -> str:
        return self.cleaned_data["tab"] or Tab.DEFAULT

    def clean_sort(self) -> ListOrder:
        return ListOrder(self.cleaned_data["sort"] or ListOrder.NEWEST)

    def clean_cursor(self):
        cursor = super().clean_cursor()
        # A made-up position the database cannot compare with (a year 1 time, an id past 64 bits)
        # is a damaged link like any other, not a failure.
        if cursor is not None and not (_within_years(cursor.position.at)
                                       and cursor.position.pk < 2 ** 63):
            raise forms.ValidationError(str(BadCursor()))
        return cursor

    def _clean_moment(self, name: str):
        value = self.cleaned_data[name]
        if value is not None and not _within_years(value):
            raise forms.ValidationError(_("Choose a date between %(first)d and %(last)d.")
                                        % {"first": FIRST_YEAR, "last": LAST_YEAR})
        return value

    def clean_reported_from(self):
        return self._clean_moment("reported_from")

    def clean_reported_to(self):
        return self._clean_moment("reported_to")

    def clean_changed_since(self):
        return self._clean_moment("changed_since")

    def clean(self):
        data = super().clean()
        start, end = data.get("reported_from"), data.get("reported_to")
        if start and end and start > end:
            self.add_error("reported_to", _("The end of the date range is before its start: "
                                            "choose a date on or after %(start)s.")
                           % {"start": start.isoformat()})
        if data.get("sort") is ListOrder.DEADLINE and data.get("tab") not in Tab.OWN:
            self.add_error("sort", _("Deadline order is only for the tabs of your CERT's own "
                                     "incidents (%(tabs)s): choose another order.")
                           % {"tabs": ", ".join(str(Tab.LABELS[tab]) for tab in Tab.OWN)})
        return data

    def filter_parts(self) -> tuple[Q, list]:
        conditions, within = super().filter_parts()
        data = self.cleaned_data
        if data.get("classification"):
            conditions &= Q(classification=data["classification"])
        if data.get("owner") is not None:
            conditions &= Q(owner_cert_id=data["owner"])
        if data.get("assignee") == self.UNASSIGNED:
            conditions &= Q(assignee__isnull=True)
        elif data.get("assignee"):
            conditions &= Q(assignee_id=int(data["assignee"]))
        if data.get("sector") is not None:
            conditions &= Q(sector_id=data["sector"])
        if data.get("region"):
            conditions &= Q(region=data["region"])
        if data.get("overdue"):
            conditions &= overdue_condition(timezone.now())
        zone = timezone.get_current_timezone()
        if data.get("reported_from"):
            conditions &= Q(reported_at__gte=datetime.combine(data["reported_from"], time.min,
                                                              tzinfo=zone))
        if data.get("reported_to"):
            day_after = data["reported_to"] + timedelta(days=1)
            conditions &= Q(reported_at__lt=datetime.combine(day_after, time.min, tzinfo=zone))
        if data.get("changed_since"):
            conditions &= Q(updated_at__gt=data["changed_since"])
        return conditions, within

    def describe_fields(self) -> None:
        """Tie each visible field's help and errors to it (aria-describedby), after validation."""
        for bound in self.visible_fields():
            described = [f"{bound.auto_id}-error"] if bound.errors else []
            if bound.help_text:
                described.append(f"{bound.auto_id}-help")
            if described:
                bound.field.widget.attrs["aria-describedby"] = " ".join(described)
            if bound.errors:
                bound.field.widget.attrs["aria-invalid"] = "true"

    def is_filtered(self) -> bool:
        """Whether anything narrows the tab (the tab, sort, size and page do not)."""
        return any(self.cleaned_data.get(name) not in (None, "", False)
                   for name in self.fields if name not in ("tab", "sort", "size", "cursor"))

    def query_data(self, **changes) -> dict[str, str]:
        """The query string of this queue without its page, with `changes` (None removes)."""
        data = {name: value for name, value in self.page_link_data().items()}
        for name, value in changes.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = str(value)
        return data


def cert_members(cert: Cert) -> list:
    """The active members of `cert`, by name: whom the queue filters by and assigns to."""
    return [membership.user for membership in Membership.objects.filter(
        cert=cert, user__is_active=True).select_related("user").order_by("user__username")]


def filter_choices(cert: Cert) -> tuple[list[Cert], list, list[Sector]]:
    """What the filters offer (three queries): owner CERTs (`cert` and those below it),
    assignees (its active members) and sectors."""
    owners = list(Cert.objects.filter(path__startswith=cert.path).order_by("path"))
    return owners, cert_members(cert), list(Sector.objects.order_by("name"))


def tab_counts(user, cert: Cert, *, now: datetime, current: str) -> list[QueueTab]:
    """Every tab with its capped count, in one statement."""
    counts = count_incident_lists(user, {tab: tab_scope(tab, user=user, cert=cert, now=now)
                                         for tab in Tab.LABELS})
    return [QueueTab(tab, str(label), *counts[tab], is_current=tab == current)
            for tab, label in Tab.choices()]


# What a row shows: the page loads these columns only, as plain values.
QUEUE_COLUMNS = ("reference", "title", "status", "severity", "tlp", "classification",
                 "ack_due_at", "resolve_due_at", "updated_at", "owner_cert__short_name",
                 "owner_cert__name", "assignee__username")


def sla_clocks(row: dict, now: datetime) -> list[SlaClock]:
    """The clocks that run, as the incident workspace shows them (and its script counts them
    down): acknowledgement until acknowledged, resolution while open."""
    running = []
    if row["status"] == Status.NEW:
        running.append((_("Acknowledge"), row["ack_due_at"]))
    if row["status"] in OPEN_STATUSES:
        running.append((_("Resolve"), row["resolve_due_at"]))
    clocks = []
    for name, due in running:
        seconds = (due - now).total_seconds()
        text = (_("%(time)s left") if seconds > 0 else _("overdue by %(time)s")) % {
            "time": duration_text(seconds)}
        clocks.append(SlaClock(name, due, running=True, overdue=seconds <= 0, text=text))
    return clocks


TLP_CLASSES = {"TLP:CLEAR": "clear", "TLP:GREEN": "green", "TLP:AMBER": "amber",
               "TLP:AMBER+STRICT": "amber-strict", "TLP:RED": "red"}


@dataclass
class QueueRow:
    """One incident of the queue, ready to print."""

    pk: int
    reference: str
    title: str
    status: str
    status_label: str
    severity: int
    severity_label: str
    tlp: str
    tlp_class: str
    classification: str
    owner: str
    owner_name: str
    assignee: str
    reported_at: datetime
    age: str
    clocks: list[SlaClock]
    is_overdue: bool
    is_unread: bool
    is_new: bool
    actions: set = field(default_factory=set)


def capped_text(count: int, is_capped: bool) -> str:
    """A capped count as printed: "1,000+" past the cap."""
    shown = number_format(count, force_grouping=True)
    return f"{shown}+" if is_capped else shown


@dataclass
class QueueTab:
    name: str
    label: str
    count: int
    count_is_capped: bool
    is_current: bool

    @property
    def count_text(self) -> str:
        return capped_text(self.count, self.count_is_capped)


@dataclass
class Queue:
    tabs: list[QueueTab]
    tab: QueueTab
    rows: list[QueueRow]
    count: int
    count_is_capped: bool
    next_cursor: str | None
    previous_cursor: str | None
    changed_count: int
    changed_count_is_capped: bool
    may_acknowledge: bool
    may_assign: bool

    @property
    def count_text(self) -> str:
        return capped_text(self.count, self.count_is_capped)

    @property
    def changed_text(self) -> str:
        return capped_text(self.changed_count, self.changed_count_is_capped)


def queue_for(user, cert: Cert, query: QueueQuery, *, now: datetime,
              previous_visit: datetime | None) -> Queue:
    """The queue page `query` (valid) asks for: the page of its tab, every tab's capped count,
    how many incidents changed since `previous_visit`, and per row its markers and the actions
    the member may take. A constant number of queries whatever the number of incidents."""
    data = query.cleaned_data
    scopes = {tab: tab_scope(tab, user=user, cert=cert, now=now) for tab, _label in Tab.choices()}
    current = scopes[data["tab"]]
    counted_scopes = dict(scopes)
    if query.is_filtered():
        current = counted_scopes["list"] = _narrowed(current, *query.filter_parts())
    if previous_visit is not None:
        counted_scopes["changed"] = ListScope(where=Q(updated_at__gt=previous_visit))
    counts = count_incident_lists(user, counted_scopes)
    counts.setdefault("list", counts[data["tab"]])
    page = incident_list_page(user, current, size=data["size"], cursor=data["cursor"],
                              values=QUEUE_COLUMNS, order=data["sort"])
    rows = _rows(user, page.incidents, now=now, previous_visit=previous_visit)
    tabs = [QueueTab(tab, str(label), *counts[tab], is_current=tab == data["tab"])
            for tab, label in Tab.choices()]
    changed = counts.get("changed", (0, False))
    return Queue(
        tabs=tabs, tab=next(tab for tab in tabs if tab.is_current), rows=rows,
        count=counts["list"][0], count_is_capped=counts["list"][1],
        next_cursor=page.older_cursor, previous_cursor=page.newer_cursor,
        changed_count=changed[0], changed_count_is_capped=changed[1],
        may_acknowledge=any(Action.TRANSITION in row.actions and row.status == Status.NEW
                            for row in rows),
        may_assign=any(Action.ASSIGN in row.actions for row in rows),
    )


def _rows(user, incidents: list[dict], *, now: datetime,
          previous_visit: datetime | None) -> list[QueueRow]:
    """The page's rows with their markers (one query for what the member last saw) and the
    member's actions on each (one query)."""
    seen = dict(IncidentVisit.objects.filter(user_id=user.pk,
                                             incident_id__in=[row["pk"] for row in incidents])
                .values_list("incident_id", "seen_at")) if incidents else {}
    labels = dict(taxonomy.classifications())
    statuses = dict(Status.choices)
    severities = dict(Severity.choices)
    rows = []
    for row in incidents:
        clocks = sla_clocks(row, now)
        seen_at = seen.get(row["pk"])
        rows.append(QueueRow(
            pk=row["pk"], reference=row["reference"], title=row["title"], status=row["status"],
            status_label=statuses.get(row["status"], row["status"]), severity=row["severity"],
            severity_label=severities.get(row["severity"], str(row["severity"])), tlp=row["tlp"],
            tlp_class=TLP_CLASSES.get(row["tlp"], "red"),
            classification=labels.get(row["classification"], row["classification"]),
            owner=row["owner_cert__short_name"], owner_name=row["owner_cert__name"],
            assignee=row["assignee__username"] or "", reported_at=row["reported_at"],
            age=duration_text((now - row["reported_at"]).total_seconds()), clocks=clocks,
            is_overdue=any(clock.overdue for clock in clocks),
            is_unread=seen_at is None or row["updated_at"] > seen_at,
            is_new=previous_visit is not None and row["updated_at"] > previous_visit,
        ))
    actions = actions_for_list(user, rows)
    for row in rows:
        row.actions = actions[row.pk]
    return rows
