"""The example's table. A site deployed before the example had an app of its own kept it as
core_todo (the app `core`, migrations 0001-0003): that table, its rows and its content type
(permissions, admin history) become the example's, renamed. A new site gets it created."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import todos.models

# The last migration of the table before the example had an app of its own.
BEFORE = ("core", "0003_attachment_index")


def adopted(schema_editor) -> bool:
    """Whether the site holds the table from before, as it was then."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if "core_todo" not in tables or "django_migrations" not in tables:
            return False
        cursor.execute("SELECT 1 FROM django_migrations WHERE app = %s AND name = %s", BEFORE)
        return cursor.fetchone() is not None


def create_or_adopt(apps, schema_editor):
    todo = apps.get_model("todos", "Todo")
    if not adopted(schema_editor):
        schema_editor.create_model(todo)
        return
    schema_editor.alter_db_table(todo, "core_todo", todo._meta.db_table)
    content_types = apps.get_model("contenttypes", "ContentType")
    content_types.objects.filter(app_label="core", model="todo").update(app_label="todos")


def drop_or_give_back(apps, schema_editor):
    """Back to the release before the example had an app of its own: its table as it was."""
    todo = apps.get_model("todos", "Todo")
    if not adopted_before(schema_editor):
        schema_editor.delete_model(todo)
        return
    schema_editor.alter_db_table(todo, todo._meta.db_table, "core_todo")
    content_types = apps.get_model("contenttypes", "ContentType")
    content_types.objects.filter(app_label="todos", model="todo").update(app_label="core")


def adopted_before(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM django_migrations WHERE app = %s AND name = %s", BEFORE)
        return cursor.fetchone() is not None


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Todo",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("title", models.CharField(max_length=200)),
                        ("description", models.TextField(blank=True)),
                        ("done", models.BooleanField(default=False)),
                        (
                            "attachment",
                            models.FileField(
                                blank=True, db_index=True, max_length=255, upload_to=todos.models.attachment_path
                            ),
                        ),
                        ("attachment_name", models.CharField(blank=True, editable=False, max_length=255)),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        ("updated", models.DateTimeField(auto_now=True)),
                        (
                            "owner",
                            models.ForeignKey(
                                blank=True,
                                editable=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"ordering": ["done", "-created"]},
                ),
            ],
        ),
        # Once the model is in the migration state: the table made, or the old one adopted.
        migrations.RunPython(create_or_adopt, drop_or_give_back),
    ]
