"""Start-up with bad configuration: one clear line, in a fresh interpreter as a deployer runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "services" / "app"


def start(**env):
    # The project's own settings module (manage.py's default), not the test site's.
    left_out = {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    clean = {k: v for k, v in os.environ.items() if k not in left_out}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=APP,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ALLOWED_HOSTS": "example.com"}, "SECRET_KEY"),
        ({"SECRET_KEY": "s" * 50}, "ALLOWED_HOSTS"),
    ],
)
def test_debug_off_without_a_required_variable_stops_with_one_clear_line(env, variable):
    result = start(**env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Configuration error: {variable} is not set (DEBUG is off)")
    assert "Traceback" not in result.stderr


def test_an_unreadable_secret_file_is_named(tmp_path):
    missing = tmp_path / "nope"
    result = start(SECRET_KEY_FILE=str(missing), ALLOWED_HOSTS="example.com")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Configuration error: SECRET_KEY_FILE={missing} cannot be read (No such file or directory)."
    )


def test_secret_key_can_come_from_a_file(tmp_path):
    key = tmp_path / "key"
    key.write_text("k" * 50 + "\n")
    result = start(SECRET_KEY_FILE=str(key), ALLOWED_HOSTS="example.com")
    assert result.returncode == 0, result.stderr


def test_debug_on_starts_without_secret_key_or_allowed_hosts():
    assert start(DEBUG="true").returncode == 0
