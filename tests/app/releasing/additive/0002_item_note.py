# ruff: noqa: N999, RUF012
# A migration, named and written as Django writes them.
from django.db import migrations, models


class Migration(migrations.Migration):
    """Safe: a nullable column, which the code serving now does not know and does not miss."""

    dependencies = [("releasing", "0001_initial")]

    operations = [migrations.AddField("item", "note", models.TextField(null=True))]
