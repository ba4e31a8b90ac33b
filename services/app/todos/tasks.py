"""The example's background work (docs/background-work.md): the owner of a todo gets a mail when
its attachment is stored, sent by the worker, so the upload's page does not wait for it."""

from django.core.mail import send_mail
from django_tasks import task

from .models import Todo


@task()
def attachment_added(todo_id: int) -> None:
    todo = Todo.objects.select_related("owner").filter(id=todo_id).first()
    if todo is None or todo.owner is None or not todo.owner.email:
        return
    send_mail(
        f"Attachment added to {todo.title}",
        f"{todo.attachment_name} is attached to your todo {todo.title}.",
        None,
        [todo.owner.email],
    )
