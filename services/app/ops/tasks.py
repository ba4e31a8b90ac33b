"""Background tasks: Django's task API (django.tasks in Django 6, the django-tasks backport on
5.2), run by Procrastinate's worker on the site's own PostgreSQL (docs/background-work.md).

A task is written and enqueued as Django documents it (`@task()`, `f.enqueue(...)`). The TASKS
backend, QueueBackend, puts each call in Procrastinate's queue as a job of `run`, which calls the
task in the worker (`manage.py worker`). Procrastinate does the hard parts: a new job wakes a
worker at once (LISTEN/NOTIFY); a failed one is retried with backoff; a worker that stops sending
its heartbeat (killed, its host lost) has its jobs run again (`retry_stalled`); each cron tick
defers a scheduled task once, whatever the number of workers.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskContext, TaskResult, TaskResultStatus, task
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.exceptions import TaskResultDoesNotExist
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

from ops import logs

logger = logging.getLogger(__name__)

# Procrastinate's job states that are not waiting; a waiting one is READY.
STATUSES = {
    "doing": TaskResultStatus.RUNNING,
    "succeeded": TaskResultStatus.SUCCESSFUL,
    "failed": TaskResultStatus.FAILED,
    "cancelled": TaskResultStatus.FAILED,
    "aborted": TaskResultStatus.FAILED,
}


@app.task(
    name="run",
    pass_context=True,
    # Waits of TASK_RETRY_WAIT, its square, its cube... seconds between the tries.
    retry=RetryStrategy(max_attempts=settings.TASK_RETRIES, exponential_wait=settings.TASK_RETRY_WAIT),
)
def run(context, task: str, args: list, kwargs: dict, request_id: str | None = None):
    """Call the Django task named `task` in the worker. Its lines carry the id of the request that
    enqueued it."""
    token = logs.current.set({"request_id": request_id, "method": None, "path": None} if request_id else None)
    job = context.job
    started = time.monotonic()
    logger.info("Task %s (job %s) started, try %s", task, job.id, job.attempts + 1)
    # As around a request: a connection the database dropped is not reused.
    close_old_connections()
    try:
        django_task = import_string(task)
        if django_task.takes_context:
            result = django_task.get_backend().get_result(str(job.id))
            value = django_task.call(TaskContext(task_result=result), *args, **kwargs)
        else:
            value = django_task.call(*args, **kwargs)
    except Exception as error:
        retried = job.attempts < settings.TASK_RETRIES
        # The last try's failure is an error, with its traceback: an error report when SENTRY_DSN
        # is set, with the id of the request that enqueued the task.
        (logger.warning if retried else logger.error)(
            "Task %s (job %s) failed, try %s: %s: %s; %s",
            task,
            job.id,
            job.attempts + 1,
            type(error).__name__,
            error,
            "it is tried again later" if retried else "no try left: kept as failed",
            exc_info=not retried,
        )
        raise
    else:
        logger.info("Task %s (job %s) succeeded in %.3f s", task, job.id, time.monotonic() - started)
        return value
    finally:
        close_old_connections()
        logs.current.reset(token)


@app.task(name="run_scheduled")
def run_scheduled(timestamp: int, task: str):
    """A scheduled task's tick: enqueued as any task, so it is retried as any task."""
    import_string(task).enqueue()


def schedule(cron: str, django_task) -> None:
    """Enqueue `django_task` on each tick of `cron` ("0 7 * * *": every day at 07:00 UTC), once
    per tick across every worker. Called at import of an app's tasks.py, after the task."""
    app.periodic(cron=cron, periodic_id=django_task.module_path, task_kwargs={"task": django_task.module_path})(
        run_scheduled
    )


# Every 15 seconds (cron's sixth field).
@app.periodic(cron="* * * * * */15")
@app.task(name="retry_stalled", queueing_lock="retry_stalled", pass_context=True)
async def retry_stalled(context, timestamp: int):
    """Run again the jobs of workers whose heartbeat stopped (killed, or their host lost)."""
    for job in await context.app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.TASK_STALLED_AFTER):
        logger.warning(
            "Task %s (job %s) was running on a worker that stopped: it runs again.", job.task_kwargs.get("task"), job.id
        )
        await context.app.job_manager.retry_job(job)


@app.periodic(cron="17 * * * *")
@app.task(name="prune", queueing_lock="prune", pass_context=True)
async def prune(context, timestamp: int):
    """Forget finished tasks: successful ones after TASK_KEEP_DAYS, failed ones after three times that."""
    hours = int(settings.TASK_KEEP_DAYS * 24)
    await context.app.job_manager.delete_old_jobs(nb_hours=hours)
    await context.app.job_manager.delete_old_jobs(nb_hours=3 * hours, include_failed=True, include_cancelled=True)


class QueueBackend(BaseTaskBackend):
    """django.tasks' backend over Procrastinate's queue."""

    supports_defer = True
    supports_priority = True
    supports_get_result = True
    supports_async_task = True

    def enqueue(self, task, args, kwargs) -> TaskResult:
        self.validate_task(task)
        job_id = run.configure(
            queue=task.queue_name,
            priority=task.priority,
            schedule_at=task.run_after,
        ).defer(
            task=task.module_path,
            args=list(args),
            kwargs=dict(kwargs),
            request_id=(logs.current.get() or {}).get("request_id"),
        )
        return self.get_result(str(job_id))

    def get_result(self, result_id: str) -> TaskResult:
        try:
            job = ProcrastinateJob.objects.get(id=int(result_id), task_name="run")
        except (ValueError, ProcrastinateJob.DoesNotExist):
            raise TaskResultDoesNotExist(result_id) from None
        times = {}
        for event in job.procrastinateevent_set.order_by("at"):
            times.setdefault(event.type, event.at)
            if event.type == "started":
                times["last_started"] = event.at
        finished = times.get("succeeded") or times.get("failed") or times.get("cancelled") or times.get("aborted")
        return TaskResult(
            task=import_string(job.args["task"]).using(
                queue_name=job.queue_name, priority=job.priority, backend=self.alias
            ),
            id=str(job.id),
            status=STATUSES.get(job.status, TaskResultStatus.READY),
            enqueued_at=times.get("deferred"),
            started_at=times.get("started"),
            finished_at=finished,
            last_attempted_at=times.get("last_started"),
            args=job.args["args"],
            kwargs=job.args["kwargs"],
            backend=self.alias,
            # The errors are in the worker's log and the error reports, not kept here.
            errors=[],
            worker_ids=[],
        )


@task()
def ping() -> None:
    """A task that does nothing: the queue's own cost, as `inv bench` measures it."""


def report() -> dict:
    """The queue for `inv status`: tasks waiting (due now), running, failed in the last day, and
    the seconds the oldest due one has waited (None when none waits)."""
    now = timezone.now()
    jobs = ProcrastinateJob.objects.all()
    due = jobs.exclude(status__in=STATUSES).filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now))
    oldest = ProcrastinateEvent.objects.filter(job__in=due, type__in=("deferred", "deferred_for_retry")).aggregate(
        at=Min("at")
    )["at"]
    day_ago = now - timedelta(days=1)
    failed = ProcrastinateEvent.objects.filter(type="failed", at__gte=day_ago, job__status="failed")
    return {
        "waiting": due.count(),
        "running": jobs.filter(status="doing").count(),
        "failed_last_day": failed.values("job").distinct().count(),
        "oldest_waiting_seconds": round((now - oldest).total_seconds()) if oldest else None,
    }
