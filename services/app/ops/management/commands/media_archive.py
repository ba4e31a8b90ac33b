import mimetypes
import os
import posixpath
import shutil
import sys
import tarfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

# Where an import puts the archive's files until it has read all of it: an archive that breaks
# off restores nothing.
STAGING = ".restoring/"


class Command(BaseCommand):
    help = (
        "The uploads as one tar on stdout (export), or the tar on stdin put back (import): every "
        "file of the archive restored, and no other file deleted. The same for both stores: an "
        "archive of the media volume restores into a bucket and back."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("direction", choices=["export", "import"])

    def handle(self, *args, direction, **options):
        bucket = getattr(default_storage, "bucket", None)
        store = Bucket(bucket) if bucket is not None else Volume(Path(settings.MEDIA_ROOT))
        if direction == "export":
            with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
                store.export(tar)
            return
        store.discard()
        try:
            with tarfile.open(fileobj=sys.stdin.buffer, mode="r|*") as tar:
                for member in tar:
                    if member.isfile():
                        store.stage(upload_name(member), tar.extractfile(member))
        except tarfile.TarError as error:
            store.discard()
            raise CommandError(f"The archive is broken ({error}): nothing restored.") from error
        except BaseException:
            store.discard()
            raise
        # Files the archive lacks stay: an upload made after it may be named by a row that a
        # restore to a later moment brings back, and Django never writes two files under one name.
        store.put_back()


def upload_name(member: tarfile.TarInfo) -> str:
    """The name of an archive's file among the uploads; refused when it points outside them."""
    name = posixpath.normpath(member.name)
    if name.startswith(("/", "..", STAGING)) or name == STAGING.rstrip("/"):
        raise CommandError(f"{member.name} in the archive is outside the uploads: nothing restored.")
    return name


class Volume:
    """The uploads in the media volume (MEDIA_ROOT)."""

    def __init__(self, root: Path):
        self.root = root
        self.staging = root / STAGING

    def export(self, tar: tarfile.TarFile) -> None:
        for path in sorted(self.root.rglob("*")):
            name = path.relative_to(self.root).as_posix()
            if path.is_file() and not name.startswith(STAGING):
                # Named as `tar -C media .` names them.
                tar.add(path, arcname=f"./{name}", recursive=False)

    def stage(self, name: str, content) -> None:
        # The folders stay writable for the app's group, as start.sh makes them.
        os.umask(0o002)
        target = self.staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            shutil.copyfileobj(content, out)

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def put_back(self) -> None:
        """Each staged file moved into place, over a file of the same name."""
        os.umask(0o002)
        for path in sorted(self.staging.rglob("*")):
            if path.is_file():
                target = self.root / path.relative_to(self.staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.replace(target)
        self.discard()


class Bucket:
    """The uploads in the bucket (MEDIA_STORAGE=s3)."""

    def __init__(self, bucket):
        self.bucket = bucket

    def export(self, tar: tarfile.TarFile) -> None:
        """Streams every object into the tar, one after the other: nothing is held in memory or on disk."""
        for summary in self.bucket.objects.all():
            if summary.key.startswith(STAGING):
                continue
            info = tarfile.TarInfo(f"./{summary.key}")
            info.size, info.mtime, info.mode = summary.size, summary.last_modified.timestamp(), 0o664
            tar.addfile(info, summary.get()["Body"])

    def stage(self, name: str, content) -> None:
        # One upload at a time, in memory: each is at most CLIENT_MAX_BODY_SIZE.
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.bucket.put_object(Key=STAGING + name, Body=content.read(), ContentType=content_type)

    def discard(self) -> None:
        self.bucket.objects.filter(Prefix=STAGING).delete()

    def put_back(self) -> None:
        """Each staged object copied into place inside the store, over an object of the same name."""
        for staged in self.bucket.objects.filter(Prefix=STAGING):
            name = staged.key.removeprefix(STAGING)
            self.bucket.Object(name).copy_from(CopySource={"Bucket": self.bucket.name, "Key": staged.key})
        self.discard()
