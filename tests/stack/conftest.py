"""Fixtures for the stack tests: real images, a real compose project per test module, reached
only through the proxy on a free loopback port. Everything a test starts is torn down."""

import os
import re
from pathlib import Path

import pytest

from tests.stack.support import Stack, site, swarm_state
from workspace.compose import BASE_FILES, ROOT, Project, engine_answers
from workspace.settings import BY_NAME

# A test's stack takes its settings (ports, names, keys) from the test, never from the shell,
# where compose would let them win over the stack's env file: a developer's exported PROXY_PORT
# or COMPOSE_PROJECT_NAME, or the app tests' defaults (pyproject.toml's pytest env).
SHELL_SETTINGS = {
    *BY_NAME,
    *re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M),
    "COMPOSE_PROJECT_NAME",
    "COMPOSE_FILE",
    "COMPOSE_PROFILES",
} - {"DATABASE_URL"}  # the Django tests' own (tests/django_setup.py); no stack reads it from the shell
for name in SHELL_SETTINGS:
    os.environ.pop(name, None)


# The groups that take longest, the longest first: minutes each in a parallel run.
LONGEST = (
    "fleet",
    "test_backups",
    "test_releases",
    "test_object_storage",
    "test_deploy",
    "test_upgrade",
    "test_faults",
)


def group(item) -> str:
    """The item's group: its module's, or the fleet's for the fleet's modules."""
    return "fleet" if item.path.parent.name == "fleet" else item.path.stem


# First: pytest-xdist reads the groups in its own hook of the same name.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if any(item.get_closest_marker("stack") for item in items) and not engine_answers():
        skip = pytest.mark.skip(reason="no Docker engine answers (start one to run the stack tests)")
        for item in items:
            if item.get_closest_marker("stack"):
                item.add_marker(skip)
    # In a parallel run (inv verify: pytest-xdist, --dist loadgroup), a test module runs whole on
    # one worker, its stack set up once; the fleet's modules all on one, which sets the fleet up
    # once for them.
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group(item)))
    # The longest groups first (inv verify hands them out in this order): the last ones to start
    # are short, and the two workers end together.
    items.sort(key=lambda item: LONGEST.index(group(item)) if group(item) in LONGEST else len(LONGEST))
    # The check that the suite left this machine's engine as it was (test_host_engine.py) runs
    # after everything else, and its bystander stack is up from the first test on (of each
    # worker): only when that check is among the tests selected.
    checks = [item for item in items if item.path.name == "test_host_engine.py"]
    if checks and len(checks) < len(items):
        items[:] = [item for item in items if item not in checks] + checks
        for item in items:
            item.fixturenames.insert(0, "bystander")


# A failed test's report ends with its stack's last log lines: in a CI run, the only look at a
# service that misbehaved.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    running = getattr(item, "funcargs", {}).get("stack")
    if report.when == "call" and report.failed and isinstance(running, Stack):
        logs = running.compose("logs", "--no-color", "--tail", "25", check=False, timeout=60)
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", logs.stdout + logs.stderr)  # compose's cursor codes
        report.sections.append(("stack logs, the last 25 lines of each service", text))


@pytest.fixture(scope="session")
def stack_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stacks")


@pytest.fixture(scope="session")
def built_images():
    """Build the images once per run; every stack of the run uses them."""
    project = Project(files=BASE_FILES, env_file=site() / ".env.example", directory=site())
    result = project.call("build", capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]


@pytest.fixture(scope="module")
def stack(built_images, stack_tmp):
    """The production-like base stack, up and healthy."""
    running = Stack(stack_tmp)
    try:
        running.up()
        yield running
    finally:
        running.down()


@pytest.fixture(scope="session")
def bystander(request, stack_tmp):
    """A stack of this engine, up from the start to the end of the stack suite, and the engine's
    swarm state at the start: the suite must leave both as they were, as it leaves a developer's
    own stack (test_host_engine.py checks, last)."""
    if not engine_answers():
        yield None
        return
    request.getfixturevalue("built_images")
    running = Stack(stack_tmp)
    running.swarm_state = swarm_state()
    try:
        running.up()
        yield running
    finally:
        running.down()
