from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.management.commands import migrate
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_migration_linter import MigrationLinter
from django_migration_linter.sql_analyser import analyse_sql_statements

from ops.releases import Progress, lock_timeout

# The exit status of a refused migration.
REFUSED = 3
# What each of the linter's errors does, in a sentence's words; the linter's own words otherwise.
DOES = {
    "DROP_COLUMN": "drops the column",
    "RENAME_COLUMN": "renames the column",
    "ALTER_COLUMN": "changes the type of the column",
    "DROP_TABLE": "drops the table",
    "RENAME_TABLE": "renames the table",
    "NOT_NULL": "adds a NOT NULL column without a database default",
    "ADD_UNIQUE": "adds a unique constraint",
}


class Migrate(migrate.Command):
    """Django's migrate (its output and its signals), telling which migration is in progress."""

    def __init__(self, progress, **kwargs):
        super().__init__(**kwargs)
        self.progress = progress

    def migration_progress_callback(self, action, migration=None, *fake):
        self.progress(action, migration)
        super().migration_progress_callback(action, migration, *fake)


class Command(BaseCommand):
    help = (
        "The release phase's migrations (docs/releases.md), run with the new release's code while the "
        "old one still serves: refused (status 3, nothing applied) when the linter finds one the "
        "serving code cannot survive; applied with a lock timeout of MIGRATION_LOCK_TIMEOUT seconds "
        "(status 4 when one waits longer)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-unsafe-migrations",
            action="store_true",
            help="apply them all the same: the second release of a two-release change, or a planned downtime",
        )

    def handle(self, *args, allow_unsafe_migrations, verbosity, **options):
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not pending:
            self.stdout.write("No migrations to apply.")
            return
        unsafe = [] if allow_unsafe_migrations else self.unsafe(migration for migration, _ in pending)
        if unsafe:
            self.stderr.write(
                f"Refused: {'; '.join(unsafe)}, which the release serving now cannot survive; deploy it in "
                "two releases (docs/releases.md) or add --allow-unsafe-migrations"
            )
            raise SystemExit(REFUSED)
        progress = Progress()
        command = Migrate(progress)
        command.stdout, command.stderr = self.stdout, self.stderr
        with lock_timeout(connection, self, progress):
            call_command(command, verbosity=verbosity)

    def unsafe(self, migrations):
        """The pending migrations django-migration-linter finds backward incompatible, each with what
        it does. The migrations of an app with none applied yet are left out: their tables are new,
        so no code serving now reads them (the first deploy, an app the release adds)."""
        linter = MigrationLinter(only_unapplied_migrations=True, no_output=True)
        started = {app for app, _ in linter.migration_loader.applied_migrations}
        found = []
        for migration in migrations:
            app, name = migration.app_label, migration.name
            if app not in started or linter.should_ignore_migration(app, name, migration.operations):
                continue
            sql = linter.get_sql(app, name)
            errors, _, _ = analyse_sql_statements(linter.sql_analyser_class, sql, linter.exclude_migration_tests)
            errors += linter.analyse_data_migration(migration)[0]
            if errors:
                found.append(f"{migration} {' and '.join(map(describe, errors))}")
        return found


def describe(issue):
    """`drops the column shop_order.note`, from the linter's issue."""
    where = ".".join(filter(None, (issue.table, issue.column)))
    return " ".join(filter(None, (DOES.get(issue.code, issue.message), where)))
