"""A member's visits to the dashboard, for "new since your last visit" (issue 9, item 5)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, F, Q, When

from incidents.models import StaffPreferences

# Away this long, and the next page opens a new visit: what changed after the end of the one
# before is "new since your last visit" for the whole of the new visit.
VISIT_GAP = timedelta(minutes=30)


def record_dashboard_visit(*, user, at: datetime) -> StaffPreferences:
    """Record that `user` is on the dashboard at `at` and return their preferences row.

    `last_visit_at` is the last time they were seen. When it is more than VISIT_GAP before `at`
    (or they never came), a new visit starts and `previous_visit_at` becomes that last time: the
    end of their previous visit, after which a change is new to them. Within a visit it stays put,
    so the "new" markers do not vanish as the member pages through the queue.

    One conditional UPDATE whose new values are computed from the row as it is when the update
    runs, so two pages opened at once cannot both start a visit (the second sees the first's
    `last_visit_at`); each statement is atomic on its own, so no transaction is needed. The row
    is made on the first visit ever.
    """
    new_visit = Q(last_visit_at__isnull=True) | Q(last_visit_at__lte=at - VISIT_GAP)
    changes = {"previous_visit_at": Case(When(new_visit, then=F("last_visit_at")),
                                         default=F("previous_visit_at")),
               "last_visit_at": at}
    if not StaffPreferences.objects.filter(user=user).update(**changes):
        preferences, created = StaffPreferences.objects.get_or_create(
            user=user, defaults={"last_visit_at": at})
        if created:
            return preferences
        StaffPreferences.objects.filter(user=user).update(**changes)  # made meanwhile
    return StaffPreferences.objects.get(user=user)
