"""Backups on demand (workspace/dumps.py): readable by their owner only, and nothing half-written."""

import stat
from typing import TYPE_CHECKING, cast

import pytest
from invoke import Exit

from workspace import dumps as backup

if TYPE_CHECKING:
    from workspace.deployment import Deployment


class Stub:
    """A deployment whose compose commands write PARTS' bytes, or fail on FAILING."""

    name = "site"

    def __init__(self, failing: str = ""):
        self.failing = failing

    def stream(self, *args, stdout=None, **kwargs):
        if self.failing and self.failing in args:
            raise Exit("Failed (exit 1): docker compose exec ...", 1)
        stdout.write(b"bytes of " + " ".join(args).encode())


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_backup_is_readable_by_its_owner_only(tmp_path):
    folder = backup.backup(cast("Deployment", Stub()), into=tmp_path / "backups")
    assert mode(folder) == 0o700
    assert sorted(path.name for path in folder.iterdir()) == ["db.dump", "media.tar"]
    assert {mode(path) for path in folder.iterdir()} == {0o600}
    assert (folder / "media.tar").read_bytes() == b"bytes of exec -T app python manage.py media_archive export"


def test_a_failed_part_leaves_no_backup(tmp_path):
    with pytest.raises(Exit):
        backup.backup(cast("Deployment", Stub(failing="app")), into=tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == []


def test_a_folder_without_both_parts_is_not_a_backup(tmp_path):
    (tmp_path / "media.tar").write_bytes(b"")
    with pytest.raises(Exit, match=r"db\.dump missing"):
        backup.check_backup(tmp_path)


def test_a_snapshot_after_a_run_stopped_while_it_dumped_replaces_the_leftover(tmp_path):
    into = tmp_path / "backups"
    leftover = backup.private_folder(into / "before-abc-20261206-101500.partial")
    (leftover / "db.dump").write_bytes(b"half")
    taken = backup.snapshot(cast("Deployment", Stub()), "before-abc-20261206-101500", into=into)
    assert (taken / "db.dump").read_bytes().startswith(b"bytes of exec -T db")
    assert sorted(path.name for path in into.iterdir()) == ["before-abc-20261206-101500"]
    assert mode(taken) == 0o700
