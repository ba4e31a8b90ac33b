from django.apps import AppConfig


class TodosConfig(AppConfig):
    """The example: a todo list with attachments. Remove it as docs/developing.md says."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "todos"
