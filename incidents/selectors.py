"""Reads of incidents that cross relations: the incident list a member pages through, and the
lists of one incident's page.

The list (the staff interface's now, the dashboard's and the API's later) is a keyset page of
`incidents.access.visible_incident_page`, narrowed by `IncidentListQuery`, with a count that stops
at `access.COUNT_CAP`. Visibility is decided only in incidents.access.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cert_portal.pagination import BadCursor, decode_cursor
from incidents.access import IncidentPage, visible_incident_page
from incidents.models import EventKind, Incident, Observable, Source, Status
from incidents.observables import ObservableType, extract
from incidents.severity import Severity
from incidents.tlp import Tlp

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]
# A reference as the services hand them out, e.g. PK-INC-2026-000123: words joined by hyphens,
# ending in a number. A CVE ID has that shape too and is searched as an observable.
REFERENCE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-\d{4,}$")


def _any(choices) -> list[tuple[str, str]]:
    return [("", _("Any")), *[(str(value), label) for value, label in choices]]


class IncidentListQuery(forms.Form):
    """What a member asks of the incident list: filters, a search, the page size and where the
    page starts. Every field is optional; a bad value is a form error that says what to fix."""

    status = forms.ChoiceField(label=_("Status"), choices=_any(Status.choices), required=False)
    severity = forms.TypedChoiceField(label=_("Severity"), choices=_any(Severity.choices), coerce=int,
                                      empty_value=None, required=False)
    tlp = forms.ChoiceField(label=_("TLP"), choices=_any(Tlp.choices), required=False)
    source = forms.ChoiceField(label=_("Source"), choices=_any(Source.choices), required=False)
    q = forms.CharField(label=_("Search"), max_length=200, required=False, strip=True,
                        help_text=_("A reference (PK-INC-2026-000123), an observable (an address, "
                                    "domain, URL, e-mail or hash: incidents that have it) or words "
                                    "of the title."))
    size = forms.TypedChoiceField(label=_("Rows per page"),
                                  choices=[(str(size), str(size)) for size in PAGE_SIZES],
                                  coerce=int, empty_value=DEFAULT_PAGE_SIZE, required=False)
    cursor = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def clean_size(self) -> int:
        return self.cleaned_data["size"] or DEFAULT_PAGE_SIZE

    def clean_cursor(self):
        value = self.cleaned_data["cursor"]
        if not value:
            return None
        try:
            return decode_cursor(value)
        except BadCursor as error:
            raise forms.ValidationError(str(error)) from None

    def filter_parts(self) -> tuple[Q, list[QuerySet]]:
        """What the filters and the search let through, in two parts: conditions on the incident,
        and querysets of ids of incidents (an observable search: the incidents that have it, read
        from the observables index alone). A form that adds filters extends this."""
        data = self.cleaned_data
        conditions = Q()
        for name in ("status", "tlp", "source"):
            if data.get(name):
                conditions &= Q(**{name: data[name]})
        if data.get("severity") is not None:
            conditions &= Q(severity=data["severity"])
        within: list[QuerySet] = []
        if data.get("q"):
            search = search_condition(data["q"])
            if isinstance(search, QuerySet):
                within.append(search)
            else:
                conditions &= search
        return conditions, within

    def filters(self) -> list[QuerySet]:
        """The filters as access.visible_incident_page's `within`: the incidents matching the
        fields, and the ids of `filter_parts`. Empty: no filter."""
        conditions, within = self.filter_parts()
        if conditions:
            within.append(Incident.objects.filter(conditions))
        return within

    def page_link_data(self) -> dict[str, str]:
        """The query string of this list without its cursor, for the links of other pages."""
        return {name: str(value) for name, value in self.data.items()
                if name != "cursor" and name in self.fields and value not in ("", None)}


def search_condition(text: str) -> Q | QuerySet:
    """What a search box query matches: a reference exactly; else the incidents with any
    observable the text contains (as the ids of those incidents, from the observables index);
    else words in the title."""
    upper = text.upper()
    if REFERENCE.match(upper) and not upper.startswith("CVE-"):
        return Q(reference=upper)
    observables = extract(text)
    if observables:
        having = Q()
        for type_, value in observables:
            having |= Q(type=type_, value=value)
        return Observable.objects.filter(having).values("incident_id")
    return Q(title__icontains=text)


# What a row of the list shows: the page loads these columns only, as plain values.
LIST_COLUMNS = ("reference", "title", "status", "severity", "tlp", "ack_due_at", "resolve_due_at",
                "owner_cert__short_name", "assignee__username")


@dataclass
class IncidentList:
    page: IncidentPage
    count: int
    count_is_capped: bool


def incident_list_for_user(user, query: IncidentListQuery) -> IncidentList:
    """The page `query` asks for of the incidents `user` may see, with their capped count. The
    query must be valid."""
    within = query.filters()
    page = visible_incident_page(user, size=query.cleaned_data["size"],
                                 cursor=query.cleaned_data["cursor"], within=within,
                                 values=LIST_COLUMNS, with_count=True)
    return IncidentList(page=page, count=page.count, count_is_capped=page.count_is_capped)


def incident_page_lists(incident: Incident) -> dict[str, list[dict[str, Any]]]:
    """The lists of the incident page, as rows ready to print: one query per list, its people
    and CERTs joined in, in a fixed order, times in the reader's time zone to the minute.

    The page renders them as plain tables. Django's inline formsets rendered a whole form per row
    and asked for each row's person on its own: with 200 comments, over 400 queries and most of a
    second (issue 8, item 4). Plain rows, not model instances, because building and formatting
    hundreds of instances was most of what remained."""
    lists = {
        "timeline": incident.events.order_by("at", "pk").values(
            "kind", "old_value", "new_value", "reason",
            when=F("at"), person=F("actor__username")),
        "comments": incident.comments.order_by("created_at", "pk").values(
            "body", "reporter_visible", when=F("created_at"), person=F("author__username")),
        "observables": incident.observables.order_by("type", "value", "pk").values(
            "type", "value", when=F("created_at"), person=F("added_by__username")),
        "attachments": incident.attachments.order_by("created_at", "pk").values(
            "pk", "original_name", "size", "content_type", "sha256",
            when=F("created_at"), person=F("uploaded_by__username")),
        "shares": incident.shares.order_by("created_at", "pk").values(
            cert_name=F("cert__name"), when=F("created_at"), person=F("shared_by__username")),
    }
    rows = {name: list(queryset) for name, queryset in lists.items()}
    zone = timezone.get_current_timezone()
    for row in itertools.chain.from_iterable(rows.values()):
        row["when"] = row["when"].astimezone(zone).strftime("%Y-%m-%d %H:%M")
    for rows_of, key, labels in ((rows["timeline"], "kind", dict(EventKind.choices)),
                                 (rows["observables"], "type", dict(ObservableType.choices))):
        for row in rows_of:
            row[key] = labels.get(row[key], row[key])
    return rows
