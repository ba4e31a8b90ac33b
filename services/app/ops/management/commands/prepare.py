"""What the app's container does before uWSGI starts (start.sh), in one process rather than one
Django start-up per step: wait for the database, migrate (unless a deploy migrates once for all
replicas), and with DEBUG off collect the static files and compress the new ones."""

import fcntl
import gzip
import os
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

# Text files nginx sends compressed as they are (gzip_static), instead of compressing the same
# file again for every request.
COMPRESSED = {".css", ".js", ".svg", ".txt", ".json", ".map"}


class Command(BaseCommand):
    help = "Wait for the database, migrate, collect and compress the static files: the app's start."

    def add_arguments(self, parser):
        parser.add_argument("--no-migrate", action="store_true", help="leave the migrations to `inv deploy`")

    def handle(self, *args, no_migrate, verbosity, **options):
        call_command("wait_for_db", verbosity=verbosity)
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=verbosity)
        # With DEBUG on (the development stack) Django serves /static/ from the apps' folders as
        # they are now, so an edit shows on the next request: nothing to collect.
        if not settings.DEBUG:
            collect(Path(settings.STATIC_ROOT), verbosity)


def collect(root: Path, verbosity: int) -> None:
    # Replicas starting together share the volume: one collects at a time (a lock on the folder
    # itself), so none deletes or compresses a file another is writing.
    folder = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        call_command("collectstatic", interactive=False, verbosity=verbosity)
        for path in root.rglob("*"):
            if path.suffix in COMPRESSED and path.is_file():
                compress(path)
    finally:
        os.close(folder)


def compress(path: Path) -> None:
    """PATH.gz, unless it is there already and as new as PATH: collectstatic leaves a file it
    copied before as it was, so a start compresses only what changed."""
    packed = path.with_name(path.name + ".gz")
    made = path.stat().st_mtime_ns
    if packed.exists() and packed.stat().st_mtime_ns >= made:
        return
    partial = packed.with_name(packed.name + ".partial")
    with path.open("rb") as source, gzip.GzipFile(partial, "wb", 9, mtime=0) as target:
        shutil.copyfileobj(source, target)
    os.utime(partial, ns=(made, made))
    partial.replace(packed)
