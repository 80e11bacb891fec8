"""The staff interface for incidents until the dashboard exists (issue 3, item 7).

Members see only the incidents their CERTs may see (incidents.access), and each change is one of
the action pages below, which offer only what the member's role allows and call the services.
Nothing edits owner, status or TLP directly. Superusers get no incident access of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from cert_portal.forms import add_service_errors
from incidents import forms as incident_forms
from incidents import services
from incidents.access import (
    Action,
    ActionNotAllowed,
    allowed_actions,
    may_use_staff_interface,
    visible_incidents,
)
from incidents.models import OPEN_STATUSES, Incident, Notification, RoutingRule, Status
from incidents.selectors import (
    DEFAULT_PAGE_SIZE,
    IncidentListQuery,
    incident_list_for_user,
    incident_page_lists,
)
from incidents.severity import Severity


@dataclass(frozen=True)
class StaffAction:
    label: str
    form: type
    needs: Action
    run: Callable[..., Any]


STAFF_ACTIONS: dict[str, StaffAction] = {
    "transition": StaffAction("Change status", incident_forms.TransitionForm, Action.TRANSITION,
                              lambda i, u, d: services.incident_transition(
                                  incident=i, actor=u, to_status=d["to_status"],
                                  reason=d["reason"])),
    "assign": StaffAction("Assign", incident_forms.AssignForm, Action.ASSIGN,
                          lambda i, u, d: services.incident_assign(incident=i, actor=u,
                                                                   assignee=d["assignee"])),
    "severity": StaffAction("Change severity", incident_forms.SeverityForm,
                            Action.CHANGE_SEVERITY,
                            lambda i, u, d: services.incident_change_severity(
                                incident=i, actor=u, severity=d["severity"], reason=d["reason"])),
    "tlp": StaffAction("Change TLP", incident_forms.TlpForm, Action.RAISE_TLP,
                       lambda i, u, d: services.incident_change_tlp(
                           incident=i, actor=u, tlp=d["tlp"], reason=d["reason"])),
    "escalate": StaffAction("Escalate", incident_forms.EscalateForm, Action.ESCALATE,
                            lambda i, u, d: services.incident_escalate(
                                incident=i, actor=u, to_cert=d["to_cert"], reason=d["reason"])),
    "refer": StaffAction("Refer", incident_forms.ReferForm, Action.REFER,
                         lambda i, u, d: services.incident_refer(
                             incident=i, actor=u, to_cert=d["to_cert"], reason=d["reason"])),
    "share": StaffAction("Share", incident_forms.ShareForm, Action.SHARE,
                         lambda i, u, d: services.incident_share(incident=i, actor=u,
                                                                 cert=d["cert"])),
    "comment": StaffAction("Comment", incident_forms.CommentForm, Action.COMMENT,
                           lambda i, u, d: services.incident_comment(
                               incident=i, actor=u, body=d["body"],
                               reporter_visible=d["reporter_visible"])),
    "observable": StaffAction("Add observable", incident_forms.ObservableForm,
                              Action.ADD_OBSERVABLE,
                              lambda i, u, d: services.incident_add_observable(
                                  incident=i, actor=u, type=d["type"], value=d["value"])),
    "attach": StaffAction("Attach a file", incident_forms.AttachmentForm, Action.ATTACH,
                          lambda i, u, d: services.incident_attach(incident=i, actor=u,
                                                                   uploaded_file=d["file"])),
}


# Changes of the incident row itself: made on a stale page, they are refused as conflicts.
# Comments, observables, files and shares only add, so they go through whatever changed meanwhile.
VERSIONED_ACTIONS = frozenset({"transition", "assign", "severity", "tlp", "escalate", "refer"})


# What the incident page shows of an incident's relations, loaded with the incident.
PAGE_RELATED = ("owner_cert", "assignee", "sector", "created_by")


@dataclass
class _IncidentMemo:
    """What one request has read of incidents: each once (issue 8, item 4)."""

    incidents: dict[str, Incident | None] = field(default_factory=dict)
    actions: dict[int, set[Action]] = field(default_factory=dict)


def list_controls(query: IncidentListQuery) -> list[dict[str, Any]]:
    """The list's filters as plain data for the template: name, label, help, errors and, for a
    choice, its options with the selected one marked."""
    data = query.data
    controls = []
    for name, form_field in query.fields.items():
        if name == "cursor":
            continue
        value = str(data.get(name, "") or "")
        control = {"name": name, "label": form_field.label or name.capitalize(), "value": value,
                   "help": form_field.help_text, "errors": query.errors.get(name, [])}
        if hasattr(form_field, "choices"):
            if name == "size" and not value:
                value = str(DEFAULT_PAGE_SIZE)
            control["options"] = [(str(option), label, str(option) == value)
                                  for option, label in form_field.choices]
        controls.append(control)
    return controls


STATUS_LABELS = dict(Status.choices)
SEVERITY_LABELS = dict(Severity.choices)


def list_rows(incidents: list[dict[str, Any]]) -> SafeString:
    """The list's table rows for its incidents (dicts of selectors.LIST_COLUMNS): times to the
    minute in the reader's time zone, what is overdue marked, every value escaped here (as on the
    incident page: template tags per cell cost more than the page's queries)."""
    now, zone = timezone.now(), timezone.get_current_timezone()
    change_url = reverse("admin:incidents_incident_change", args=[0]).replace("/0/", "/{}/")

    def minute(moment) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def due(moment, running: bool) -> str:
        if not running:
            return "<td>—</td>"
        late = ' <strong class="overdue">overdue</strong>' if moment <= now else ""
        return f"<td>{minute(moment)}{late}</td>"

    rows = []
    for incident in incidents:
        status = incident["status"]
        rows.append(
            f'<tr><th scope="row"><a href="{change_url.format(incident["pk"])}">'
            f'{escape(incident["reference"])}</a></th>'
            + _cell(incident["title"]) + _cell(STATUS_LABELS.get(status, status))
            + _cell(SEVERITY_LABELS.get(incident["severity"], incident["severity"]))
            + _cell(incident["tlp"]) + _cell(incident["owner_cert__short_name"])
            + _cell(incident["assignee__username"] or "—")
            + _cell(minute(incident["reported_at"]))
            + due(incident["ack_due_at"], status == Status.NEW)
            + due(incident["resolve_due_at"], status in OPEN_STATUSES) + "</tr>\n")
    return mark_safe("".join(rows))  # noqa: S308 - every value escaped above


def _cell(value) -> str:
    return f"<td>{escape(str(value))}</td>"


def _multiline_cell(value: str) -> str:
    lines = escape(value).replace("\r\n", "\n").replace("\r", "\n")
    return f"<td>{lines.replace(chr(10), '<br>')}</td>"


def page_table_rows(lists: dict[str, list[dict[str, Any]]]) -> dict[str, SafeString]:
    """The table rows of the incident page's timeline and comments, or "" for an empty list (the
    template then says so). Every value is escaped here (html.escape, as Django's escape) before
    the rows are marked safe: rendering 400 rows through template tags, or through format_html
    per row, took most of the page's time."""
    timeline = "".join(
        "<tr>" + _cell(event["when"]) + _cell(event["kind"]) + _cell(event["person"] or "-")
        + _cell(event["old_value"] or "-") + _cell(event["new_value"] or "-")
        + _multiline_cell(event["reason"] or "-") + "</tr>\n"
        for event in lists["timeline"])
    comments = "".join(
        "<tr>" + _cell(comment["when"]) + _cell(comment["person"] or "-")
        + _cell("Reporter-visible" if comment["reporter_visible"] else "Internal")
        + _multiline_cell(comment["body"]) + "</tr>\n"
        for comment in lists["comments"])
    return {"timeline_rows": mark_safe(timeline),  # noqa: S308 - every value escaped above
            "comment_rows": mark_safe(comments)}  # noqa: S308


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    readonly_fields = ["reference", "title", "description", "classification", "incident_type",
                       "severity", "tlp", "status", "owner_cert", "assignee", "source",
                       "reporter_name", "reporter_email", "reporter_phone",
                       "affected_organization", "sector", "region", "is_cii", "occurred_at",
                       "detected_at", "reported_at", "owner_since", "ack_due_at",
                       "resolve_due_at", "acknowledged_at", "resolved_at",
                       "resolution_missed_at", "version"]
    change_form_template = "admin/incidents/incident/change_form.html"

    # Access: members only, through incidents.access (the admin's login page asks too, before
    # anyone signed in: an anonymous visitor is no member).
    def _is_member(self, request) -> bool:
        return may_use_staff_interface(request.user)

    def has_module_permission(self, request):
        return self._is_member(request)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return self._is_member(request)
        return Action.VIEW in self._allowed_actions(request, obj)

    def has_add_permission(self, request):
        return self._is_member(request)

    def has_change_permission(self, request, obj=None):
        return False  # every change is an action page that calls a service

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return visible_incidents(request.user, super().get_queryset(request))

    def changelist_view(self, request, extra_context=None):
        """The incident list: a keyset page of what the member may see, with a capped count
        (incidents.selectors; issue 8). Django's changelist would count every visible incident
        twice and page by offset, which costs a national CERT seconds per page.

        The page is built for speed as much as the queries are: rows and filter controls are
        prepared here as plain text, since Django's widgets and date filter, rendered through
        templates per option and per cell, cost more than the queries of the page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        query = IncidentListQuery(request.GET)
        listing = incident_list_for_user(request.user, query) if query.is_valid() else None
        link_data = query.page_link_data() if query.is_bound else {}
        page = listing.page if listing else None
        context = {
            **self._list_page_context(request), "query": query, "listing": listing,
            "controls": list_controls(query), "rows": list_rows(page.incidents if page else []),
            "has_add_permission": self.has_add_permission(request),
            "filtered": any(name not in ("size", "cursor") for name in link_data),
            "first_query": urlencode(link_data),
            "older_query": (urlencode({**link_data, "cursor": page.older_cursor})
                            if page and page.older_cursor else None),
            "newer_query": (urlencode({**link_data, "cursor": page.newer_cursor})
                            if page and page.newer_cursor else None),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/incidents/incident/incident_list.html", context,
                                status=200 if listing is not None else 400)

    def _list_page_context(self, request) -> dict:
        """What the admin's base template needs, without `each_context`'s list of every app and
        model the user may open: only the sidebar shows it, and the list has no sidebar."""
        site = self.admin_site
        return {"site_title": site.site_title, "site_header": site.site_header,
                "site_url": site.site_url, "has_permission": True, "available_apps": [],
                "is_popup": False, "is_nav_sidebar_enabled": False, "title": "Incidents",
                "opts": self.model._meta}

    def get_object(self, request, object_id, from_field=None):
        # Missing and invisible incidents look alike: the admin answers both as missing. Read
        # once per request, with what the page shows of its relations: Django's change view
        # asks again after ours (issue 8, item 4).
        incidents = self._request_memo(request).incidents
        key = str(object_id)
        if key not in incidents:
            try:
                incident_id = int(object_id)
            except (ValueError, TypeError):
                incidents[key] = None
            else:
                incidents[key] = visible_incidents(
                    request.user, Incident.objects.select_related(*PAGE_RELATED),
                ).filter(pk=incident_id).first()
        return incidents[key]

    @staticmethod
    def _request_memo(request) -> _IncidentMemo:
        memo = getattr(request, "_incident_admin_memo", None)
        if memo is None:
            memo = request._incident_admin_memo = _IncidentMemo()
        return memo

    def _allowed_actions(self, request, incident: Incident) -> set[Action]:
        """`allowed_actions` for the member of this request, asked once per incident: the admin
        asks for the view permission several times while it builds one page."""
        actions = self._request_memo(request).actions
        if incident.pk not in actions:
            actions[incident.pk] = allowed_actions(request.user, incident)
        return actions[incident.pk]

    # Creation goes through incident_create.
    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = incident_forms.IncidentCreateForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                incident = services.incident_create(actor=request.user, **form.service_arguments())
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Opened {incident.reference}.")
                return redirect("admin:incidents_incident_change", incident.pk)
        return self._form_page(request, form, title="Open an incident", incident=None)

    def _visible_or_404(self, request, object_id) -> Incident:
        """The incident of a detail page, or the 404 of one that does not exist. Django's pages
        would redirect to the index for a missing object; a 404 says the same for missing and
        invisible and is what every other incident page answers (issue 7, finding 10)."""
        incident = self.get_object(request, object_id)
        if incident is None:
            raise Http404("No incident matches the given query.")
        return incident

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self._visible_or_404(request, object_id)
        allowed = self._allowed_actions(request, incident)
        staff_actions = [
            (slug, action.label) for slug, action in STAFF_ACTIONS.items()
            if action.needs in allowed or (slug == "tlp" and Action.LOWER_TLP in allowed)
        ]
        lists = incident_page_lists(incident)
        extra_context = {**(extra_context or {}), **lists, **page_table_rows(lists),
                         "staff_actions": staff_actions}
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def get_urls(self):
        return [
            path("<int:object_id>/act/<slug:action>/", self.admin_site.admin_view(self.action_view),
                 name="incidents_incident_action"),
            *super().get_urls(),
        ]

    def action_view(self, request, object_id: int, action: str):
        incident = self._visible_or_404(request, object_id)
        staff_action = STAFF_ACTIONS.get(action)
        if staff_action is None:
            raise PermissionDenied("Unknown action.")
        allowed = self._allowed_actions(request, incident)
        if staff_action.needs not in allowed and not (action == "tlp"
                                                      and Action.LOWER_TLP in allowed):
            raise PermissionDenied(f"Your role does not allow this: {staff_action.label}.")
        if (request.method == "POST" and action in VERSIONED_ACTIONS
                and request.POST.get("version") != str(incident.version)):
            # Checked before the form: its choices follow the incident as it is now, so a stale
            # form would otherwise fail with a confusing "not a valid choice".
            messages.error(request, str(services.ConflictError(incident)))
            return redirect("admin:incidents_incident_change", incident.pk)
        form = staff_action.form(request.POST or None, request.FILES or None, incident=incident,
                                 user=request.user)
        if request.method == "POST" and form.is_valid():
            incident.version = form.cleaned_data["version"]
            try:
                staff_action.run(incident, request.user, form.cleaned_data)
            except services.ConflictError as error:
                messages.error(request, str(error))
                return redirect("admin:incidents_incident_change", incident.pk)
            except ActionNotAllowed as error:
                form.add_error(None, str(error))
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"{staff_action.label}: done for {incident.reference}.")
                return redirect("admin:incidents_incident_change", incident.pk)
        return self._form_page(request, form, title=f"{staff_action.label}: {incident.reference}",
                               incident=incident)

    def _form_page(self, request, form, *, title, incident):
        context = {**self.admin_site.each_context(request), "title": title, "form": form,
                   "incident": incident, "opts": self.model._meta}
        return TemplateResponse(request, "admin/incidents/incident/action_form.html", context)








@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Where public reports go (DOMAIN.md §4): data an administrator edits."""

    list_display = ["priority", "name", "sector", "region", "public_body", "target_cert",
                    "is_active"]
    list_editable = ["is_active"]
    list_select_related = ["sector", "target_cert"]
    list_filter = ["is_active", "region", "sector"]
    ordering = ["priority", "pk"]


class DeliveryFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("retrying", "Failed, will be tried again"),
                ("failed", "Failed for good"), ("sent", "Sent")]

    def queryset(self, request, queryset):
        pending = queryset.filter(sent_at__isnull=True, failed_at__isnull=True)
        return {
            "pending": pending,
            "retrying": pending.filter(attempts__gt=0),
            "failed": queryset.filter(failed_at__isnull=False),
            "sent": queryset.filter(sent_at__isnull=False),
        }.get(self.value(), queryset)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The e-mail outbox, read-only, for administrators: what went to whom, what waits, and what
    failed for good with its last error (issue 7, finding 4). Incidents show by reference only:
    an administrator is no reader of incidents (DOMAIN.md §1), and the model permission, which
    CERT members do not have, guards the page."""

    list_display = ["key", "kind", "incident_reference", "cert", "created_at", "attempts",
                    "next_attempt_at", "sent_at", "failed_at", "last_error"]
    list_filter = [DeliveryFilter, "kind"]
    list_select_related = ["incident", "cert"]
    search_fields = ["key"]
    ordering = ["-created_at", "-pk"]
    # The outbox keeps every message ever sent: no second COUNT of all of it on every page.
    show_full_result_count = False
    fields = readonly_fields = ["key", "kind", "incident_reference", "cert", "user",
                                "created_at", "claimed_at", "attempts", "next_attempt_at",
                                "sent_at", "recipients", "failed_at", "last_error"]

    @admin.display(description="incident", ordering="incident__reference")
    def incident_reference(self, notification):
        return notification.incident.reference

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # written by the services, sent by the delivery task

    def has_delete_permission(self, request, obj=None):
        return False
