import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations import RunPython, RunSQL
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django_migration_linter import MigrationLinter
from django_migration_linter.sql_analyser import analyse_sql_statements

from ops.releases import Progress, lock_timeout, migration_state

# The exit status when a migration to reverse cannot be: none is reversed.
KEPT = 5


class Command(BaseCommand):
    help = (
        "Migrate every app back to STATE, an older release's migration state (release_state), when every "
        "migration to reverse can be (status 5 and none reversed otherwise); apps STATE does not know go "
        "to zero, or stay as they are when they cannot. Runs with the newer release's code, which knows the "
        "migrations to reverse."
    )

    def add_arguments(self, parser):
        parser.add_argument("state", help='release_state\'s JSON line, e.g. {"core": "0003_attachment_index"}')
        parser.add_argument(
            "--drops",
            action="store_true",
            help="change nothing: one JSON line of the tables and columns the reversal would drop, with "
            "the rows holding data in each, and the migrations that cannot be reversed",
        )

    def handle(self, *args, state, drops, **options):
        wanted = parse_state(state)
        progress = Progress()
        executor = MigrationExecutor(connection, progress)
        loader = executor.loader
        before = migration_state(loader)
        targets = [(app, wanted.get(app)) for app, now in before.items() if wanted.get(app) != now]
        for app, target in targets:
            if target is not None and (app, target) not in loader.graph.nodes:
                raise CommandError(f"{app}.{target} is not a migration of this release: it cannot go back to it.")
        plan = executor.migration_plan(targets)
        if not all(backwards for _, backwards in plan):
            raise CommandError("STATE needs migrations applied that the database does not have: it is no older state.")
        targets, plan, unknown = leave_unknown_apps(executor, targets, plan, wanted)
        kept = [f"{migration} cannot be reversed ({why})" for migration, _ in plan if (why := irreversible(migration))]
        if drops:
            self.stdout.write(json.dumps({"drops": [] if kept else dropped(executor, plan), "kept": kept}))
            return
        for app in sorted(unknown):
            self.stdout.write(f"{app}: left as it is (the older release has no such app)")
        if not plan:
            self.stdout.write("No migrations to reverse.")
            return
        if kept:
            self.stderr.write(f"Kept: {'; '.join(kept)}")
            raise SystemExit(KEPT)
        with lock_timeout(connection, self, progress):
            executor.migrate(targets, plan=plan)
        after = migration_state(MigrationLoader(connection))
        for app, now in before.items():
            if after[app] != now:
                self.stdout.write(f"{app}: {now} -> {after[app] or 'zero'}")


def leave_unknown_apps(executor, targets, plan, wanted):
    """TARGETS and PLAN without the apps the older release does not know (WANTED) whose migrations
    cannot be reversed (a library's raw SQL): they stay as they are, as no code of that release
    reads their tables. Returns the targets, the plan and the apps left."""
    unknown = {
        migration.app_label for migration, _ in plan if migration.app_label not in wanted and irreversible(migration)
    }
    if not unknown:
        return targets, plan, unknown
    targets = [(app, target) for app, target in targets if app not in unknown]
    return targets, executor.migration_plan(targets), unknown


def parse_state(state: str) -> dict:
    try:
        wanted = json.loads(state)
    except ValueError:
        wanted = None
    if not isinstance(wanted, dict):
        raise CommandError(f"STATE is release_state's JSON line, not {state!r}.")
    return wanted


def irreversible(migration):
    """Why MIGRATION's operations cannot be reversed, or "" when they all can."""
    reasons = {
        "RunPython without reverse_code"
        if isinstance(operation, RunPython)
        else "RunSQL without reverse_sql"
        if isinstance(operation, RunSQL)
        else f"{type(operation).__name__} is irreversible"
        for operation in migration.operations
        if not operation.reversible
    }
    return ", ".join(sorted(reasons))


def dropped(executor, plan):
    """The tables and columns reversing PLAN drops, read from its SQL as release_migrate reads a
    migration's, each with its rows holding data: [{"table", "column" (None for a table), "rows"}]."""
    linter = MigrationLinter(no_output=True)
    errors, _, _ = analyse_sql_statements(linter.sql_analyser_class, executor.loader.collect_sql(plan))
    tables = {issue.table for issue in errors if issue.code == "DROP_TABLE"}
    columns = {
        (issue.table, issue.column) for issue in errors if issue.code == "DROP_COLUMN" and issue.table not in tables
    }
    quote = connection.ops.quote_name
    found = []
    with connection.cursor() as cursor:
        for table, column in sorted({(table, None) for table in tables} | columns, key=lambda d: (d[0], d[1] or "")):
            holding = f" WHERE {quote(column)} IS NOT NULL" if column else ""
            cursor.execute(f"SELECT count(*) FROM {quote(table)}{holding}")  # noqa: S608 # names from the migrations
            found.append({"table": table, "column": column, "rows": cursor.fetchone()[0]})
    return found
