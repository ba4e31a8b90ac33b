"""What the release commands share (docs/releases.md): the migration state a release records, and
the lock timeout their migrations run under."""

import contextlib

from django.conf import settings
from django.db import OperationalError

# The exit status of a migration that waited too long for a lock.
LOCKED = 4
# PostgreSQL's code for "canceling statement due to lock timeout".
LOCK_NOT_AVAILABLE = "55P03"


def migration_state(loader):
    """Every app with migrations and the name of its latest applied one (None: none applied)."""
    state = {}
    for app in sorted(loader.migrated_apps):
        plan = [node for leaf in loader.graph.leaf_nodes(app) for node in loader.graph.forwards_plan(leaf)]
        applied = [name for label, name in plan if label == app and (label, name) in loader.applied_migrations]
        state[app] = applied[-1] if applied else None
    return state


class Progress:
    """The migration in progress, as the migration executor's progress callback reports it."""

    migration = None

    def __call__(self, action, migration=None, *_fake):
        if action in {"apply_start", "unapply_start"}:
            self.migration = migration


@contextlib.contextmanager
def lock_timeout(connection, command, progress):
    """Runs the block with PostgreSQL's lock_timeout at MIGRATION_LOCK_TIMEOUT seconds on the
    session. A migration that waits longer for a lock fails and is rolled back (each runs in a
    transaction), rather than queue the site's queries behind the lock it waits for: the command
    stops with one line naming it, status 4."""
    if connection.vendor != "postgresql":
        yield
        return
    seconds = settings.MIGRATION_LOCK_TIMEOUT
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{seconds}s"])
    try:
        yield
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        command.stderr.write(
            f"{progress.migration or 'A migration'} waited for a lock more than {seconds} s and was rolled back, "
            "so that the site's queries are not queued behind it; try again when the lock is gone "
            "(MIGRATION_LOCK_TIMEOUT)."
        )
        raise SystemExit(LOCKED) from None
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
