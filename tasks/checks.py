"""The tests: the project's Django tests (test), the workspace's own unit and Django tests
(check) and its proofs on real containers (verify)."""

import shlex

from invoke import Exit, task

from workspace.compose import ROOT, require_engine
from workspace.django_commands import PYTHON, pytest
from workspace.shell import run, say, typed_words

# pytest's exit code when it collected nothing: a new project without tests yet, not a failure.
NO_TESTS_COLLECTED = 5


@task(
    help={
        "keyword": "only the tests whose names match this expression (pytest -k)",
        "exitfirst": "stop at the first failure (pytest -x)",
    }
)
def test(c, keyword="", exitfirst=False):
    """Run the project's Django tests (every app's own) on PostgreSQL, in seconds.

    Words after -- go to pytest: inv test -- --lf -vv. The workspace's own tests: inv check."""
    result = pytest(
        c, typed_words(f"-k {shlex.quote(keyword)}" if keyword else "", "-x" if exitfirst else ""), check=False
    )
    if result.exited == NO_TESTS_COLLECTED and not keyword:
        say("No tests yet: an app's tests go in its tests.py or tests/ folder (test_*.py).")
    elif result.failed:
        raise Exit(f"Failed (exit {result.exited}): {result.command}", 1)


@task
def check(c):
    """Run the workspace's own tests, on this machine, no Docker: its unit tests (tests/workspace,
    the tasks' logic), then its Django tests (tests/app: health, settings, security, releases,
    uploads), on a throwaway PostgreSQL from the local binaries, else SQLite.

    Words after -- go to both pytest runs: inv check -- -k swarm."""
    with c.cd(ROOT):
        failed = []
        # tests/app with the test site's settings: the project's, and the stack tests' own app; two
        # at a time, as the background tasks' tests mostly wait on their workers.
        django_tests = f"--ds tests.site.settings --numprocesses 2 {typed_words('tests/app')}"
        for command in (f"-p no:django {typed_words('tests/workspace')}", django_tests):
            # Exit 5: no test of that run was selected (-k), not a failure.
            result = run(c, f"{PYTHON} -m pytest {command}", check=False)
            if result.exited not in (0, NO_TESTS_COLLECTED):
                failed.append(f"Failed (exit {result.exited}): {PYTHON} -m pytest {command}")
        if failed:
            raise Exit("\n".join(failed), 1)


@task
def verify(c):
    """Run the workspace's own proofs on real containers (tests/stack; minutes).

    The stack, its faults, deploys, the swarm on throwaway Docker hosts, the dev container: it
    builds images, starts and removes stacks of its own. Words after -- go to pytest:
    inv verify -- -k deploy; one test at a time: inv verify -- -n 0."""
    require_engine()
    with c.cd(ROOT):
        # Two test modules at a time (pytest-xdist): most of the time goes to waiting on
        # containers. The longest groups first (tests/stack/conftest.py), so both workers end
        # together. The slowest tests listed at the end: the suite's time is a budget.
        parallel = "--numprocesses 2 --dist loadgroup --no-loadscope-reorder"
        run(c, f"{PYTHON} -m pytest {parallel} --durations=15 {typed_words('tests/stack')}")
