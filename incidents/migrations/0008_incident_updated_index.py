"""Issue 9 (bench): the queue's "changed since your last visit" reads the incidents changed since
then from an index instead of scanning the table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_dashboard")]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["updated_at"], name="incident_updated"),
        ),
    ]
