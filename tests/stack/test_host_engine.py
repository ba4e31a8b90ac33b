"""Runs after the whole stack suite (conftest.py puts it last, and starts the bystander first):
the suite changed nothing engine-wide on this machine's engine. Swarm mode, engine restarts and prunes happen on fleet
hosts only; a stack that was running here before the suite still works after it."""

import pytest

from tests.stack.support import swarm_state

pytestmark = pytest.mark.stack


def test_a_stack_of_this_engine_still_finds_its_database_and_answers_after_the_suite(bystander):
    if bystander is None:
        pytest.skip("no Docker engine answers")
    # Containers find each other by name through the engine's DNS (it broke when the engine
    # left swarm mode under them).
    found = bystander.compose("exec", "-T", "app", "getent", "hosts", "db", check=False)
    assert found.returncode == 0, f"db does not resolve: {found.stderr}"
    assert found.stdout.split(), f"db does not resolve: {found.stderr}"
    assert bystander.get("/healthz").status_code == 200
    assert swarm_state() == bystander.swarm_state
