"""The tests: the Django tests (test), the workspace's unit tests (check) and its proofs on real
containers (verify)."""

import shlex

from invoke import task

from workspace.compose import ROOT, require_engine
from workspace.django_commands import PYTHON, pytest
from workspace.shell import run, typed_words


@task(
    help={
        "keyword": "only the tests whose names match this expression (pytest -k)",
        "exitfirst": "stop at the first failure (pytest -x)",
    }
)
def test(c, keyword="", exitfirst=False):
    """Run the Django tests (tests/app and every app's) on PostgreSQL, in seconds.

    Words after -- go to pytest: inv test -- --lf -vv. The stack's own proofs: inv verify."""
    pytest(c, typed_words(f"-k {shlex.quote(keyword)}" if keyword else "", "-x" if exitfirst else ""))


@task
def check(c):
    """Run the workspace's unit tests (tests/workspace): the tasks' logic, no Docker, seconds.

    Words after -- go to pytest: inv check -- -k swarm."""
    with c.cd(ROOT):
        run(c, f"{PYTHON} -m pytest -p no:django {typed_words('tests/workspace')}")


@task
def verify(c):
    """Run the workspace's own proofs on real containers (tests/stack; minutes).

    The stack, its faults, deploys, the swarm on throwaway Docker hosts, the dev container: it
    builds images, starts and removes stacks of its own. Words after -- go to pytest:
    inv verify -- -k deploy; one test at a time: inv verify -- -n 0."""
    require_engine()
    with c.cd(ROOT):
        # Two test modules at a time (pytest-xdist): most of the time goes to waiting on
        # containers. In the order collected: the fleet's modules, the longest, first, one on
        # each worker. The slowest tests listed at the end: the suite's time is a budget.
        parallel = "--numprocesses 2 --dist loadgroup --no-loadscope-reorder"
        run(c, f"{PYTHON} -m pytest {parallel} --durations=15 {typed_words('tests/stack')}")
