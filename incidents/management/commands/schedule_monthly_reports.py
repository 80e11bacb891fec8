"""Create or update the django-q2 schedule of the monthly reports (issue 12): the first of each
month at 02:00 local time, last month's report of every CERT. `make run` calls it; running it
again changes nothing but the schedule's next run, if that was in the past."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

from incidents.statistics.reports import add_months, first_of_month

SCHEDULE_NAME = "incidents: monthly reports"
TASK = "incidents.tasks.monthly_reports"
RUN_AT = datetime.time(2, 0)


def next_first_of_month(now: datetime.datetime) -> datetime.datetime:
    """The next 02:00 on a first of the month, local time, after `now`."""
    today = timezone.localdate(now)
    candidate = timezone.make_aware(datetime.datetime.combine(first_of_month(today), RUN_AT))
    if candidate <= now:
        candidate = timezone.make_aware(
            datetime.datetime.combine(add_months(first_of_month(today), 1), RUN_AT))
    return candidate


class Command(BaseCommand):
    help = "Schedule the monthly reports (the first of each month, 02:00 local time)."

    def handle(self, *args, **options):
        now = timezone.now()
        schedule = Schedule.objects.filter(name=SCHEDULE_NAME).first()
        if schedule is None:
            Schedule.objects.create(name=SCHEDULE_NAME, func=TASK, schedule_type=Schedule.MONTHLY,
                                    repeats=-1, next_run=next_first_of_month(now))
            self.stdout.write(f"Scheduled {TASK} monthly.")
            return
        changed = []
        if schedule.func != TASK or schedule.schedule_type != Schedule.MONTHLY or schedule.repeats != -1:
            schedule.func, schedule.schedule_type, schedule.repeats = TASK, Schedule.MONTHLY, -1
            changed += ["func", "schedule_type", "repeats"]
        if schedule.next_run is None or schedule.next_run <= now:
            schedule.next_run = next_first_of_month(now)
            changed.append("next_run")
        if changed:
            schedule.save(update_fields=changed)
        self.stdout.write(f"The monthly reports are scheduled; next run {schedule.next_run:%Y-%m-%d %H:%M}.")
