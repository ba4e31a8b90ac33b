import re
from datetime import timedelta

import pytest
from django.utils import timezone

from todos.models import Todo

pytestmark = pytest.mark.django_db

STORED_NAME = re.compile(r"attachments/[0-9a-f]{32}\.txt")


def test_create_sets_defaults_and_timestamps():
    todo = Todo.objects.create(title="Write the tests")
    assert todo.done is False
    assert todo.description == ""
    assert not todo.attachment
    assert todo.attachment_name == ""
    assert todo.created is not None
    assert todo.updated >= todo.created


def test_str_is_the_title():
    assert str(Todo(title="Buy milk")) == "Buy milk"


def test_open_todos_come_first_then_newest_first():
    old = Todo.objects.create(title="old")
    Todo.objects.create(title="new")
    Todo.objects.create(title="finished", done=True)
    Todo.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=1))
    assert list(Todo.objects.values_list("title", flat=True)) == ["new", "old", "finished"]


def test_attachment_is_stored_under_media_root_with_a_random_name(media_root, upload):
    todo = Todo.objects.create(title="with file", attachment=upload("report.txt", b"data"))
    assert STORED_NAME.fullmatch(todo.attachment.name)
    assert "report" not in todo.attachment.name
    assert todo.attachment_name == "report.txt"
    stored = media_root / todo.attachment.name
    assert stored.read_bytes() == b"data"


def test_same_uploaded_name_never_collides(upload):
    first = Todo.objects.create(title="a", attachment=upload("same.txt", b"one"))
    second = Todo.objects.create(title="b", attachment=upload("same.txt", b"two"))
    assert first.attachment.name != second.attachment.name
    assert first.attachment.read() == b"one"
    assert second.attachment.read() == b"two"


def test_odd_extensions_are_dropped_from_the_stored_name(upload):
    todo = Todo.objects.create(title="odd", attachment=upload("x.t<x>t", b"1"))
    assert re.fullmatch(r"attachments/[0-9a-f]{32}", todo.attachment.name)
    assert todo.attachment_name == "x.t<x>t"
