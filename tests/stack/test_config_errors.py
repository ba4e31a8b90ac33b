"""Configuration errors stop the app's start with one line naming the cause, and `inv up` says
which service failed and why. One stack, started right once (its database then exists),
then started again with each mistake."""

import contextlib
import os
import subprocess
import sys

import pytest

from tests.stack.conftest import ROOT
from tests.stack.probes import logs

pytestmark = [pytest.mark.stack, pytest.mark.faults]

WRONG_PASSWORD = "not-the-password-the-database-was-created-with"


@contextlib.contextmanager
def settings(stack, **changes):
    """The stack's env file with `changes`, restored afterwards."""
    saved = dict(stack.env)
    stack.env.update(changes)
    stack.write_env()
    try:
        yield
    finally:
        stack.env.clear()
        stack.env.update(saved)
        stack.write_env()


def failed_start(stack, *args: str) -> list[str]:
    """(Re)creates the app with `up --wait`, which must fail; returns the app's log lines."""
    result = stack.compose("up", "--detach", "--wait", *args, "app", check=False, timeout=180)
    assert result.returncode != 0, "the app started"
    lines = logs(stack, "app")
    assert not [line for line in lines if "Traceback" in line], "\n".join(lines)
    return lines


def test_missing_secret_key_with_debug_off_stops_the_app_with_one_line(stack):
    with settings(stack, SECRET_KEY=""):
        lines = failed_start(stack)
    # The restart policy tries again and again; each try says the same one line.
    line = "Configuration error: SECRET_KEY is not set (DEBUG is off). Set it in .env, or SECRET_KEY_FILE."
    assert set(lines) == {line}


def test_wrong_database_password_stops_the_app_at_once_naming_the_cause(stack):
    # The database keeps the password it was created with; only the app's changes.
    with settings(stack, POSTGRES_PASSWORD=WRONG_PASSWORD):
        lines = failed_start(stack)
    assert lines[-1].startswith("CommandError: database at db refused the connection:"), lines
    assert 'password authentication failed for user "app"' in lines[-1]


def test_unreachable_database_host_stops_the_app_after_the_wait_naming_the_host(stack):
    stack.compose("stop", "db")
    with settings(stack, DB_WAIT_TIMEOUT="3"):
        lines = failed_start(stack, "--no-deps")
    assert lines[-1].startswith("CommandError: database at db did not answer within 3s"), lines
    assert 'could not translate host name "db"' in lines[-1]


def test_inv_up_names_the_failed_service_and_shows_why(stack):
    """`inv up` on the development stack of this project, with the wrong database password."""
    env_file = ROOT / ".env"
    made_env_file = not env_file.exists()
    env = {**os.environ, **stack.env, "COMPOSE_PROJECT_NAME": stack.project, "POSTGRES_PASSWORD": WRONG_PASSWORD}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "invoke", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
        )
    finally:
        subprocess.run(["docker", "image", "rm", "--force", f"{stack.project}-app-dev"], capture_output=True)
        if made_env_file:
            env_file.unlink(missing_ok=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "==> app failed: Restarting" in output or "==> app failed: Exited" in output, output
    assert 'password authentication failed for user "app"' in output, output
    assert "Hint: Fix the cause named above" in output
