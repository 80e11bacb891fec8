"""Staying informed (issue 9, item 5): watching an incident, remembering when a member last opened
it (the queue's unread marker reads that), reading in-app notices, and choosing which kinds of
notice also come by e-mail.

None of these changes an incident, so none writes a timeline event. What a watcher receives is
recorded by incidents.services.base.add_event (a WATCHED_ACTIVITY notice per event) and decided at
delivery by incidents.access.message_recipients: only while the watcher may view the incident.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.access import REPORTER_MESSAGES, Action, require
from incidents.models import (
    InboxItem,
    Incident,
    IncidentVisit,
    IncidentWatch,
    Notification,
    StaffPreferences,
)


def incident_watch(*, incident: Incident, actor) -> IncidentWatch:
    """Have `actor` watch `incident` (Http404 when they may not view it). Watching twice is one
    watch: the existing row is returned."""
    require(actor, incident, Action.VIEW)
    try:
        with transaction.atomic():
            watch, _created = IncidentWatch.objects.get_or_create(
                user=actor, incident=incident, defaults={"created_at": timezone.now()})
    except IntegrityError:
        # Created by a concurrent request a moment ago (get_or_create's race).
        watch = IncidentWatch.objects.get(user=actor, incident=incident)
    return watch


def incident_unwatch(*, incident: Incident, actor) -> bool:
    """Stop `actor` watching `incident` (Http404 when they may not view it); whether they were."""
    require(actor, incident, Action.VIEW)
    deleted, _by_model = IncidentWatch.objects.filter(user=actor, incident=incident).delete()
    return bool(deleted)


def is_watching(*, incident: Incident, user) -> bool:
    return IncidentWatch.objects.filter(user=user, incident=incident).exists()


def mark_incident_seen(*, incident: Incident, user, at: datetime | None = None) -> None:
    """Record that `user` opened `incident` at `at` (default now), in one upsert statement (the
    workspace calls it on every opening). The caller has already shown them the incident, so
    visibility is not asked again."""
    IncidentVisit.objects.bulk_create(
        [IncidentVisit(user=user, incident=incident, seen_at=at or timezone.now())],
        update_conflicts=True, unique_fields=["user", "incident"], update_fields=["seen_at"])


def inbox_mark_read(*, user, item_id) -> InboxItem:
    """Mark one of `user`'s notices read (once: the first reading time is kept) and return it.
    Http404 for a notice that is not theirs, or no notice at all."""
    try:
        item = InboxItem.objects.select_related("notification").get(pk=int(item_id), user=user)
    except (InboxItem.DoesNotExist, TypeError, ValueError):
        raise Http404("No notice matches the given query.") from None
    if item.read_at is None:
        now = timezone.now()
        if InboxItem.objects.filter(pk=item.pk, read_at__isnull=True).update(read_at=now):
            item.read_at = now
    return item


def inbox_mark_all_read(*, user) -> int:
    """Mark every unread notice of `user` read; how many there were."""
    return InboxItem.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def staff_notice_kinds() -> list[str]:
    """The kinds of notification staff receive (what a member may choose to get by e-mail): every
    kind but the messages to the public reporter."""
    return [kind for kind in Notification.Kind.values if kind not in REPORTER_MESSAGES]


def email_muted_kinds(user) -> set[str]:
    """The kinds `user` chose not to receive by e-mail (none chosen: every kind comes)."""
    muted = (StaffPreferences.objects.filter(user=user)
             .values_list("email_muted_kinds", flat=True).first())
    return set(muted or [])


def set_email_preferences(*, user, muted_kinds) -> StaffPreferences:
    """Record which kinds of notice `user` does not want by e-mail; they still see every notice
    in the dashboard. ValidationError (field "muted_kinds") for anything that is not a kind of
    staff notice, and nothing is saved then."""
    muted_kinds = list(muted_kinds)
    known = set(staff_notice_kinds())
    unknown = sorted({str(kind) for kind in muted_kinds} - known)
    if unknown:
        raise ValidationError({"muted_kinds": _(
            "These are not kinds of notice you can choose: %(kinds)s. Choose from the list.")
            % {"kinds": ", ".join(unknown)}})
    with transaction.atomic():
        preferences, _created = StaffPreferences.objects.update_or_create(
            user=user, defaults={"email_muted_kinds": sorted(set(muted_kinds))})
    return preferences
