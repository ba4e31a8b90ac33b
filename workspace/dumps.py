"""Backups of a deployment on demand: its database (pg_dump, custom format) and its uploads
(manage.py media_archive, the same tar for the volume and the bucket), into backups/, readable by
this user only; and the restore of such a folder."""

import os
import shutil
import time
from pathlib import Path

from invoke import Exit

from workspace.compose import ROOT
from workspace.deployment import Deployment
from workspace.shell import say, short_path

BACKUPS = ROOT / "backups"
PARTS = ("db.dump", "media.tar")
DUMP = 'pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --format=custom'
# The schema emptied first, so that tables made after the dump go too, and all of it in one
# transaction that commits only when pg_restore read the whole dump: a failed restore leaves the
# database as it was. Everything is made as the app's role (`site`, services/db/bin/site-role),
# which owns it after, and whose rights the role's script gives again.
LOAD = """
{
  echo 'BEGIN; SET client_min_messages TO warning; DROP SCHEMA public CASCADE;'
  echo 'CREATE SCHEMA public AUTHORIZATION site; SET ROLE site;'
  if pg_restore --no-owner --no-acl -f -; then
    echo 'COMMIT;'
  else
    echo 'ROLLBACK; DO $d$ BEGIN RAISE EXCEPTION $m$the dump is broken: nothing restored$m$; END $d$;'
  fi
} | psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -q -o /dev/null -v ON_ERROR_STOP=1 && site-role
"""
MEDIA = ("python", "manage.py", "media_archive")


def private_folder(path: Path) -> Path:
    """PATH made with its parents, readable by this user only: a dump holds password hashes and
    live session keys."""
    path.mkdir(mode=0o700, parents=True)
    path.chmod(0o700)
    return path


def backup(deployment: Deployment, into: Path = BACKUPS) -> Path:
    """A new folder of INTO holding db.dump and media.tar, or nothing when a part fails."""
    folder = into / time.strftime("%Y%m%d-%H%M%S")
    partial = private_folder(folder.with_name(folder.name + ".partial"))
    try:
        # pg_dump reads one snapshot of the database; the media files come after it, so every
        # file the dump names is in the archive (uploads are only ever added).
        for name, command in (("db.dump", ("db", "sh", "-c", DUMP)), ("media.tar", ("app", *MEDIA, "export"))):
            descriptor = os.open(partial / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                deployment.stream("exec", "-T", *command, stdout=out, hint="Is the stack up? `inv deploy`.")
    except BaseException:
        shutil.rmtree(partial)
        raise
    partial.rename(folder)
    say(f"Backed up {deployment.name} to {short_path(folder)}/ ({', '.join(PARTS)})")
    return folder


def snapshot(deployment: Deployment, name: str, into: Path = BACKUPS) -> Path:
    """The database alone (a release's snapshot before its migrations), as backups/NAME/db.dump;
    the leftover of a run stopped while it dumped goes first."""
    partial = into / f"{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    folder = private_folder(partial)
    try:
        descriptor = os.open(folder / "db.dump", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            deployment.stream("exec", "-T", "db", "sh", "-c", DUMP, stdout=out, hint="Is the stack up? `inv deploy`.")
    except BaseException:
        shutil.rmtree(folder)
        raise
    taken = folder.rename(into / name)
    say(f"Snapshot of the database: {short_path(taken)}/db.dump")
    return taken.relative_to(ROOT) if taken.is_relative_to(ROOT) else taken


def check_backup(folder: Path) -> None:
    """A backup holds db.dump, and media.tar unless it is a snapshot of the database alone."""
    if not (folder / "db.dump").is_file():
        raise Exit(f"{folder} is not a backup: db.dump missing (inv backup makes one).", 1)


def restore(c, deployment: Deployment, folder: Path) -> None:
    """Put FOLDER's database and uploads back into the deployment, the app stopped meanwhile."""
    # The release that serves now serves again after.
    env = {"IMAGE_TAG": deployment.serving(c, stopped=True) or "latest"}
    # Nothing writes while the data is replaced.
    deployment.compose(c, "stop proxy app worker")
    try:
        with (folder / "db.dump").open("rb") as dump:
            deployment.stream("exec", "-T", "db", "sh", "-c", LOAD, stdin=dump)
        if (folder / "media.tar").is_file():
            with (folder / "media.tar").open("rb") as media:
                deployment.stream("run", "--rm", "--no-deps", "-T", "app", *MEDIA, "import", stdin=media, env=env)
    finally:
        deployment.compose(c, "up --detach --wait", env=env)
    say(f"Restored {short_path(folder)} into {deployment.name}: {deployment.url()}")
