"""Schedule the statistics refresh every 10 minutes (issue 12): the figures on the pages say when
they were computed, so they are at most about ten minutes old. Like the SLA pass (0002), the
schedule is data the deployment needs, made once by `migrate`."""

from django.db import migrations

SCHEDULE_NAME = "incidents: statistics refresh"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "incidents.statistics.refresh.refresh_task", "schedule_type": "I",
                  "minutes": 10, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0011_statistics"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
