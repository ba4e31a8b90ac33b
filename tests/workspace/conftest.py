"""Fixtures for the workspace's unit tests: no Docker engine, no network. Commands are checked as
the strings a task would run, with invoke's MockContext."""

import re
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from invoke import MockContext, Result

import workspace.compose
from workspace.settings import BY_NAME

if TYPE_CHECKING:
    from unittest.mock import Mock


@pytest.fixture
def engine(monkeypatch):
    """An engine that answers, as far as the tasks can tell."""
    monkeypatch.setattr(workspace.compose, "engine_answers", lambda env=None: True)


@pytest.fixture
def deploy_env(tmp_path, monkeypatch):
    """Writes a deployment's env file of the given lines; a shell without the table's settings."""
    for name in BY_NAME:
        monkeypatch.delenv(name, raising=False)

    def write(*lines: str) -> Path:
        path = tmp_path / ".env.deploy"
        path.write_text("".join(f"{line}\n" for line in lines))
        return path

    return write


GOOD = (
    "SECRET_KEY=a-long-random-key-of-this-site-only",
    "ALLOWED_HOSTS=example.com",
    "POSTGRES_PASSWORD=a-password-of-this-site",
    "BACKUP_KEY=a-backup-key-of-this-site",
)


def mock_context(outputs: dict[str, str] | None = None, failing: tuple[str, ...] = ()) -> MockContext:
    """A context whose commands succeed, but those matching a pattern of FAILING; a command
    matching a pattern of OUTPUTS prints its value."""
    results: dict = {re.compile(".*" + re.escape(pattern)): Result(exited=1) for pattern in failing}
    results |= {re.compile(".*" + re.escape(pattern)): Result(out) for pattern, out in (outputs or {}).items()}
    results[re.compile(".*")] = Result("")
    return MockContext(run=results)


def calls(c: MockContext) -> list:
    """C's calls of `run` (MockContext wraps it in a Mock), in order."""
    return cast("Mock", c.run).call_args_list


def commands(c: MockContext) -> list[str]:
    """The commands C ran, in order."""
    return [call.args[0] for call in calls(c)]


def info(*stops: int) -> dict:
    """pgBackRest's `info --output=json` of one stanza, with full backups ending at STOPS."""
    return {
        "cipher": "aes-256-cbc",
        "status": {"code": 0, "message": "ok"},
        "backup": [
            {
                "label": f"backup-{n}F",
                "type": "full",
                "timestamp": {"start": stop - 5, "stop": stop},
                "info": {"repository": {"delta": 3_700_000}},
            }
            for n, stop in enumerate(stops)
        ],
    }
