"""Webhooks (issue 11, point 8): endpoints, their deliveries, and a schedule that delivers what
is due every minute (first attempts a delivery task left behind, and the retries)."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


SCHEDULE_NAME = "incidents: deliver webhooks"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "incidents.webhooks.deliver_due", "schedule_type": "I", "minutes": 1,
                  "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('advisories', '0003_revision_editors'),
        ('incidents', '0009_ownership_ended_by_cert'),
        ('organizations', '0002_api_keys'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('url', models.URLField(max_length=500)),
                ('events', models.JSONField(default=list, help_text='Values of WebhookEvent.')),
                ('secret', models.CharField(editable=False, max_length=100)),
                ('is_active', models.BooleanField(default=True)),
                ('created_at', models.DateTimeField()),
                ('cert', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_endpoints', to='organizations.cert')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['cert', 'created_at', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.UUIDField(default=uuid.uuid4, editable=False)),
                ('event', models.CharField(choices=[('incident.created', 'Incident created'), ('incident.received', 'Incident escalated or referred to us'), ('incident.status_changed', 'Incident status changed'), ('incident.commented', 'Incident commented'), ('advisory.published', 'Advisory published')], max_length=40)),
                ('data', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField()),
                ('claimed_at', models.DateTimeField(blank=True, null=True)),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                ('failed_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('attempt_log', models.JSONField(blank=True, default=list)),
                ('advisory', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='advisories.advisory')),
                ('incident', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='incidents.incident')),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='incidents.webhookendpoint')),
            ],
            options={
                'ordering': ['-created_at', '-pk'],
                'indexes': [models.Index(condition=models.Q(('delivered_at__isnull', True), ('failed_at__isnull', True)), fields=['next_attempt_at'], name='webhook_delivery_pending'), models.Index(fields=['endpoint', 'created_at', 'id'], name='webhook_delivery_list')],
                'constraints': [models.UniqueConstraint(fields=('endpoint', 'event_id'), name='webhook_delivery_once')],
            },
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
