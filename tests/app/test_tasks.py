"""Background tasks (ops.tasks) on a real PostgreSQL, run by real workers (`manage.py worker`,
processes of their own): what runs, what runs again, what is retried, what a schedule runs."""

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django_tasks import TaskResultStatus
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from journal.models import Entry
from journal.tasks import flaky, note, slow
from ops import tasks
from tests.support import first_group

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def queue(transactional_db, settings):
    """The tasks go to the queue (the test runs set the immediate backend), committed, where
    workers of their own take them."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (the run uses SQLite)")
    settings.TASKS = {"default": {"BACKEND": "ops.tasks.QueueBackend"}}
    # An empty queue: Django's flush after each test leaves Procrastinate's tables (not its models').
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_periodic_defers, procrastinate_workers CASCADE")


def command_environment(database: str = "", **environment) -> dict[str, str]:
    """A manage.py command's environment: the test site, on the test database (or DATABASE)."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.site.settings",
        "PYTHONPATH": f"{ROOT / 'services/app'}:{ROOT}",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{database or db['NAME']}",
        **environment,
    }


@contextmanager
def worker(database: str = "", log=None, **environment):
    """`manage.py worker` on the test database (or DATABASE), until the block ends (SIGTERM: it
    stops once its tasks have finished); its output into LOG, a file, if given."""
    process = subprocess.Popen(
        [sys.executable, "services/app/manage.py", "worker", "--no-reload"],
        cwd=ROOT,
        env=command_environment(database, TASK_STALLED_AFTER="3", TASK_RETRY_WAIT="1", **environment),
        stdout=log,
        stderr=log,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def wait_for(condition, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def titles(prefix: str) -> list[str]:
    return sorted(Entry.objects.filter(title__startswith=prefix).values_list("title", flat=True))


def test_a_task_runs_in_the_worker_and_its_result_is_kept(queue):
    result = note.enqueue("kept")
    assert result.status == TaskResultStatus.READY
    with worker():
        wait_for(lambda: note.get_result(result.id).status == TaskResultStatus.SUCCESSFUL)
    done = note.get_result(result.id)
    assert titles("kept") == ["kept"]
    assert done.args == ["kept"]
    assert done.enqueued_at <= done.started_at <= done.finished_at


def test_a_task_cut_short_by_a_killed_worker_runs_again_to_completion(queue):
    result = slow.enqueue("cut short", 3)
    with worker() as first:
        wait_for(lambda: titles("cut short: started"))
        first.kill()
    assert slow.get_result(result.id).status == TaskResultStatus.RUNNING
    with worker():
        # Once the killed worker's heartbeat is TASK_STALLED_AFTER (3 s) old, the next check
        # (every 15 s) puts its task back.
        wait_for(lambda: slow.get_result(result.id).status == TaskResultStatus.SUCCESSFUL, timeout=45)
    assert titles("cut short") == ["cut short", "cut short: started", "cut short: started"]


def test_a_failing_task_is_retried_until_it_succeeds(queue):
    result = flaky.enqueue("flaky", 2)
    with worker():
        wait_for(lambda: flaky.get_result(result.id).status == TaskResultStatus.SUCCESSFUL)
    assert titles("flaky") == ["flaky", "flaky: try", "flaky: try", "flaky: try"]


def test_a_task_failing_every_try_is_kept_as_failed_and_listed_and_retried_on_demand(queue, capsys):
    result = flaky.enqueue("hopeless", 100)
    with worker(TASK_RETRIES="2"):
        wait_for(lambda: flaky.get_result(result.id).status == TaskResultStatus.FAILED)
    assert titles("hopeless") == ["hopeless: try"] * 3

    call_command("queue")
    listed = capsys.readouterr().out
    assert re.search(r"journal.tasks.flaky +0 +0 +0 +1", listed), listed
    assert f"{result.id:>8}  journal.tasks.flaky  after 3 tries" in listed
    call_command("queue", retry=int(result.id))
    again = first_group(r"enqueued again as (\d+)", capsys.readouterr().out)
    assert flaky.get_result(again).args == ["hopeless", 100]
    # inv status's view: the failure of the last day, the task now waiting (no worker runs).
    report = tasks.report()
    assert (report["failed_last_day"], report["waiting"], report["running"]) == (1, 1, 0)
    assert 0 <= report["oldest_waiting_seconds"] < 60
    with pytest.raises(CommandError, match=f"No failed task has the id {again}"):
        call_command("queue", retry=int(again))


def test_a_stopped_worker_finishes_its_task_first(queue):
    result = slow.enqueue("finished", 2)
    with worker() as process:
        wait_for(lambda: titles("finished: started"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert slow.get_result(result.id).status == TaskResultStatus.SUCCESSFUL
    assert titles("finished") == ["finished", "finished: started"]


def test_a_schedule_runs_once_per_tick_across_two_workers(queue):
    with worker(JOURNAL_TICK="2"), worker(JOURNAL_TICK="2"):
        wait_for(lambda: len(titles("tick")) >= 3, timeout=40)
    ticks = ProcrastinateJob.objects.filter(task_name="run_scheduled", args__task="journal.tasks.tick")
    timestamps = [job.args["timestamp"] for job in ticks]
    assert len(set(timestamps)) == len(timestamps) >= 3
    # Each tick ran the task once, whichever worker took it.
    runs = ProcrastinateJob.objects.filter(task_name="run", args__task="journal.tasks.tick", status="succeeded")
    assert len(titles("tick")) == runs.count() <= len(timestamps)


def test_mail_waits_in_the_queue_for_the_worker(queue, settings):
    settings.EMAIL_BACKEND = "ops.mail.QueuedEmailBackend"
    mail.send_mail("Hello", "Body", "site@example.com", ["ann@example.com"])
    # Handed to the queue: nothing is sent while the page waits.
    assert mail.outbox == []
    job = ProcrastinateJob.objects.get(args__task="ops.mail.deliver")
    assert job.args["args"][0]["to"] == ["ann@example.com"]


def test_a_mail_reaches_the_mail_server_whole(settings, db):
    settings.EMAIL_BACKEND = "ops.mail.QueuedEmailBackend"
    settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = mail.EmailMultiAlternatives(
        "Subject",
        "Text",
        "site@example.com",
        ["ann@example.com"],
        bcc=["bob@example.com"],
        cc=["cid@example.com"],
        reply_to=["help@example.com"],
        headers={"X-Kind": "test"},
    )
    message.attach_alternative("<p>HTML</p>", "text/html")
    message.attach("data.bin", b"\x00\xff", "application/octet-stream")
    message.attach("notes.txt", "words", "text/plain")
    message.send()
    [sent] = mail.outbox
    assert (sent.subject, sent.body, sent.from_email, sent.to, sent.cc, sent.bcc, sent.reply_to) == (
        "Subject",
        "Text",
        "site@example.com",
        ["ann@example.com"],
        ["cid@example.com"],
        ["bob@example.com"],
        ["help@example.com"],
    )
    assert sent.extra_headers == {"X-Kind": "test"}
    assert sent.alternatives == [("<p>HTML</p>", "text/html")]
    assert sent.attachments == [
        ("data.bin", b"\x00\xff", "application/octet-stream"),
        ("notes.txt", "words", "text/plain"),
    ]


def test_finished_tasks_are_pruned_after_their_days_and_failed_ones_after_three_times_as_long(queue, settings):
    settings.TASK_KEEP_DAYS = 2
    jobs = {name: int(note.enqueue(name).id) for name in ("recent", "old", "old failure", "older failure", "waiting")}
    ended = {"recent": ("succeeded", 1), "old": ("succeeded", 3), "old failure": ("failed", 3)}
    ended["older failure"] = ("failed", 7)
    with connection.cursor() as cursor:
        for name, (status, days) in ended.items():
            cursor.execute("UPDATE procrastinate_jobs SET status = %s WHERE id = %s", [status, jobs[name]])
            # Each event of the job (Procrastinate's triggers record the change of status) that
            # many days back.
            back = "UPDATE procrastinate_events SET at = now() - make_interval(days => %s) WHERE job_id = %s"
            cursor.execute(back, [days, jobs[name]])
    async_to_sync(tasks.prune.func)(SimpleNamespace(app=app), timestamp=0)
    kept = set(ProcrastinateJob.objects.values_list("args__args__0", flat=True))
    assert kept == {"recent", "old failure", "waiting"}


def test_a_worker_waits_for_its_releases_migrations_before_it_takes_a_task(queue, tmp_path):
    """As on a first deploy, where the worker starts before the migrations: it waits, running, and
    starts once they are applied."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE worker_first")
    log = tmp_path / "worker.log"
    try:
        with log.open("w") as output, worker("worker_first", log=output):
            wait_for(lambda: "Worker waiting: migrations of this release not applied yet" in log.read_text())
            subprocess.run(
                [sys.executable, "services/app/manage.py", "migrate", "--noinput", "--verbosity", "0"],
                cwd=ROOT,
                env=command_environment("worker_first"),
                check=True,
            )
            wait_for(lambda: "Worker started" in log.read_text())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE worker_first WITH (FORCE)")
