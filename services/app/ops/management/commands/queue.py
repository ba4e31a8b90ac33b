from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils.module_loading import import_string
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.jobs import Status

# Procrastinate's first four job states, in the order of a task's life, as the columns name them.
STATES = dict(zip((status.value for status in Status), ("waiting", "running", "done", "failed"), strict=False))


class Command(BaseCommand):
    help = (
        "Show the background tasks' queue: by task, how many wait, run, are done (kept "
        "TASK_KEEP_DAYS) and failed; then the last failed ones. --retry ID enqueues a failed one again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retry", type=int, metavar="ID", help="enqueue the failed task ID again, as it was")

    def handle(self, *, retry, **options):
        jobs = ProcrastinateJob.objects.filter(task_name="run")
        if retry is not None:
            self.retry(jobs, retry)
            return
        counts: dict[str, dict[str, int]] = {}
        for row in jobs.values("args__task", "status").annotate(count=Count("id")):
            counts.setdefault(row["args__task"], {})[row["status"]] = row["count"]
        if not counts:
            self.stdout.write("No task in the queue.")
            return
        width = max(len("task"), *map(len, counts))
        self.stdout.write(f"{'task':{width}}  " + "  ".join(f"{name:>7}" for name in STATES.values()))
        for task, by_state in sorted(counts.items()):
            self.stdout.write(f"{task:{width}}  " + "  ".join(f"{by_state.get(s, 0):>7}" for s in STATES))
        failed = jobs.filter(status="failed").order_by("-id")[:20]
        if failed:
            self.stdout.write("\nFailed (the newest 20; their errors are in the worker's log):")
            for job in failed:
                self.stdout.write(f"  {job.id:>8}  {job.args['task']}  after {job.attempts} tries")
            self.stdout.write("Run one again: manage.py queue --retry ID")

    def retry(self, jobs, job_id: int) -> None:
        job = jobs.filter(id=job_id).first()
        if job is None or job.status != "failed":
            raise CommandError(f"No failed task has the id {job_id}: manage.py queue lists them.")
        again = import_string(job.args["task"]).enqueue(*job.args["args"], **job.args["kwargs"])
        self.stdout.write(f"Task {job.args['task']} (failed as {job_id}) enqueued again as {again.id}.")
