"""The benchmark: bench."""

import shlex
import shutil

from invoke import Exit, task

from workspace.compose import ROOT, require_engine
from workspace.django_commands import PYTHON
from workspace.shell import run, say


@task(
    help={
        "quick": "a few seconds a case: proves the benchmark works end to end (CI runs this)",
        "parts": "comma-separated subset of build,size,startup,serving,tasks (default: all)",
    }
)
def bench(c, quick=False, parts=""):
    """Measure serving speed against gunicorn, Granian, WhiteNoise and a bare nginx, build time,
    image size and start-up; results in benchmarks/results/. Settings like UWSGI_THREADS=8 in the
    environment are used."""
    require_engine()
    if not shutil.which("wrk"):
        raise Exit("wrk, the load generator, is missing: install it (sudo apt-get install wrk) and try again.", 1)
    with c.cd(ROOT):
        if c.run(f"{PYTHON} -c 'import matplotlib'", hide=True, warn=True).failed:
            say("Installing the chart's library into this Python environment (benchmarks/requirements-chart.txt).")
            run(c, f"{PYTHON} -m pip install --quiet -r benchmarks/requirements-chart.txt")
        options = ("--quick " if quick else "") + (f"--parts {shlex.quote(parts)}" if parts else "")
        run(
            c,
            f"{PYTHON} -m benchmarks.bench {options}",
            hint="A case failed: its lines above say why; benchmarks/results/ holds what was measured.",
        )
