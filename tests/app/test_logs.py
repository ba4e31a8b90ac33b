"""The app's log lines of a request carry its id (the proxy's X-Request-ID), and LOG_FORMAT=json
makes each one JSON object with the request's fields."""

import io
import json
import logging
from contextlib import contextmanager

import pytest
from django.conf import settings

from tests.app.test_settings import start

REQUEST_ID = "0123456789abcdef0123456789abcdef"


@contextmanager
def console(form: str):
    """What the app's console handler writes meanwhile, in the format FORM of the settings."""
    handler = logging.getLogger("django").handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    options = {k: v for k, v in settings.LOG_FORMATTERS[form].items() if k != "()"}
    factory = settings.LOG_FORMATTERS[form]["()"]
    module, _, name = factory.rpartition(".")
    formatter = getattr(__import__(module, fromlist=[name]), name)(**options)
    written = io.StringIO()
    old_stream, old_formatter = handler.setStream(written), handler.formatter
    handler.setFormatter(formatter)
    try:
        yield written
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)


def test_a_requests_line_ends_with_its_id_and_other_lines_with_none(client):
    with console("plain") as written:
        client.get("/no-such-page/", HTTP_X_REQUEST_ID=REQUEST_ID)
        logging.getLogger("django").warning("outside any request")
    lines = written.getvalue().splitlines()
    assert any("Not Found: /no-such-page/" in line and line.endswith(f"request_id={REQUEST_ID}") for line in lines)
    assert lines[-1].endswith("outside any request request_id=-")


@pytest.mark.django_db
def test_json_lines_carry_the_request_and_the_logged_in_user(client, django_user_model):
    # The admin looks its user up (a line never makes a query of its own to know it).
    user = django_user_model.objects.create_user("editor", password="a long enough password", is_staff=True)
    client.force_login(user)
    with console("json") as written:
        client.get("/admin/no-such-page/", HTTP_X_REQUEST_ID=REQUEST_ID)
    line = next(json.loads(line) for line in written.getvalue().splitlines() if "Not Found" in line)
    assert line["request_id"] == REQUEST_ID
    assert (line["level"], line["logger"], line["method"], line["path"]) == (
        "WARNING",
        "django.request",
        "GET",
        "/admin/no-such-page/",
    )
    assert line["user_id"] == user.pk
    assert "time" in line


def test_an_unknown_log_format_stops_start_up_with_one_line():
    result = start(SECRET_KEY="s" * 50, ALLOWED_HOSTS="example.com", LOG_FORMAT="xml")
    assert result.returncode == 1
    assert result.stderr.strip() == "Configuration error: LOG_FORMAT=xml is neither plain (the default) nor json."


def test_the_queues_lines_name_a_task_by_its_path_and_id_never_its_arguments():
    """Procrastinate's lines name a job by its call (arguments and all: a mail's text, a reset
    link); here by its task and id. Its line at the end of a task ops.tasks ran is dropped: ops.tasks
    logs its own."""
    job = {
        "id": 7,
        "task_name": "run",
        "task_kwargs": {"task": "blog.tasks.welcome", "args": ["ann@example.com"]},
        "call_string": "run[7](task='blog.tasks.welcome', args=['ann@example.com'])",
    }
    worker = logging.getLogger("procrastinate.worker")
    with console("json") as written:
        worker.warning("Waiting for job to finish: %s", job["call_string"], extra={"job": job, "action": "ending_job"})
        worker.error("Job %s ended with status: Error", job["call_string"], extra={"job": job, "action": "job_error"})
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["Waiting for job to finish: blog.tasks.welcome (job 7)"]
    assert "ann@example.com" not in written.getvalue()
