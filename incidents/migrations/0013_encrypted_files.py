# Attachments and monthly report PDFs encrypted at rest (issue 13). Rows that exist are files
# stored in clear: False, until `manage.py rotate_attachment_keys` encrypts them.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0012_statistics_schedule"),
    ]

    operations = [
        migrations.AddField(
            model_name="attachment",
            name="encrypted",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="monthlyreport",
            name="pdf_encrypted",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
