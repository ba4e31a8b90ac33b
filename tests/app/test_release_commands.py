"""The app's side of a release (docs/releases.md): release_state, release_migrate and
release_rollback, on the throwaway migrations of the test-only app tests/app/releasing."""

import contextlib
import json
import time

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.migrations.recorder import MigrationRecorder

REFUSAL = (
    "Refused: releasing.0002_remove_item_done drops the column releasing_item.done, which the release serving "
    "now cannot survive; deploy it in two releases (docs/releases.md) or add --allow-unsafe-migrations\n"
)


@pytest.fixture
def history(settings, transactional_db):
    """Installs the test app with one of its histories, applied up to a migration (its first by
    default). Committed, so another session can lock its table; its table and its migration
    records go afterwards, whatever the test left."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (the run uses SQLite)")
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.app.releasing"]

    def install(name, upto="0001_initial"):
        settings.MIGRATION_MODULES = {"releasing": f"tests.app.releasing.{name}"}
        call_command("migrate", "releasing", upto, verbosity=0)

    yield install
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS releasing_item")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'releasing'")


def run(capsys, *args):
    """The command's exit status, standard output and standard error, as the deploy sees them."""
    try:
        call_command(*args)
    except SystemExit as exited:
        status = exited.code
    else:
        status = 0
    out, err = capsys.readouterr()
    return status, out, err


def state(capsys):
    status, out, _ = run(capsys, "release_state")
    assert status == 0
    assert len(out.splitlines()) == 1
    return json.loads(out)


def applied():
    return sorted(name for app, name in MigrationRecorder(connection).applied_migrations() if app == "releasing")


def columns():
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, "releasing_item")}


@contextlib.contextmanager
def locked(table):
    """Another session holds TABLE in ACCESS EXCLUSIVE mode in an open transaction, as a long
    query or a forgotten transaction of the site would."""
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        other.rollback()
        other.close()


@pytest.mark.parametrize(("upto", "latest"), [("zero", None), ("0001_initial", "0001_initial")])
def test_state_is_one_json_line_with_each_apps_latest_applied_migration(history, capsys, upto, latest):
    history("additive", upto)
    recorded = state(capsys)
    assert recorded["releasing"] == latest
    assert recorded["admin"] == "0003_logentry_add_action_flag_choices"


def test_nothing_pending_says_so(db, capsys):
    assert run(capsys, "release_migrate") == (0, "No migrations to apply.\n", "")


def test_an_additive_migration_is_applied(history, capsys):
    history("additive")
    status, out, err = run(capsys, "release_migrate")
    assert (status, err) == (0, "")
    assert "Applying releasing.0002_item_note... OK" in out
    assert "note" in columns()
    assert state(capsys)["releasing"] == "0002_item_note"


def test_a_column_drop_is_refused_and_nothing_applied(history, capsys):
    history("drop")
    assert run(capsys, "release_migrate") == (3, "", REFUSAL)
    assert applied() == ["0001_initial"]
    assert "done" in columns()


def test_a_column_drop_is_applied_when_allowed(history, capsys):
    history("drop")
    status, _, err = run(capsys, "release_migrate", "--allow-unsafe-migrations")
    assert (status, err) == (0, "")
    assert applied() == ["0001_initial", "0002_remove_item_done"]
    assert "done" not in columns()


def test_the_first_migrations_of_an_app_are_not_refused(history, capsys):
    """Its tables are new: no code serving now reads them (a site's first deploy, a new app)."""
    history("drop", "zero")
    status, _, err = run(capsys, "release_migrate")
    assert (status, err) == (0, "")
    assert applied() == ["0001_initial", "0002_remove_item_done"]


@pytest.mark.parametrize(
    ("command", "upto"),
    [("release_migrate", "0001_initial"), ("release_rollback", "0002_item_note")],
)
def test_a_migration_waiting_for_a_lock_fails_after_the_timeout(history, capsys, settings, command, upto):
    history("additive", upto)
    before = state(capsys)
    args = [json.dumps({**before, "releasing": "0001_initial"})] if command == "release_rollback" else []
    settings.MIGRATION_LOCK_TIMEOUT = 1
    with locked("releasing_item"):
        started = time.monotonic()
        status, _, err = run(capsys, command, *args)
        took = time.monotonic() - started
    assert status == 4
    assert err == (
        "releasing.0002_item_note waited for a lock more than 1 s and was rolled back, so that the site's "
        "queries are not queued behind it; try again when the lock is gone (MIGRATION_LOCK_TIMEOUT).\n"
    )
    assert 1 <= took < 5
    assert state(capsys) == before


@pytest.mark.parametrize(
    ("target", "line"),
    [
        ("0001_initial", "releasing: 0002_item_note -> 0001_initial\n"),
        # An app the older release does not know goes to zero.
        (None, "releasing: 0002_item_note -> zero\n"),
    ],
)
def test_rollback_reverses_reversible_migrations(history, capsys, target, line):
    history("additive", "0002_item_note")
    older = state(capsys)
    if target:
        older["releasing"] = target
    else:
        del older["releasing"]
    assert run(capsys, "release_rollback", json.dumps(older)) == (0, line, "")
    assert state(capsys) == {**older, "releasing": target}


def test_rollback_keeps_everything_when_one_migration_is_irreversible(history, capsys):
    history("irreversible", "0002_backfill")
    newer = state(capsys)
    older = {**newer, "releasing": "0001_initial"}
    assert run(capsys, "release_rollback", json.dumps(older)) == (
        5,
        "",
        "Kept: releasing.0002_backfill cannot be reversed (RunPython without reverse_code)\n",
    )
    assert state(capsys) == newer


def test_rollback_leaves_an_app_the_older_release_does_not_know_when_it_cannot_be_reversed(history, capsys):
    """Its tables stay (no code of the older release reads them), and the rest goes back."""
    history("irreversible", "0002_backfill")
    newer = state(capsys)
    older = {app: migration for app, migration in newer.items() if app != "releasing"}
    assert run(capsys, "release_rollback", json.dumps(older)) == (
        0,
        "releasing: left as it is (the older release has no such app)\nNo migrations to reverse.\n",
        "",
    )
    assert state(capsys) == newer


def test_rollback_to_the_serving_state_does_nothing(db, capsys):
    assert run(capsys, "release_rollback", json.dumps(state(capsys))) == (0, "No migrations to reverse.\n", "")


def drops(capsys, older):
    status, out, err = run(capsys, "release_rollback", json.dumps(older), "--drops")
    assert (status, err) == (0, "")
    return json.loads(out)


def test_drops_names_the_column_a_reversal_drops_and_its_rows_and_changes_nothing(history, capsys):
    history("additive", "0002_item_note")
    newer = state(capsys)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO releasing_item (title, done, note) VALUES ('a', false, 'kept'), ('b', false, NULL)")
    older = {**newer, "releasing": "0001_initial"}
    assert drops(capsys, older) == {
        "drops": [{"table": "releasing_item", "column": "note", "rows": 1}],
        "kept": [],
    }
    assert state(capsys) == newer
    assert "note" in columns()


def test_drops_names_a_table_a_reversal_drops_with_its_rows_once(history, capsys):
    history("additive", "0002_item_note")
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO releasing_item (title, done) VALUES ('a', false), ('b', true)")
    older = state(capsys)
    del older["releasing"]
    assert drops(capsys, older) == {"drops": [{"table": "releasing_item", "column": None, "rows": 2}], "kept": []}


def test_drops_of_an_irreversible_plan_names_what_is_kept_and_drops_nothing(history, capsys):
    history("irreversible", "0002_backfill")
    older = {**state(capsys), "releasing": "0001_initial"}
    assert drops(capsys, older) == {
        "drops": [],
        "kept": ["releasing.0002_backfill cannot be reversed (RunPython without reverse_code)"],
    }
