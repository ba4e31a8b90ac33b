"""Every log line of a request carries that request: its id (the one the proxy gave it, also in the
proxy's line and in the answer's X-Request-ID), method, path and user. LOG_FORMAT=json makes each
line one JSON object (settings.LOGGING)."""

import contextvars
import logging

from django.core.signals import request_finished, request_started
from django.utils.functional import empty

# What the request being served is, in this thread: set when Django starts on it, cleared when
# its answer is sent, so lines logged before the middleware or after the view carry it too.
current: contextvars.ContextVar[dict | None] = contextvars.ContextVar("request", default=None)


def started(sender, environ, **kwargs):
    current.set(
        {
            "request_id": environ.get("HTTP_X_REQUEST_ID") or None,
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
        }
    )


def finished(sender, **kwargs):
    current.set(None)


request_started.connect(started, dispatch_uid="ops.logs.started")
request_finished.connect(finished, dispatch_uid="ops.logs.finished")


class RequestMiddleware:
    """Hands the request to the log lines, for the user's id once the request knows its user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (context := current.get()) is not None:
            context["request"] = request
        return self.get_response(request)


def user_id(request) -> int | str | None:
    """The logged-in user's id, if the request has looked its user up already: a log line never
    makes a query of its own."""
    user = getattr(request, "user", None)
    user = getattr(user, "_wrapped", user)
    if user is None or user is empty or not user.is_authenticated:
        return None
    return user.pk


class RequestContext(logging.Filter):
    """Puts the request's fields on each record, on lines logged while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (context := current.get()) is not None:
            record.request_id = context["request_id"]
            record.method = context["method"]
            record.path = context["path"]
            if (request := context.get("request")) is not None and (user := user_id(request)) is not None:
                record.user_id = user
        return True


class TaskArguments(logging.Filter):
    """Keeps a task's arguments (a mail's text, a password reset link) out of Procrastinate's
    lines: the job named by its task and id only."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = record.__dict__.pop("job", None)
        if isinstance(job, dict) and job.get("call_string"):
            task = (job.get("task_kwargs") or {}).get("task") or job.get("task_name")
            record.msg = record.getMessage().replace(job["call_string"], f"{task} (job {job.get('id')})")
            record.args = None
        return True


class RepeatedTaskOutcome(logging.Filter):
    """Drops Procrastinate's line at the end of a task ops.tasks ran (run): ops.tasks' own says it,
    with the request that enqueued the task; an error told twice would be two error reports."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = getattr(record, "job", None)
        outcome = str(getattr(record, "action", "")).startswith("job_")
        return not (outcome and isinstance(job, dict) and job.get("task_name") == "run")
