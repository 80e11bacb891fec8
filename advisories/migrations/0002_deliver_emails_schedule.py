"""Deliver pending advisory e-mails every minute (issue 10, point 6): the retries of failed sends
and anything a distribution task left behind. catch_up is off in settings: after downtime the
pass runs once and finds everything that fell due."""

from django.db import migrations

SCHEDULE_NAME = "advisories: deliver e-mails"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "advisories.tasks.deliver_pending_advisories", "schedule_type": "I",
                  "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("advisories", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
