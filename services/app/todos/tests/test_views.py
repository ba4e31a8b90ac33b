from datetime import timedelta

import pytest
from django.utils import timezone

from todos import forms
from todos.models import Todo

pytestmark = pytest.mark.django_db


def stored_files(media_root):
    return [path for path in media_root.rglob("*") if path.is_file()]


def test_a_visitor_reads_the_todos_and_gets_the_login_form_instead_of_the_add_form(client):
    Todo.objects.create(title="Visible todo")
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Visible todo" in page
    assert 'action="/login/"' in page
    assert 'name="password"' in page
    assert 'name="title"' not in page


def test_an_anonymous_post_gets_403_and_stores_neither_row_nor_file(client, upload, media_root):
    response = client.post("/", {"title": "Sneaked in", "attachment": upload()})
    assert response.status_code == 403
    assert response.content == b"Log in to add todos.\n"
    assert not Todo.objects.exists()
    assert not stored_files(media_root)


def test_a_logged_in_user_adds_a_todo_with_its_attachment(user_client, user, upload, media_root):
    page = user_client.get("/").content.decode()
    assert 'name="title"' in page
    assert "Log out" in page
    response = user_client.post("/", {"title": "Posted", "attachment": upload("a.txt", b"abc")})
    assert response.status_code == 302
    todo = Todo.objects.get(title="Posted")
    assert todo.owner == user
    assert (media_root / todo.attachment.name).read_bytes() == b"abc"


def test_the_owner_gets_a_mail_when_an_attachment_is_added(user_client, user, upload, mailoutbox):
    user.email = "alice@example.com"
    user.save()
    user_client.post("/", {"title": "Plain"})
    assert mailoutbox == []
    user_client.post("/", {"title": "Report", "attachment": upload("q3.pdf", b"%PDF-1.4", "application/pdf")})
    [sent] = mailoutbox
    assert sent.to == ["alice@example.com"]
    assert sent.subject == "Attachment added to Report"
    assert "q3.pdf is attached" in sent.body


def test_an_over_long_title_gets_a_validation_message_and_stores_nothing(user_client):
    response = user_client.post("/", {"title": "x" * 201})
    assert response.status_code == 400
    assert "Ensure this value has at most 200 characters" in response.content.decode()
    assert not Todo.objects.exists()


def test_a_post_without_any_field_is_an_invalid_form_not_a_fresh_one(user_client):
    response = user_client.post("/", {})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Todo.objects.exists()


def test_the_upload_over_the_daily_cap_gets_429_and_keeps_nothing(monkeypatch, user_client, upload, media_root):
    monkeypatch.setattr(forms, "UPLOADS_PER_USER_PER_DAY", 2)
    for n in range(2):
        assert user_client.post("/", {"title": f"upload {n}", "attachment": upload()}).status_code == 302
    response = user_client.post("/", {"title": "one too many", "attachment": upload()})
    assert response.status_code == 429
    assert "You have uploaded 2 attachments in the last 24 hours, the limit. Try again later." in (
        response.content.decode()
    )
    assert not Todo.objects.filter(title="one too many").exists()
    assert len(stored_files(media_root)) == 2
    # Todos without a file are not uploads.
    assert user_client.post("/", {"title": "no file"}).status_code == 302


def test_the_cap_counts_each_users_uploads_of_the_last_24_hours_only(
    monkeypatch, client, user, django_user_model, upload
):
    monkeypatch.setattr(forms, "UPLOADS_PER_USER_PER_DAY", 1)
    old = Todo.objects.create(title="yesterday's", owner=user, attachment=upload())
    Todo.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=1, minutes=1))
    other = django_user_model.objects.create_user("bob", password="a-long-password-2")
    Todo.objects.create(title="bob's", owner=other, attachment=upload())
    client.force_login(user)
    assert client.post("/", {"title": "today's", "attachment": upload()}).status_code == 302


def test_the_login_page_logs_in_and_leads_back_to_the_list(client, user):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "a-long-password-1"})
    assert response.status_code == 302
    assert response.url == "/"
    assert "Log out" in client.get("/").content.decode()


def test_logging_out_leads_back_to_the_read_only_list(user_client):
    response = user_client.post("/logout/")
    assert response.status_code == 302
    assert response.url == "/"
    assert 'name="title"' not in user_client.get("/").content.decode()
