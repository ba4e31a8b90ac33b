import pytest

from core.models import Todo

pytestmark = pytest.mark.django_db


def test_todo_list_shows_the_todos(client):
    Todo.objects.create(title="Visible todo")
    response = client.get("/")
    assert response.status_code == 200
    assert "Visible todo" in response.content.decode()


def test_posting_the_form_adds_a_todo_with_its_attachment(client, upload, media_root):
    response = client.post("/", {"title": "Posted", "attachment": upload("a.txt", b"abc")})
    assert response.status_code == 302
    todo = Todo.objects.get(title="Posted")
    assert (media_root / todo.attachment.name).read_bytes() == b"abc"


def test_an_over_long_title_gets_a_validation_message_and_stores_nothing(client):
    response = client.post("/", {"title": "x" * 201})
    assert response.status_code == 400
    assert "Ensure this value has at most 200 characters" in response.content.decode()
    assert not Todo.objects.exists()


def test_a_post_without_any_field_is_an_invalid_form_not_a_fresh_one(client):
    response = client.post("/", {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Todo.objects.exists()
