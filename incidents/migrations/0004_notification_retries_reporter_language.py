"""Issue 7: the outbox retries a failed notification a bounded number of times and then marks it
failed; new kinds of notification; the language the reporter used. Delivery also runs every
minute, so that a notification whose next attempt is due is picked up without a new change (the
task itself never raises: the outbox, not django-q2's task retry, owns the retry schedule)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

SCHEDULE_NAME = "incidents: deliver notifications"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "incidents.tasks.deliver_notifications", "schedule_type": "I",
                  "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0003_public_reports'),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        ('organizations', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='incident',
            name='reporter_language',
            field=models.CharField(blank=True, editable=False, max_length=10),
        ),
        migrations.AddField(
            model_name='notification',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='notification',
            name='failed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='notification',
            name='last_error',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='notification',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='notification',
            name='cert',
            field=models.ForeignKey(blank=True, help_text='Only members of this CERT receive it.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='organizations.cert'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='kind',
            field=models.CharField(choices=[('escalated', 'Escalated to your CERT'), ('referred', 'Referred to your CERT'), ('assigned', 'Assigned to you'), ('resolution_missed', 'Resolution deadline missed'), ('resolution_missed_oversight', 'Resolution deadline missed below your CERT'), ('ack_missed_root', 'Acknowledgement deadline missed at the root'), ('new_report', 'New report from the public'), ('reporter_follow_up', 'The reporter added information'), ('report_confirmation', 'Report received'), ('reporter_reply', 'New message for the reporter')], max_length=30),
        ),
        # Who receives a notification is decided at delivery by incidents.access from its kind;
        # roles chosen by the writer would be a second, drifting copy of that rule.
        migrations.RemoveField(
            model_name='notification',
            name='roles',
        ),
        migrations.AlterField(
            model_name='notification',
            name='user',
            field=models.ForeignKey(blank=True, help_text='The person it is about (e.g. the new assignee).', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(condition=models.Q(('failed_at__isnull', True), ('sent_at__isnull', True)), fields=['next_attempt_at'], name='notification_pending'),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
