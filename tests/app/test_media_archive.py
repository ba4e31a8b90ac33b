"""manage.py media_archive: the uploads as one tar, and that tar put back without deleting a file
it lacks (a restore to an earlier moment keeps the later uploads a later restore names)."""

import io
import sys
import tarfile

import pytest
from django.core.management import CommandError, call_command


def export() -> bytes:
    out = io.TextIOWrapper(io.BytesIO())
    saved, sys.stdout = sys.stdout, out
    try:
        call_command("media_archive", "export")
        out.flush()
    finally:
        sys.stdout = saved
    return out.buffer.getvalue()


def import_(archive: bytes) -> None:
    saved, sys.stdin = sys.stdin, io.TextIOWrapper(io.BytesIO(archive))
    try:
        call_command("media_archive", "import")
    finally:
        sys.stdin = saved


def files(root) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def uploads(media_root):
    (media_root / "attachments").mkdir(parents=True)
    (media_root / "attachments" / "a.txt").write_bytes(b"first\n")
    (media_root / "avatars").mkdir()
    (media_root / "avatars" / "b.png").write_bytes(b"second\n")
    return media_root


def test_import_puts_back_what_was_lost_and_keeps_the_files_made_since(uploads):
    archive = export()
    (uploads / "attachments" / "a.txt").unlink()
    (uploads / "avatars" / "b.png").write_bytes(b"damaged")
    (uploads / "attachments" / "later.txt").write_bytes(b"uploaded after the archive\n")
    import_(archive)
    assert files(uploads) == {
        "attachments/a.txt": b"first\n",
        "avatars/b.png": b"second\n",
        "attachments/later.txt": b"uploaded after the archive\n",
    }


def test_import_into_an_empty_volume_restores_every_file(uploads):
    archive = export()
    for path in list(uploads.rglob("*.*")):
        path.unlink()
    import_(archive)
    assert files(uploads) == {"attachments/a.txt": b"first\n", "avatars/b.png": b"second\n"}


def test_a_broken_archive_restores_nothing_and_leaves_no_staging(uploads):
    archive = export()
    (uploads / "attachments" / "a.txt").unlink()
    with pytest.raises(CommandError, match="nothing restored"):
        import_(archive[:600])  # in the middle of the first file
    assert files(uploads) == {"avatars/b.png": b"second\n"}
    assert not (uploads / ".restoring").exists()


def test_a_name_outside_the_uploads_is_refused(uploads):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"no"))
    with pytest.raises(CommandError, match="outside the uploads: nothing restored"):
        import_(buffer.getvalue())
    assert not (uploads.parent / "escape.txt").exists()
