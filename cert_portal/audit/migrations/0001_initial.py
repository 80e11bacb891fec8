# The audit trail's table, and on PostgreSQL the trigger that makes it append-only (issue 13).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# Whoever sends it (the application, a console, a compromised account): UPDATE and DELETE fail.
# TRUNCATE is a table owner's act, not a row change; deployments give the portal's database role
# no TRUNCATE on this table (SECURITY.md), and the test suite's flush between tests needs it.
APPEND_ONLY_SQL = """
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- No format placeholders: Django passes this text through psycopg, which reads them.
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
        MESSAGE = 'The audit trail is append-only: ' || TG_OP || ' on ' || TG_TABLE_NAME
                  || ' is refused.';
END
$$;
CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
"""

DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY_SQL)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('organizations', '0002_api_keys'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('kind', models.CharField(choices=[('sign_in', 'Signed in'), ('sign_in_failed', 'Sign-in failed'), ('sign_out', 'Signed out'), ('incident_viewed', 'Incident viewed'), ('advisory_viewed', 'Protected advisory viewed'), ('attachment_downloaded', 'Attachment downloaded'), ('incident_changed', 'Incident changed'), ('advisory_changed', 'Advisory changed'), ('registry_changed', 'Registry changed'), ('membership_changed', 'Membership changed'), ('permission_changed', 'Permissions changed'), ('api_key_changed', 'API key issued or revoked'), ('api_key_used', 'API key used'), ('webhook_changed', 'Webhook changed'), ('webhook_delivered', 'Webhook delivery'), ('audit_exported', 'Audit trail exported')], max_length=40)),
                ('channel', models.CharField(choices=[('dashboard', 'Dashboard'), ('public', 'Public site'), ('api', 'API'), ('task', 'Background task'), ('command', 'Command line')], max_length=20)),
                ('actor_label', models.CharField(blank=True, max_length=150)),
                ('client_address', models.GenericIPAddressField(blank=True, null=True)),
                ('object_type', models.CharField(blank=True, max_length=40)),
                ('object_id', models.CharField(blank=True, max_length=64)),
                ('object_label', models.CharField(blank=True, max_length=300)),
                ('detail', models.JSONField(blank=True, default=dict)),
                ('actor', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('api_key', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='organizations.apikey')),
                ('cert', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='organizations.cert')),
                ('object_cert', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='organizations.cert')),
            ],
            options={
                'ordering': ['-at', '-id'],
                'default_permissions': ('view',),
                'indexes': [models.Index(fields=['cert', '-at', '-id'], name='audit_cert_at'), models.Index(fields=['object_cert', 'kind', '-at', '-id'], name='audit_object_cert_at'), models.Index(fields=['object_type', 'object_id', '-at'], name='audit_object'), models.Index(fields=['-at', '-id'], name='audit_at')],
            },
        ),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
