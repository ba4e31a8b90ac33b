# ruff: noqa: N999, RUF012
# A migration, named and written as Django writes them.
from django.db import migrations


class Migration(migrations.Migration):
    """Unsafe: the code serving now still reads the column."""

    dependencies = [("releasing", "0001_initial")]

    operations = [migrations.RemoveField("item", "done")]
