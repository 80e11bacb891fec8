"""Issue 8: the observable search reads the incidents of a value from the index alone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_list_order_and_due_indexes")]

    operations = [
        migrations.RemoveIndex(model_name="observable", name="observable_lookup"),
        migrations.AddIndex(
            model_name="observable",
            index=models.Index(fields=["type", "value", "incident"], name="observable_lookup"),
        ),
    ]
