"""Configuration errors stop the app's start with one line naming the cause, and `inv up` says
which service failed and why. One stack, started right once (its database then exists),
then started again with each mistake."""

import contextlib
import os
import subprocess
import sys
import time

import pytest

from tests.stack.probes import inspect, logs
from tests.stack.support import fresh_clone
from tests.support import free_port

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


def start_failure(stack, *args: str) -> str:
    """(Re)creates the app, which must fail to start; once it has exited, returns the one line
    its logs give as the cause (besides the progress lines of the wait for the database)."""
    stack.compose("up", "--detach", *args, "app")
    deadline = time.monotonic() + 60
    while (state := inspect(stack, "app"))["RestartCount"] < 1:
        assert state["State"].get("Health", {}).get("Status") != "healthy", "the app started"
        assert time.monotonic() < deadline, "the app neither started nor stopped within 60s"
        time.sleep(0.5)
    lines = logs(stack, "app")
    causes = {line for line in lines if not line.startswith("Waiting for the database")}
    assert len(causes) == 1, "\n".join(lines)
    return causes.pop()


def test_missing_secret_key_with_debug_off_stops_the_app_with_one_line(stack):
    with settings(stack, SECRET_KEY=""):
        cause = start_failure(stack)
    assert cause == "Configuration error: SECRET_KEY is not set (DEBUG is off). Set it in .env, or SECRET_KEY_FILE."


def test_wrong_database_password_stops_the_app_at_once_naming_the_cause(stack):
    # The database keeps the password it was created with; only the app's changes.
    with settings(stack, POSTGRES_PASSWORD=WRONG_PASSWORD):
        cause = start_failure(stack)
    assert cause.startswith("CommandError: database at db refused the connection:"), cause
    assert 'password authentication failed for user "app"' in cause


def test_unreachable_database_host_stops_the_app_after_the_wait_naming_the_host(stack):
    stack.compose("stop", "db")
    with settings(stack, DB_WAIT_TIMEOUT="3"):
        cause = start_failure(stack, "--no-deps")
    assert cause.startswith("CommandError: database at db did not answer within 3s"), cause
    assert "failed to resolve host 'db'" in cause


def test_an_empty_setting_counts_as_unset(stack):
    """`NAME=` in .env gives the default (stated once, where it is read), never an empty value."""
    empty = {"UWSGI_PROCESSES": "", "UWSGI_HARAKIRI": "", "CONN_MAX_AGE": "", "DB_WAIT_TIMEOUT": ""}
    with settings(stack, **empty):
        stack.compose("up", "--detach", "--wait")
        environment = inspect(stack, "app")["Config"]["Env"]
        assert "UWSGI_PROCESSES=" in environment, "compose did not pass the empty value on"
        stack.wait_for("/")
        started = "\n".join(logs(stack, "app"))
    assert "spawned uWSGI worker 2 " in started, started
    assert "spawned uWSGI worker 3 " not in started, started
    assert "Configuration error" not in started, started


def test_inv_up_names_the_failed_service_and_shows_why(stack, tmp_path):
    """`inv up` in a copy of the repository whose .env names this stack's project (its database
    volume) with another database password: the .env a user has, not this checkout's."""
    copy = fresh_clone(tmp_path / "workspace", os.getuid(), os.getgid())
    settings = {**stack.env, "COMPOSE_PROJECT_NAME": stack.project, "POSTGRES_PASSWORD": WRONG_PASSWORD}
    # The development stack's Mailpit on a port of its own too.
    settings["MAIL_PORT"] = str(free_port())
    (copy / ".env").write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "invoke", "up"], cwd=copy, capture_output=True, text=True, timeout=900, check=False
        )
    finally:
        subprocess.run(
            ["docker", "image", "rm", "--force", f"{stack.project}-app-dev"], capture_output=True, check=False
        )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "==> app failed: Restarting" in output or "==> app failed: Exited" in output, output
    assert 'password authentication failed for user "app"' in output, output
    assert "Hint: Fix the cause named above" in output
