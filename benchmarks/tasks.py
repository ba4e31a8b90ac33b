"""The background tasks' part of the bench: the queue's own cost, with a task that does nothing
(ops.tasks.ping) and one worker at its default concurrency. The time from enqueue to start on an
idle worker, one task at a time; then tasks a second, for a batch enqueued at once. Both from the
queue's own records (Procrastinate's events, the database's clock)."""

import json
import statistics

from benchmarks.stack import Stack, progress

PROBE = """
import json, time
from django.db.models import Max, Min
from ops.tasks import ping
from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

def wait(ids):
    while ProcrastinateJob.objects.filter(id__in=ids, status="succeeded").count() < len(ids):
        time.sleep(0.01)

waits = []
for _ in range({single}):
    job = ping.enqueue().id
    wait([job])
    at = dict(ProcrastinateEvent.objects.filter(job_id=job).values_list("type", "at"))
    waits.append((at["started"] - at["deferred"]).total_seconds())
    time.sleep(0.05)
ids = [ping.enqueue().id for _ in range({batch})]
wait(ids)
events = ProcrastinateEvent.objects.filter(job_id__in=ids)
first = events.filter(type="started").aggregate(at=Min("at"))["at"]
last = events.filter(type="succeeded").aggregate(at=Max("at"))["at"]
print(json.dumps({{"waits": waits, "batch": len(ids), "batch_s": (last - first).total_seconds()}}))
"""


def measure_tasks(stack: Stack, *, quick: bool) -> dict:
    single, batch = (20, 200) if quick else (200, 2000)
    progress(f"tasks: {single} tasks one at a time, then {batch} at once, through one worker ...")
    stack.compose("up", "--detach", "--wait", "worker")
    code = PROBE.format(single=single, batch=batch)
    output = stack.compose("exec", "-T", "app", "python", "manage.py", "shell", "-c", code).stdout
    measured = json.loads(output.strip().splitlines()[-1])
    waits = sorted(measured["waits"])
    result = {
        "enqueue_to_start_median_ms": round(statistics.median(waits) * 1000, 1),
        "enqueue_to_start_p90_ms": round(waits[int(len(waits) * 0.9) - 1] * 1000, 1),
        "tasks_per_s": round(measured["batch"] / measured["batch_s"], 1),
    }
    progress(
        f"tasks: enqueue to start {result['enqueue_to_start_median_ms']} ms at the median "
        f"({result['enqueue_to_start_p90_ms']} ms at p90); {result['tasks_per_s']} empty tasks a second"
    )
    return result
