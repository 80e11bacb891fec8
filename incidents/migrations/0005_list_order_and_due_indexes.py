"""Issue 8: the grant row carries its incident's report time, so a CERT's list page walks one index
and stops after the page; the SLA pass's indexes hold only what can still fall due."""

from django.db import migrations, models

FILL_REPORTED_AT = """
UPDATE incidents_incidentgroupobjectpermission
SET incident_reported_at = (SELECT reported_at FROM incidents_incident
                            WHERE incidents_incident.id = content_object_id)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("incidents", "0004_notification_retries_reporter_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="incidentgroupobjectpermission",
            name="incident_reported_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(FILL_REPORTED_AT, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="incidentgroupobjectpermission",
            name="incident_reported_at",
            field=models.DateTimeField(),
        ),
        migrations.AddIndex(
            model_name="incidentgroupobjectpermission",
            index=models.Index(fields=["group", "permission", "incident_reported_at",
                                       "content_object"], name="incident_grant_list_order"),
        ),
        migrations.RemoveIndex(model_name="incident", name="incident_ack_due"),
        migrations.RemoveIndex(model_name="incident", name="incident_resolve_due"),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(condition=models.Q(status="new"), fields=["ack_due_at"],
                               name="incident_ack_due"),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(condition=models.Q(status__in=["new", "acknowledged", "in_progress"],
                                                  resolution_missed_at__isnull=True),
                               fields=["resolve_due_at"], name="incident_resolve_due"),
        ),
    ]
