"""The test site's background tasks (tests/app/test_tasks.py, the stack tests): each leaves
entries behind, so a test sees what ran, and how often."""

import os
import time

from django_tasks import task

from ops.tasks import schedule

from .models import Entry


@task()
def note(title: str) -> str:
    Entry.objects.create(title=title)
    return title


@task()
def flaky(title: str, failures: int) -> None:
    """Fails its first `failures` tries, then stores `title`."""
    tries = Entry.objects.filter(title=f"{title}: try").count()
    Entry.objects.create(title=f"{title}: try")
    if tries < failures:
        raise RuntimeError(f"{title}: failure {tries + 1} of {failures}")
    Entry.objects.create(title=title)


@task()
def slow(title: str, seconds: float) -> None:
    Entry.objects.create(title=f"{title}: started")
    time.sleep(seconds)
    Entry.objects.create(title=title)


@task()
def tick() -> None:
    Entry.objects.create(title="tick")


if os.environ.get("JOURNAL_TICK"):
    # Every JOURNAL_TICK seconds (cron's sixth field).
    schedule(f"* * * * * */{os.environ['JOURNAL_TICK']}", tick)
