import mimetypes
import posixpath
import sys
import tarfile

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

# Where an import puts the archive's objects until it has read all of it.
STAGING = ".restoring/"


class Command(BaseCommand):
    help = (
        "The uploads in the bucket (MEDIA_STORAGE=s3) as a tar on stdout (export), or replaced by "
        "the tar on stdin (import). The tar is the one `inv backup` makes of the media volume."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("direction", choices=["export", "import"])

    def handle(self, *args, direction, **options):
        bucket = getattr(default_storage, "bucket", None)
        if bucket is None:
            raise CommandError("MEDIA_STORAGE is not s3: the uploads are in the media volume.")
        if direction == "export":
            export(bucket)
        else:
            replace(bucket)


def export(bucket) -> None:
    """Streams every object into the tar, one after the other: nothing is held in memory or on disk."""
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
        for summary in bucket.objects.all():
            # Named as in the volume's archive (tar -C media .), so either restores into either.
            info = tarfile.TarInfo(f"./{summary.key}")
            info.size, info.mtime, info.mode = summary.size, summary.last_modified.timestamp(), 0o664
            tar.addfile(info, summary.get()["Body"])


def replace(bucket) -> None:
    """The archive's files become the bucket's objects. They are uploaded under STAGING first: an
    archive that breaks off replaces nothing. Then each is copied into place inside the store, and
    the objects the archive does not hold are deleted."""
    bucket.objects.filter(Prefix=STAGING).delete()
    try:
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = upload_name(member)
                # One upload at a time, in memory: each is at most CLIENT_MAX_BODY_SIZE.
                content = tar.extractfile(member).read()
                content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
                bucket.put_object(Key=STAGING + name, Body=content, ContentType=content_type)
    except tarfile.TarError as error:
        bucket.objects.filter(Prefix=STAGING).delete()
        raise CommandError(f"The archive is broken ({error}): nothing replaced.") from error
    except BaseException:
        bucket.objects.filter(Prefix=STAGING).delete()
        raise
    restored = set()
    for staged in bucket.objects.filter(Prefix=STAGING):
        name = staged.key.removeprefix(STAGING)
        bucket.Object(name).copy_from(CopySource={"Bucket": bucket.name, "Key": staged.key})
        restored.add(name)
    for summary in bucket.objects.all():
        if summary.key not in restored and not summary.key.startswith(STAGING):
            summary.delete()
    bucket.objects.filter(Prefix=STAGING).delete()


def upload_name(member: tarfile.TarInfo) -> str:
    """The name of an archive's file among the uploads; refused when it points outside them."""
    name = posixpath.normpath(member.name)
    if name.startswith(("/", "..", STAGING)):
        raise CommandError(f"{member.name} in the archive is outside the uploads: nothing replaced.")
    return name
