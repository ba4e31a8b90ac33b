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


def test_a_release_snapshot_taken_again_replaces_the_earlier_one_and_a_leftover(tmp_path):
    """A deploy refused after its snapshot, then run again (--allow-unsafe-migrations), snapshots the
    same release again; so does a run after one that was killed while dumping."""
    into = tmp_path / "backups"
    first = backup.snapshot(cast("Deployment", Stub()), "before-abc", into=into)
    (first / "db.dump").write_bytes(b"older")
    private = backup.private_folder(into / "before-abc.partial")
    (private / "db.dump").write_bytes(b"half")
    again = backup.snapshot(cast("Deployment", Stub()), "before-abc", into=into)
    assert again == first
    assert (again / "db.dump").read_bytes().startswith(b"bytes of exec -T db")
    assert sorted(path.name for path in into.iterdir()) == ["before-abc"]
    assert mode(again) == 0o700
