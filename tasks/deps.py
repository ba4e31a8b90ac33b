"""The dependencies: lock."""

from invoke import task

from workspace.compose import ROOT
from workspace.django_commands import PYTHON
from workspace.shell import run

# Each lock file and the declared requirements it is compiled from, in order (the tools' lock is
# constrained by the app's). Every dependency pinned with its hashes, for every platform and
# every Python from 3.11: the host's tools run on 3.11+, the image on 3.13.
LOCKS = {
    "services/app/requirements.txt": "services/app/requirements.in",
    "services/app/requirements-server.txt": "services/app/requirements-server.in",
    "services/db/requirements.txt": "services/db/requirements.in",
    "requirements-dev.txt": "requirements-dev.in",
    "benchmarks/requirements.txt": "benchmarks/requirements.in",
    "benchmarks/requirements-chart.txt": "benchmarks/requirements-chart.in",
}


@task(help={"upgrade": "move every package to the newest version the .in files allow"})
def lock(c, upgrade=False):
    """Write the lock files (requirements*.txt) from the declared requirements (*.in) with uv.

    Without --upgrade, a locked version stays as long as the .in files allow it, so a run
    changes nothing unless they changed: pre-commit runs it to check that both agree."""
    upgrading = "--upgrade " if upgrade else ""
    options = '--quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "inv lock"'
    with c.cd(ROOT):
        for output, source in LOCKS.items():
            run(c, f"{PYTHON} -m uv pip compile {options} {upgrading}-o {output} {source}")
