import pytest

from todos.models import Todo

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/admin/todos/todo/", "/admin/todos/todo/add/"])
def test_changelist_and_add_form_load_for_a_superuser(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 200


def test_changelist_searches_and_filters(admin_client):
    Todo.objects.create(title="alpha task")
    Todo.objects.create(title="beta task", done=True)
    page = admin_client.get("/admin/todos/todo/", {"q": "alpha"}).content.decode()
    assert "alpha task" in page
    assert "beta task" not in page
    page = admin_client.get("/admin/todos/todo/", {"done__exact": "1"}).content.decode()
    assert "beta task" in page
    assert "alpha task" not in page


def test_adding_a_todo_with_an_attachment_through_the_admin_stores_the_file(admin_client, media_root, upload):
    response = admin_client.post(
        "/admin/todos/todo/add/",
        {"title": "From the admin", "description": "", "attachment": upload("plan.txt", b"the plan")},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    todo = Todo.objects.get(title="From the admin")
    assert todo.attachment_name == "plan.txt"
    assert (media_root / todo.attachment.name).read_bytes() == b"the plan"


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get("/admin/todos/todo/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_todo_added_through_the_admin_belongs_to_the_admin(admin_client, admin_user):
    admin_client.post("/admin/todos/todo/add/", {"title": "Owned", "description": ""})
    assert Todo.objects.get(title="Owned").owner == admin_user
