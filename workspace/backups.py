"""A one-host deployment's continuous backups (docs/backups.md). pgBackRest, in the database's
image, archives every WAL segment as it is written; the backup service takes base backups on a
schedule and runs the restore drill. From here: a base backup now, the backups and the window
they restore to, a restore to the latest second or to a given one, and the drill with Django's
own checks against the restored copy."""

import datetime as dt
import json
import shlex
import tempfile
import time

from invoke import Exit

from workspace.deployment import APP_ROLE, Deployment
from workspace.dumps import MEDIA
from workspace.releases import manage
from workspace.shell import say

UTC = dt.UTC
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PSQL = 'psql -X -A -t -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'
# The archiver's counts: the last segment archived (when, which) and the last failure.
ARCHIVER = (
    "SELECT coalesce(extract(epoch FROM last_archived_time)::bigint, 0), coalesce(last_archived_wal, ''),"
    " coalesce(extract(epoch FROM last_failed_time)::bigint, 0), coalesce(last_failed_wal, '') FROM pg_stat_archiver"
)
HINT = "Is the deployment up? `inv deploy`; `docker compose logs backup` (with its -p and -f) shows what it did."
DRILL_PORT = 5433
# A backup someone waits for starts at once, with an immediate checkpoint (pgBackRest's
# start-fast; the scheduled one spreads its checkpoint's writes): `inv backup` of a small site
# took 8 s instead of 26.
START_FAST = "PGBACKREST_START_FAST=y"
MINUTE, HOUR = 60, 3600


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, UTC).strftime(TIME_FORMAT) + " UTC"


def age(seconds: float) -> str:
    if seconds < 2 * MINUTE:
        return f"{seconds:.0f} s"
    if seconds < 2 * HOUR:
        return f"{seconds / MINUTE:.0f} min"
    return f"{seconds / HOUR:.1f} h"


def parse_time(text: str) -> float:
    """--to's value, "YYYY-MM-DD HH:MM:SS" in UTC, as seconds since the epoch."""
    try:
        return dt.datetime.strptime(text.strip().removesuffix(" UTC"), TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise Exit(
            f'--to "{text}" is not a time: give "YYYY-MM-DD HH:MM:SS", in UTC (inv backups shows the window).', 1
        ) from None


def sql(c, deployment: Deployment, query: str) -> str | None:
    """QUERY's output from the live database; None when it does not answer."""
    command = f"exec -T db sh -c {shlex.quote(f'{PSQL} -c {shlex.quote(query)}')}"
    done = deployment.compose(c, command, hide=True, echo=False, check=False, pty=False)
    return done.stdout.strip() if done.ok else None


def repository(c, deployment: Deployment) -> dict:
    """pgBackRest's view of the repository (`pgbackrest info`), read in a container of its own, so
    that it answers with the database and the backup service gone too (on a new host, its image
    built first)."""
    image = f"{deployment.settings.get('IMAGE_PREFIX') or 'django-compose-workspace'}-db:17"
    if deployment.docker(c, f"image inspect {image}", hide=True, warn=True).failed:
        deployment.compose(c, "build backup", hint="Read the build output above.")
    done = deployment.compose(
        c, "run --rm --no-deps -T backup pgbackrest info --output=json", hide=True, echo=False, check=False, pty=False
    )
    if done.failed or not done.stdout.strip().startswith("["):
        reason = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise Exit(f"The backups of {deployment.name} cannot be read: {reason}\nHint: {HINT}", 1)
    return json.loads(done.stdout)[0]


def archiver(c, deployment: Deployment) -> dict | None:
    return parse_archiver(sql(c, deployment, ARCHIVER))


def parse_archiver(found: str | None) -> dict | None:
    """The ARCHIVER query's answer; None when the database did not answer."""
    fields = (found or "").split("|")
    if len(fields) != len(("archived", "wal", "failed", "failed_wal")):
        return None
    archived, wal, failed, failed_wal = fields
    return {"archived": int(archived), "wal": wal, "failed": int(failed), "failed_wal": failed_wal}


def window(info: dict, live: dict | None) -> tuple[float, float] | None:
    """The first and the last second the backups restore to: from the end of the oldest base
    backup to the last archived WAL (or the newest backup's end); None without a backup."""
    backups = info.get("backup") or []
    if not backups:
        return None
    latest = max(backup["timestamp"]["stop"] for backup in backups)
    if live and live["archived"]:
        latest = max(latest, live["archived"])
    return backups[0]["timestamp"]["stop"], latest


def describe(info: dict, live: dict | None, now: float) -> list[str]:
    """What `inv backups` prints: each base backup, the window, and how fresh the archive is."""
    backups = info.get("backup") or []
    lines = [f"Repository: {info.get('cipher', 'none')} encryption, status {info['status']['message']}"]
    for backup in backups:
        size = backup["info"]["repository"]["delta"] / 1e6
        lines.append(
            f"  {backup['label']:24} {backup['type']:5} {stamp(backup['timestamp']['stop'])}  {size:.1f} MB stored"
        )
    span = window(info, live)
    if span is None:
        return [*lines, "No base backup yet: `inv backup` takes one."]
    lines.append(f"Restore window: {stamp(span[0])} to {stamp(span[1])}")
    freshness = f"Last base backup {age(now - backups[-1]['timestamp']['stop'])} ago"
    if live is None:
        freshness += "; the database does not answer, so the archiver's state is unknown"
    elif live["archived"]:
        freshness += f"; last WAL archived {age(now - live['archived'])} ago ({live['wal']})"
        if live["failed"] > live["archived"]:
            freshness += f"; archiving FAILS since {stamp(live['failed'])} ({live['failed_wal']})"
    return [*lines, freshness + "."]


def listing(c, deployment: Deployment) -> None:
    for line in describe(repository(c, deployment), archiver(c, deployment), time.time()):
        print(line)


def base_backup(c, deployment: Deployment) -> None:
    deployment.compose(c, f"exec -T -e {START_FAST} backup backup-run full", hint=HINT)


def archived_now(c, deployment: Deployment) -> None:
    """Everything the live database has written, archived (services/db/bin/archive-now)."""
    deployment.compose(c, "run --rm --no-deps -T backup archive-now", hint="Nothing restored: `inv backups` says why.")


def wait_promoted(c, deployment: Deployment, timeout: float = 900) -> None:
    """Until the restored database has replayed its WAL and takes writes."""
    deadline = time.monotonic() + timeout
    while sql(c, deployment, "SELECT pg_is_in_recovery()") != "f":
        status = deployment.compose(c, "ps --all --format '{{.State}}' db", hide=True, echo=False, pty=False)
        if time.monotonic() > deadline or "exited" in status.stdout:
            logs = deployment.compose(c, "logs --no-log-prefix --tail 40 db", hide=True, echo=False, pty=False)
            fatal = [line for line in logs.stdout.splitlines() if "FATAL" in line or "PANIC" in line]
            reason = (fatal or ["no answer within the time"])[-1]
            raise Exit(
                f"The restored database did not start: {reason}\nHint: `inv restore --latest` replays all there is.", 1
            )
        time.sleep(1)


def restore_target(deployment: Deployment, info: dict, live: dict | None, to: str) -> float | None:
    """The second --to names (None: the latest), checked against the window before anything stops."""
    target = parse_time(to) if to else None
    span = window(info, live)
    if span is None:
        raise Exit(f"No base backup of {deployment.name} to restore from: `inv backups` lists them.", 1)
    if target is not None and not span[0] <= target <= time.time():
        raise Exit(f'--to "{to}" is outside the window the backups restore to: {stamp(span[0])} to now.', 1)
    return target


HALF_RESTORED = "The database is stopped and may be half-restored: run the same `inv restore` again."


def restore_command(target: float | None) -> str:
    """pgBackRest's delta restore, to TARGET or to the end of the archive."""
    options = "--delta --log-level-console=warn"
    if target is not None:
        moment = shlex.quote(stamp(target).removesuffix(" UTC") + "+00")
        options += f" --type=time --target={moment} --target-action=promote"
    return f"pgbackrest restore {options}"


def restore(c, deployment: Deployment, to: str = "") -> None:
    """The database back to TO ("YYYY-MM-DD HH:MM:SS", UTC) or to the last second archived, the
    app stopped meanwhile; the serving release serves again after."""
    target = restore_target(deployment, repository(c, deployment), archiver(c, deployment), to)
    env = {"IMAGE_TAG": deployment.serving(c, stopped=True) or "latest"}
    started = time.monotonic()
    # Nothing writes while the database goes back.
    deployment.compose(c, "stop proxy app worker backup")
    try:
        archived_now(c, deployment)
    except Exit:
        deployment.compose(c, "up --detach --wait", env=env)
        raise
    deployment.compose(c, "stop db")
    deployment.compose(c, f"run --rm --no-deps -T db {restore_command(target)}", hint=HALF_RESTORED)
    deployment.compose(c, "up --detach --wait db")
    wait_promoted(c, deployment)
    if deployment.media_storage == "volume":
        restore_uploads(deployment, target, env)
    deployment.compose(c, "up --detach --wait", env=env)
    moment = stamp(target) if target is not None else "the last second archived"
    say(f"Restored {deployment.name} to {moment} in {time.monotonic() - started:.0f} s: {deployment.url()}")


def restore_uploads(deployment: Deployment, target: float | None, env: dict[str, str]) -> None:
    """The files of the uploads' newest snapshot at or before TARGET (or the newest) put back into
    the media volume, through the archive `inv backup --dump` uses, once all of it was read. No
    file is deleted: the uploads made since the snapshot are named by the rows the WAL restored."""
    before = [str(int(target))] if target is not None else []
    with tempfile.TemporaryFile() as archive:
        try:
            deployment.stream("run", "--rm", "--no-deps", "-T", "backup", "media-archive", *before, stdout=archive)
        except Exit:
            say("The uploads stay as they are: no snapshot of them to restore (the line above says why).")
            return
        archive.seek(0)
        deployment.stream("run", "--rm", "--no-deps", "-T", "app", *MEDIA, "import", stdin=archive, env=env)


def verify(c, deployment: Deployment) -> None:
    """The restore drill (services/db/bin/backup-drill), then `manage.py check` and `migrate
    --check` of the serving release against the restored copy; the copy is gone after."""
    deployment.compose(c, "exec -T backup backup-drill start", hint="The backups may not restore: read the line above.")
    try:
        database = deployment.settings.get("POSTGRES_DB") or "app"
        url = {"DATABASE_URL": f"postgres://{APP_ROLE}@backup:{DRILL_PORT}/{database}"}
        release = deployment.serving(c) or "latest"
        for command in ("check --database default", "migrate --check"):
            manage(c, deployment, release, command, env=url, hint="The restored copy fails Django's checks: see above.")
    finally:
        deployment.compose(c, "exec -T backup backup-drill stop", hide=True, check=False)
    say("The latest backup restores, and Django's checks pass against it.")
