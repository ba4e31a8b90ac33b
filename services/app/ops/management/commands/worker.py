import logging
import time
from argparse import BooleanOptionalAction

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import autoreload
from procrastinate.contrib.django import app

from ops.database import first_line

logger = logging.getLogger("ops.tasks")


class Command(BaseCommand):
    help = (
        "Run the background tasks (ops.tasks): woken at once by each new task. On SIGTERM it takes no new "
        "task and stops once the running ones have finished."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reload",
            action=BooleanOptionalAction,
            default=settings.DEBUG,
            help="Start again on a code change, as runserver does (default: DEBUG).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.WORKER_CONCURRENCY,
            help="Tasks run at a time (default: WORKER_CONCURRENCY, %(default)s).",
        )
        parser.add_argument("--queues", default="", help="Only these queues, comma-separated (default: all).")

    def handle(self, *, reload, concurrency, queues, **options):
        queue_names = [name for name in queues.split(",") if name] or None
        if reload:
            # The reloader runs the worker in a thread: the signals stay the reloader's.
            autoreload.run_with_reloader(self.work, queue_names, concurrency, signals=False)
        else:
            self.work(queue_names, concurrency, signals=True)

    def work(self, queues, concurrency, *, signals):
        wait_for_the_schema()
        logger.info("Worker started: %s, %s at a time", ", ".join(queues or ["every queue"]), concurrency)
        worker_app = app.with_connector(app.connector.get_worker_connector())
        worker_app.run_worker(
            queues=queues,
            concurrency=concurrency,
            install_signal_handlers=signals,
            # The running tasks finish, however long they take; the container's stop grace
            # period bounds it, and a task cut short runs again (ops.tasks.retry_stalled).
            shutdown_graceful_timeout=None,
            # A worker silent for TASK_STALLED_AFTER is gone: its tasks run again elsewhere.
            update_heartbeat_interval=settings.TASK_STALLED_AFTER / 3,
            stalled_worker_timeout=settings.TASK_STALLED_AFTER,
        )


def wait_for_the_schema() -> None:
    """Until the database answers with every migration of this code applied: a worker never runs a
    task on an older schema, and on a first deploy, started before the migrations, it waits for
    them instead of failing over and over."""
    waiting = ""
    while True:
        try:
            executor = MigrationExecutor(connection)
            if not executor.migration_plan(executor.loader.graph.leaf_nodes()):
                return
            reason = "migrations of this release not applied yet"
        except DatabaseError as error:
            reason = f"the database does not answer ({first_line(error)})"
        finally:
            connection.close()
        if reason != waiting:
            logger.warning("Worker waiting: %s", reason)
            waiting = reason
        time.sleep(2)
