"""How the database's backups stand, for /status/backups: read from the database itself, where
PostgreSQL's archiver keeps its counts and the backup service records each base backup and drill
(the table workspace_backup, which services/db/bin/record-backup creates)."""

from django.conf import settings
from django.db import connection

# The oldest WAL segment still waiting for the archiver (a .ready file), its age in seconds; the
# archiver's own counts; whether archiving is on at all.
ARCHIVER = """
SELECT current_setting('archive_mode'),
       extract(epoch FROM now() - (SELECT min(modification) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready')),
       extract(epoch FROM now() - last_archived_time), last_archived_wal,
       extract(epoch FROM now() - last_failed_time), last_failed_wal
FROM pg_stat_archiver
"""
LAST = """
SELECT extract(epoch FROM now() - finished), ok, detail FROM workspace_backup
WHERE kind {} ORDER BY finished DESC LIMIT 1
"""

FIRST = "SELECT extract(epoch FROM now() - min(finished)) FROM workspace_backup WHERE kind <> 'drill' AND ok"


def last(cursor, kinds: str):
    cursor.execute("SELECT to_regclass('workspace_backup') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute(LAST.format(kinds))
    return cursor.fetchone()


def report() -> dict:
    """{"status": "ok" | "backup stale" | "off", "problems": [...], and the ages in seconds}."""
    with connection.cursor() as cursor:
        cursor.execute(ARCHIVER)
        mode, waiting, archived_age, archived_wal, failed_age, failed_wal = cursor.fetchone()
        if mode == "off":
            return {"status": "off", "problems": ["WAL archiving is off: this is no deployment's database"]}
        backup = last(cursor, "<> 'drill'")
        drill = last(cursor, "= 'drill'")
        first = first_backup_age(cursor)
    found = wal_problems(waiting, archived_age, failed_age, failed_wal) + backup_problems(backup, drill, first)
    return {
        "status": "backup stale" if found else "ok",
        "problems": found,
        "wal_waiting_seconds": round(waiting) if waiting is not None else 0,
        "last_wal_archived": archived_wal,
        "last_wal_archived_seconds_ago": round(archived_age) if archived_age is not None else None,
        "last_backup_seconds_ago": round(backup[0]) if backup else None,
        "last_drill": drill[2] if drill else None,
    }


def first_backup_age(cursor) -> float | None:
    """Seconds since the first base backup recorded; None without one."""
    cursor.execute("SELECT to_regclass('workspace_backup') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute(FIRST)
    return cursor.fetchone()[0]


def wal_problems(waiting, archived_age, failed_age, failed_wal) -> list[str]:
    wal_limit = settings.BACKUP_WAL_STALE_AFTER
    if waiting is None or waiting <= wal_limit:
        return []
    failing = (
        f" (last failure: {failed_wal})" if failed_wal and (archived_age is None or failed_age < archived_age) else ""
    )
    return [f"a WAL segment has waited {waiting:.0f} s to be archived, over {wal_limit} s{failing}"]


def backup_problems(backup, drill, first: float | None) -> list[str]:
    """What is wrong with the base backups and the drill: BACKUP and DRILL are the last of each
    (age in seconds, ok, detail) or None; FIRST, the age of the first base backup."""
    problems = []
    backup_limit = settings.BACKUP_STALE_AFTER * 3600
    if backup is None:
        problems.append("no base backup yet")
    elif not backup[1]:
        problems.append(f"the last base backup failed: {backup[2]}")
    elif backup[0] > backup_limit:
        problems.append(f"the last base backup is {backup[0] / 3600:.1f} h old, over {settings.BACKUP_STALE_AFTER:g} h")
    days = settings.BACKUP_DRILL_STALE_AFTER
    if drill is not None and not drill[1]:
        problems.append(f"the last restore drill failed: {drill[2]}")
    elif drill is not None and drill[0] > days * 86400:
        problems.append(f"the last restore drill is {drill[0] / 86400:.1f} days old, over {days:g}")
    elif drill is None and first is not None and first > days * 86400:
        problems.append(f"no restore drill in the {first / 86400:.1f} days since the first base backup, over {days:g}")
    return problems
