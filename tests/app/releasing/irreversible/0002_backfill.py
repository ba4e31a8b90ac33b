# ruff: noqa: N999, RUF012
# A migration, named and written as Django writes them.
from django.db import migrations


def backfill(apps, schema_editor):
    Item = apps.get_model("releasing", "Item")
    Item.objects.update(title="backfilled")


class Migration(migrations.Migration):
    """A data migration without reverse_code: it cannot be reversed."""

    dependencies = [("releasing", "0001_initial")]

    operations = [migrations.RunPython(backfill)]
