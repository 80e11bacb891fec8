"""Staying informed (issue 9, item 5): the member's in-app notices and their e-mail choices.

Interfaces only: the notices are read by incidents.notifications.inbox_page (which asks
incidents.access what the member may still see) and changed by the services of
incidents.services.watching.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from cert_portal.pagination import BadCursor, decode_cursor
from cert_portal.staff import staff_page
from incidents.access import visible_incidents
from incidents.models import Incident, Notification
from incidents.notifications import inbox_page
from incidents.services import (
    email_muted_kinds,
    inbox_mark_all_read,
    inbox_mark_read,
    set_email_preferences,
    staff_notice_kinds,
)

PAGE_SIZE = 25

Kind = Notification.Kind

# What each kind of staff notice is, in the member's language, and when it comes (the settings
# page's help text).
KIND_LABELS = {
    Kind.ESCALATED: gettext_lazy("Escalated to your CERT"),
    Kind.REFERRED: gettext_lazy("Referred to your CERT"),
    Kind.ASSIGNED: gettext_lazy("Assigned to you"),
    Kind.RESOLUTION_MISSED: gettext_lazy("Resolution deadline missed"),
    Kind.RESOLUTION_MISSED_OVERSIGHT: gettext_lazy("Resolution deadline missed below your CERT"),
    Kind.ACK_MISSED_AT_ROOT: gettext_lazy("Acknowledgement deadline missed at the national CERT"),
    Kind.NEW_REPORT: gettext_lazy("New report from the public"),
    Kind.REPORTER_FOLLOW_UP: gettext_lazy("The reporter added information"),
    Kind.WATCHED_ACTIVITY: gettext_lazy("Activity on an incident you watch"),
}
KIND_HELP = {
    Kind.ESCALATED: gettext_lazy("A CERT below yours handed an incident up to your CERT. Sent to "
                                 "heads and handlers."),
    Kind.REFERRED: gettext_lazy("A CERT above yours handed an incident down to your CERT. Sent to "
                                "heads and handlers."),
    Kind.ASSIGNED: gettext_lazy("Someone made you the person working an incident."),
    Kind.RESOLUTION_MISSED: gettext_lazy("An incident of your CERT was not resolved in time. Sent "
                                         "to heads (handlers when there is no head) and the "
                                         "assignee."),
    Kind.RESOLUTION_MISSED_OVERSIGHT: gettext_lazy("An incident of a CERT below yours that you "
                                                   "may see was not resolved in time."),
    Kind.ACK_MISSED_AT_ROOT: gettext_lazy("Nobody acknowledged an incident at the national CERT "
                                          "in time, and there is no CERT above to escalate to. "
                                          "Sent to the national duty handlers."),
    Kind.NEW_REPORT: gettext_lazy("Someone reported an incident on the public form and it was "
                                  "routed to your CERT."),
    Kind.REPORTER_FOLLOW_UP: gettext_lazy("The person who reported an incident added a message "
                                          "or a file."),
    Kind.WATCHED_ACTIVITY: gettext_lazy("Someone else changed, commented on or added to an "
                                        "incident you watch."),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind) or Kind(kind).label)


def tlp_class(tlp: str) -> str:
    """"TLP:AMBER+STRICT" -> "tlp-amber-strict" (the classes of dashboard.css)."""
    return "tlp-" + tlp.removeprefix("TLP:").lower().replace("+", "-")


def _describe(event) -> str:
    change = " → ".join(value for value in (event.old_value, event.new_value) if value)
    what = event.get_kind_display() + (f": {change}" if change else "")
    if event.actor is None:
        return _("%(what)s, by the system") % {"what": what}
    who = event.actor.get_full_name() or event.actor.get_username()
    return _("%(what)s, by %(who)s") % {"what": what, "who": who}


@staff_page
def inbox(request):
    """The member's notices, newest first, a page at a time."""
    cursor, bad_cursor = None, ""
    if request.GET.get("cursor"):
        try:
            cursor = decode_cursor(request.GET["cursor"])
        except BadCursor as error:
            bad_cursor = str(error)
    page = inbox_page(request.user, size=PAGE_SIZE, cursor=cursor)
    rows = [{
        "notice": notice,
        "label": kind_label(notice.kind),
        "what": _describe(notice.event) if notice.event is not None else "",
        "tlp_class": tlp_class(notice.incident.tlp) if notice.incident is not None else "",
    } for notice in page.notices]
    context = {"nav": "inbox", "rows": rows, "page": page, "bad_cursor": bad_cursor,
               "is_first_page": cursor is None}
    return render(request, "dashboard/inbox.html", context, status=400 if bad_cursor else 200)


@require_http_methods(["GET", "HEAD"])
@staff_page
def inbox_open(request, item_id: int):
    """Mark the notice read and go to its incident (back to the notices when the member may no
    longer see the incident). Another member's notice answers 404."""
    item = inbox_mark_read(user=request.user, item_id=item_id)
    reference = (visible_incidents(request.user, Incident.objects.filter(
        pk=item.notification.incident_id)).values_list("reference", flat=True).first())
    if reference is None:
        messages.info(request, _("You can no longer see the incident of that notice."))
        return redirect("dashboard:inbox")
    return redirect("dashboard:incident", reference=reference)


@require_POST
@staff_page
def inbox_read_all(request):
    count = inbox_mark_all_read(user=request.user)
    messages.success(request, _("All notices are marked as read.") if count
                     else _("There were no unread notices."))
    return redirect("dashboard:inbox")


@require_http_methods(["GET", "HEAD", "POST"])
@staff_page
def preferences(request):
    """Which kinds of notice also reach the member by e-mail (all of them by default)."""
    kinds = staff_notice_kinds()
    errors: list[str] = []
    if request.method == "POST":
        wanted = request.POST.getlist("email_kinds")
        unknown = sorted(set(wanted) - set(kinds))
        if unknown:
            errors.append(_("These are not kinds of notice you can choose: %(kinds)s. Choose "
                            "from the list.") % {"kinds": ", ".join(unknown)})
        else:
            try:
                set_email_preferences(user=request.user,
                                      muted_kinds=[kind for kind in kinds if kind not in wanted])
            except ValidationError as error:
                errors.extend(error.message_dict.get("muted_kinds", error.messages))
            else:
                messages.success(request, _("Your e-mail choices are saved."))
                return redirect("dashboard:preferences")
        chosen = set(wanted) & set(kinds)
    else:
        chosen = set(kinds) - email_muted_kinds(request.user)
    options = [{"kind": kind, "label": kind_label(kind), "help": KIND_HELP.get(kind, ""),
                "checked": kind in chosen} for kind in kinds]
    context = {"nav": "preferences", "options": options, "errors": errors,
               "has_email": bool(request.user.email)}
    return render(request, "dashboard/preferences.html", context, status=400 if errors else 200)
