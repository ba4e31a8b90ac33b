# ruff: noqa: RUF012
# A migration, written as Django writes them.
from django.db import migrations, models


class Migration(migrations.Migration):
    """Every history's first migration: the table releasing_item."""

    initial = True

    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(primary_key=True)),
                ("title", models.CharField(max_length=100)),
                ("done", models.BooleanField(default=False)),
            ],
        ),
    ]
