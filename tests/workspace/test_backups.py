"""The continuous backups as `inv backups` and `inv restore` read them (workspace/backups.py),
without an engine: the window, the freshness line, and bad input answered in one line before
anything stops."""

import subprocess
import sys

import pytest
from invoke import Exit

from tasks import deploy
from tests.workspace.conftest import info
from workspace import backups
from workspace.compose import ROOT

HOUR = 3600
NOW = 1_800_000_000


def test_the_window_runs_from_the_oldest_backup_to_the_last_archived_segment():
    live = {"archived": NOW - 30, "wal": "000000010000000000000009", "failed": 0, "failed_wal": ""}
    assert backups.window(info(NOW - 48 * HOUR, NOW - 24 * HOUR), live) == (NOW - 48 * HOUR, NOW - 30)
    assert backups.window(info(), live) is None


def test_the_listing_gives_each_backup_the_window_and_the_ages():
    live = {"archived": NOW - 30, "wal": "000000010000000000000009", "failed": 0, "failed_wal": ""}
    lines = backups.describe(info(NOW - 2 * HOUR), live, NOW)
    assert lines[0] == "Repository: aes-256-cbc encryption, status ok"
    assert "backup-0F" in lines[1]
    assert lines[2] == "Restore window: 2027-01-15 06:00:00 UTC to 2027-01-15 07:59:30 UTC"
    assert lines[3] == "Last base backup 2.0 h ago; last WAL archived 30 s ago (000000010000000000000009)."


def test_a_failing_archiver_is_said_in_the_listing():
    live = {"archived": NOW - 600, "wal": "00000001000000000000000A", "failed": NOW - 10, "failed_wal": "0B"}
    assert "archiving FAILS since 2027-01-15 07:59:50 UTC (0B)" in backups.describe(info(NOW - HOUR), live, NOW)[-1]


def test_no_backup_yet_says_how_to_take_one():
    assert backups.describe(info(), None, NOW)[-1] == "No base backup yet: `inv backup` takes one."


@pytest.mark.parametrize("given", ["yesterday", "2026-13-01 00:00:00", "2026-12-03T10:00:00", "2026-12-03"])
def test_a_time_that_is_not_one_is_refused_in_one_line(given):
    with pytest.raises(Exit) as refused:
        backups.parse_time(given)
    assert refused.value.message == (
        f'--to "{given}" is not a time: give "YYYY-MM-DD HH:MM:SS", in UTC (inv backups shows the window).'
    )


def test_a_time_is_read_as_utc():
    assert backups.parse_time("2027-01-15 08:00:00") == NOW
    assert backups.parse_time("2027-01-15 08:00:00 UTC") == NOW


@pytest.mark.parametrize("given", [{}, {"latest": True, "to": "2027-01-15 08:00:00"}, {"dump": "x", "latest": True}])
def test_restore_wants_exactly_one_of_latest_to_and_a_folder(given):
    with pytest.raises(Exit) as refused:
        deploy.restore.body(None, **given)
    assert "Say what to restore" in str(refused.value.message)


def inv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_folder_and_a_release_name_reach_the_tasks(tmp_path):
    """`inv restore --dump FOLDER` and `inv rollback --to NAME`, as the docs write them, reach the tasks."""
    restored = inv("restore", "--dump", str(tmp_path / "no-such-folder"), "--yes")
    assert "is not a backup: db.dump missing" in restored.stderr
    rolled = inv("rollback", "--to", "3f2c9a1b7d4e", "--env-file", str(tmp_path / "missing.env"))
    assert "No " in rolled.stderr
    assert "missing.env" in rolled.stderr
    assert "No idea what" not in restored.stderr + rolled.stderr
