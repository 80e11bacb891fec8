"""The queue, the dashboard's home page (issue 9, item 2): its tabs and filters, saved views and
bulk actions. Interfaces only: incidents.queue reads (through incidents.access), the services
write."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from cert_portal.staff import staff_page
from incidents.access import (
    ActionNotAllowed,
    get_visible_incident,
    get_visible_saved_view,
    may_delete_saved_view,
    visible_saved_views,
)
from incidents.queue import QueueQuery, Tab, cert_members, filter_choices, queue_for, tab_counts
from incidents.selectors import PAGE_SIZES
from incidents.services import (
    ConflictError,
    incident_acknowledge,
    incident_assign,
    record_dashboard_visit,
    saved_view_create,
    saved_view_delete,
)

# The most incidents one bulk action takes: a page at its largest.
BULK_MAX = max(PAGE_SIZES)


class SaveViewForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name of the view"), max_length=80)
    share = forms.BooleanField(label=gettext_lazy("Share with my CERT"), required=False)
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)


@staff_page
def queue(request):
    return _queue_page(request, request.GET)


def _queue_page(request, params: QueryDict, *, save_form: SaveViewForm | None = None,
                status: int = 200):
    """The queue as `params` asks for it; bad parameters are explained, never a failure."""
    staff, user = request.staff, request.user
    now = timezone.now()
    visit = record_dashboard_visit(user=user, at=now)
    owners, members, sectors = filter_choices(staff.cert)
    query = QueueQuery(params, owners=owners, members=members, sectors=sectors)
    context = {"nav": "queue", "query": query, "queue": None,
               "other_members": [member for member in members if member.pk != user.pk],
               "previous_visit": visit.previous_visit_at, "filters_open": bool(query.errors)}
    if query.is_valid():
        found = queue_for(user, staff.cert, query, now=now, previous_visit=visit.previous_visit_at)
        current = query.query_data(cursor=None)
        saved = urlencode(_saved_query(QueryDict(urlencode(current))))
        context.update(
            queue=found, tabs=found.tabs, empty_text=Tab.EMPTY[found.tab.name],
            filters_open=query.is_filtered(), is_filtered=query.is_filtered(),
            next_query=_with_cursor(current, found.next_cursor),
            previous_query=_with_cursor(current, found.previous_cursor),
            changed_query=(urlencode({"tab": Tab.ALL,
                                      "changed_since": visit.previous_visit_at.isoformat()})
                           if visit.previous_visit_at else ""),
            save_form=save_form or SaveViewForm(initial={"query": saved}),
            may_bulk=found.may_acknowledge or found.may_assign,
        )
    else:
        current_tab = params.get("tab") if params.get("tab") in Tab.LABELS else Tab.DEFAULT
        context["tabs"] = tab_counts(user, staff.cert, now=now, current=current_tab)
    query.describe_fields()
    # A tab link opens the tab afresh, at the page size the member chose.
    size = {"size": params["size"]} if query.cleaned_data.get("size") and params.get("size") else {}
    context["tab_links"] = [(tab, urlencode({"tab": tab.name, **size})) for tab in context["tabs"]]
    views = list(visible_saved_views(user).select_related("cert", "owner").order_by("name", "pk"))
    context["saved_views"] = [(view, may_delete_saved_view(user, view)) for view in views]
    return render(request, "dashboard/queue.html", context, status=status)


def _with_cursor(query: dict[str, str], cursor: str | None) -> str:
    return urlencode({**query, "cursor": cursor}) if cursor else ""


@require_POST
@staff_page
def saved_view_create_view(request):
    form = SaveViewForm(request.POST)
    query = QueryDict(request.POST.get("query", ""))
    if form.is_valid():
        try:
            saved = saved_view_create(actor=request.user, name=form.cleaned_data["name"],
                                      query=urlencode(_saved_query(query)),
                                      cert=request.staff.cert if form.cleaned_data["share"] else None)
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in ("name", "share") else None, problems)
        else:
            messages.success(request, _("Saved the view “%(name)s”.") % {"name": saved.name})
            return redirect(_queue_url(saved.query))
    return _queue_page(request, query, save_form=form, status=400)


@require_POST
@staff_page
def saved_view_delete_view(request, pk: int):
    saved = get_visible_saved_view(request.user, pk)
    saved_view_delete(actor=request.user, saved_view=saved)
    messages.success(request, _("Deleted the view “%(name)s”.") % {"name": saved.name})
    return redirect(_back(request))


@require_POST
@staff_page
def bulk(request):
    """Take one action on the selected incidents, each checked on its own as if it were taken
    on the incident's page, then go back to the queue with what happened."""
    back = _back(request)
    ids = request.POST.getlist("incident")
    action = request.POST.get("action", "")
    if not ids:
        messages.error(request, _("Select at least one incident, then choose the action."))
        return redirect(back)
    if len(ids) > BULK_MAX:
        messages.error(request, _("Select at most %(max)d incidents at a time.") % {"max": BULK_MAX})
        return redirect(back)
    assignee = None
    if action.startswith("assign:"):
        assignee = next((member for member in cert_members(request.staff.cert)
                         if str(member.pk) == action.removeprefix("assign:")), None)
        if assignee is None:
            messages.error(request, _("Choose a member of %(cert)s to assign the incidents to.")
                           % {"cert": request.staff.cert.short_name})
            return redirect(back)
    elif action != "acknowledge":
        messages.error(request, _("Choose what to do with the selected incidents."))
        return redirect(back)

    done, missing, problems = 0, 0, []
    for incident_id in dict.fromkeys(ids):
        try:
            incident = get_visible_incident(request.user, pk=int(incident_id))
        except (Http404, ValueError):
            missing += 1  # invisible and missing alike: nothing is said about it
            continue
        try:
            if assignee is None:
                incident_acknowledge(incident=incident, actor=request.user)
            else:
                incident_assign(incident=incident, actor=request.user, assignee=assignee)
        except ActionNotAllowed:
            problems.append(_("%(reference)s: you may not %(action)s it")
                            % {"reference": incident.reference,
                               "action": _("acknowledge") if assignee is None else _("assign")})
        except ValidationError as error:
            problems.append(f"{incident.reference}: {' '.join(error.messages)}")
        except ConflictError as error:
            problems.append(str(error))
        else:
            done += 1
    summary = [ngettext("%(count)d acknowledged", "%(count)d acknowledged", done) % {"count": done}
               if assignee is None else
               ngettext("%(count)d assigned to %(person)s", "%(count)d assigned to %(person)s",
                        done) % {"count": done, "person": assignee.get_username()}]
    if missing:
        summary.append(ngettext("%(count)d not found", "%(count)d not found", missing)
                       % {"count": missing})
    summary.extend(problems)
    level = messages.SUCCESS if not (missing or problems) else messages.WARNING
    messages.add_message(request, level, "; ".join(part.rstrip(".") for part in summary) + ".")
    return redirect(back)


def _saved_query(query: QueryDict) -> list[tuple[str, str]]:
    """The tab and filters of a queue query string: its known fields, without the page."""
    return [(name, value) for name, value in query.items()
            if name in QueueQuery.base_fields and name != "cursor" and value]


def _queue_url(query: str) -> str:
    return f"{reverse('dashboard:queue')}?{query}" if query else reverse("dashboard:queue")


def _back(request) -> str:
    """The queue page the form was sent from, or the queue."""
    target = request.POST.get("next", "")
    if target.startswith(reverse("dashboard:queue")) and url_has_allowed_host_and_scheme(
            target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("dashboard:queue")
