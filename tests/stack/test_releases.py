"""Releases on one host (`inv deploy`, `inv releases`, `inv rollback`), under a steady load of
readers and logged-in writers: a changed release and its migration switch without a failed
request, a broken one never takes traffic, a rollback asks before it drops rows and snapshots
them, reverses what it can and names the snapshot where it cannot, and the release phase refuses
unsafe or blocked migrations before anything switches, and goes ahead when told to. One site, in
a copy of the repository that the tests change as a developer would, deployed release after
release."""

import itertools
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.stack.support import TEST_APP, Stack, add_migration, add_note_model, remove_images, site_copy
from tests.stack.traffic import Browser, Traffic, get
from tests.support import first_group
from workspace.compose import DEPLOY_FILES

pytestmark = pytest.mark.stack

# A data migration without a way back (no reverse_code).
MARK = """

def mark(apps, schema_editor):
    apps.get_model("journal", "Entry").objects.create(title="irreversible")
"""
# The note's text column is there ("1") or not ("0").
NOTE_TEXT = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'journal_note' AND column_name = 'text'"


class Site:
    """The site's copy of the repository, its deploy settings, and a logged-in writer."""

    def __init__(self, path: Path, stack: Stack):
        self.path, self.stack = path, stack
        self.app = path / "services" / "app"
        self.writer = Browser()

    def inv(self, *args: str, timeout=900) -> subprocess.CompletedProcess:
        """`inv ARGS --env-file <the site's>` in the copy; stdout and stderr together."""
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args, "--env-file", str(self.stack.env_file)],
            cwd=self.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )

    def migration(self, name: str, operations: str, imports: str = "") -> Path:
        return add_migration(self.app, name, operations, imports)

    def sql(self, query: str) -> str:
        command = ("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-At", "-c", query)
        return self.stack.compose(*command).stdout.strip()

    def under_load(self, *args: str) -> tuple[subprocess.CompletedProcess, list[Traffic], float]:
        """`inv ARGS` while readers and a writer keep the site busy, each write enqueuing a task;
        returns the run, the traffic and the seconds it took."""
        clients = [Traffic([self.stack.url]) for _ in range(3)]
        clients.append(Traffic([self.stack.url], writer=self.writer, then="note"))
        for client in clients:
            client.start()
        try:
            started = time.monotonic()
            result = self.inv(*args)
            took = time.monotonic() - started
            time.sleep(1)
        finally:
            for client in clients:
                client.stop()
        return result, clients, took


def serving_release(site: Site) -> str:
    """The image the site's app containers run: the serving release's."""
    containers = site.stack.compose("ps", "-q", "app").stdout.split()
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{.Config.Image}}", *containers], capture_output=True, text=True, check=True
    )
    images = set(inspected.stdout.split())
    assert len(images) == 1, images
    return images.pop()


def failures(clients: list[Traffic]) -> list:
    return [answer for client in clients for answer, _, _ in client.answers if answer not in (200, 302)]


def longest_gap(clients: list[Traffic]) -> float:
    """The longest time no answer came back, across all the clients."""
    finished = sorted(end for client in clients for _, _, end in client.answers)
    return max((b - a for a, b in itertools.pairwise(finished)), default=0.0)


def requests_per_second(clients: list[Traffic], took: float) -> float:
    return sum(len(client.answers) for client in clients) / took


def report(what: str, result, clients, took) -> None:
    print(
        f"{what}: {took:.1f}s, {sum(len(c.answers) for c in clients)} requests "
        f"({requests_per_second(clients, took):.0f}/s), {len(failures(clients))} failed, "
        f"longest gap between answers {longest_gap(clients):.2f}s"
    )


@pytest.fixture(scope="module")
def site(built_images, stack_tmp):
    base = Path(tempfile.mkdtemp(prefix="releases-"))
    stack = Stack(
        stack_tmp,
        files=DEPLOY_FILES,
        HTTPS="true",
        APP_REPLICAS="2",
        FORWARDED_ALLOW_IPS="*",
        MIGRATION_LOCK_TIMEOUT="2",
        RELEASE_HEALTH_TIMEOUT="45",
    )
    stack.env.update(COMPOSE_PROJECT_NAME=stack.project, IMAGE_PREFIX=stack.project)
    stack.write_env()
    running = Site(site_copy(base / "site"), stack)
    try:
        first = running.inv("deploy")
        assert first.returncode == 0, first.stdout[-5000:]
        password = uuid.uuid4().hex
        names = {"DJANGO_SUPERUSER_USERNAME": "writer", "DJANGO_SUPERUSER_PASSWORD": password}
        stack.manage("createsuperuser", "--noinput", "--email", "w@example.com", env=names)
        running.writer.log_in(stack.url, "writer", password)
        yield running
    finally:
        stack.down()
        remove_images(stack)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_a_changed_release_with_a_new_model_switches_under_load_without_a_failed_request(site):
    base = site.app / "templates" / "base.html"
    base.write_text(base.read_text().replace("</body>", "<p>release two</p></body>"))
    add_note_model(site.app)
    result, clients, took = site.under_load("deploy")
    report("deploy of a changed release with a migration", result, clients, took)
    assert result.returncode == 0, result.stdout[-5000:]
    assert requests_per_second(clients, took) >= 20
    assert failures(clients) == []
    written = [title for client in clients for title in client.written]
    stored = set(site.sql("SELECT title FROM journal_entry").splitlines())
    assert written, "the writer wrote"
    assert set(written) <= stored, "every acknowledged write is stored"
    # Every write's task ran, the old worker's, those enqueued while the worker changed release,
    # the new one's.
    noted = {f"{title}: noted" for title in written}
    deadline = time.monotonic() + 60
    while missing := noted - set(site.sql("SELECT title FROM journal_entry WHERE title LIKE '%: noted'").splitlines()):
        assert time.monotonic() < deadline, f"{len(missing)} of {len(noted)} tasks never ran: {sorted(missing)[:5]}"
        time.sleep(1)
    assert "release two" in get(site.stack.url + "/").text
    assert site.sql("SELECT to_regclass('journal_note')") == "journal_note"
    assert re.search(r"Snapshot of the database: backups/before-\S+/db.dump", result.stdout)


def test_releases_lists_them_newest_first_and_marks_the_serving_one(site):
    listed = site.inv("releases")
    assert listed.returncode == 0, listed.stdout
    lines = [line for line in listed.stdout.splitlines() if re.match(r"^\d{8}-\d{6}", line)]
    assert len(lines) == 2, listed.stdout
    assert lines[0].endswith("<- serving")


def test_a_release_that_never_gets_healthy_takes_no_traffic(site):
    check = site.app / "healthcheck.py"
    working = check.read_text()
    check.write_text("raise SystemExit('broken on purpose')\n" + working)
    try:
        result, clients, took = site.under_load("deploy")
    finally:
        check.write_text(working)
    report("deploy of a release that never gets healthy", result, clients, took)
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1].startswith("The release "), result.stdout[-3000:]
    assert "did not get healthy" in result.stdout
    assert failures(clients) == []
    assert "release two" in get(site.stack.url + "/").text


def test_a_rollback_that_drops_rows_asks_first_snapshots_them_and_reverses_its_migration(site):
    site.sql("INSERT INTO journal_note (text) VALUES ('a note'), ('another')")
    asked = site.inv("rollback")
    assert asked.returncode == 1, asked.stdout[-3000:]
    assert "drops the table journal_note (2 rows)" in asked.stdout, asked.stdout[-3000:]
    assert asked.stdout.strip().splitlines()[-1] == "Nothing rolled back. Add --yes to roll back without asking."
    assert "release two" in get(site.stack.url + "/").text, "nothing switched"
    entries = site.sql("SELECT count(*) FROM journal_entry")
    result, clients, took = site.under_load("rollback", "--yes")
    report("rollback with a reversible migration", result, clients, took)
    assert result.returncode == 0, result.stdout[-5000:]
    assert failures(clients) == []
    assert "release two" not in get(site.stack.url + "/").text
    assert site.sql("SELECT to_regclass('journal_note')") == "", "the migration was reversed"
    assert int(site.sql("SELECT count(*) FROM journal_entry")) >= int(entries), "the other tables are as they were"
    # The rows dropped come back from the snapshot taken before they went.
    snapshot = first_group(r"`inv restore --dump (backups/before-rollback-\S+)` brings it back", result.stdout)
    restored = site.inv("restore", "--dump", snapshot, "--yes")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert site.sql("SELECT text FROM journal_note ORDER BY text") == "a note\nanother"


def test_an_unsafe_migration_is_refused_before_anything_changes_and_the_same_deploy_allowed_goes_ahead(site):
    serving = serving_release(site)
    # The note's text goes: a column the serving release's model still has.
    site.migration("drop_note_text", "[migrations.RemoveField('note', 'text')]")
    models = site.app / TEST_APP / "models.py"
    models.write_text(
        models.read_text().replace('    text = models.CharField(max_length=200, default="")\n', "    pass\n")
    )
    # Irreversible on top: a data migration without a way back.
    site.migration(
        "mark_seen",
        "[migrations.RunPython(mark)]",
        imports=MARK,
    )
    refused = site.inv("deploy")
    assert refused.returncode == 1
    refusal = next(
        (line for line in refused.stdout.splitlines() if line.startswith("Refused: ")), refused.stdout[-3000:]
    )
    assert re.match(r"Refused: journal\.0\d+_drop_note_text drops the column", refusal), refusal
    assert site.sql(NOTE_TEXT) == "1", "nothing was applied"
    assert serving_release(site) == serving, "nothing switched"
    # The same release again, as the refusal's hint says: its snapshot taken again.
    result, clients, took = site.under_load("deploy", "--allow-unsafe-migrations")
    report("the refused deploy again, allowed", result, clients, took)
    assert result.returncode == 0, result.stdout[-5000:]
    assert failures(clients) == []
    assert re.search(r"Snapshot of the database: backups/before-\S+/db.dump", result.stdout)
    assert site.sql("SELECT count(*) FROM journal_entry WHERE title = 'irreversible'") == "1"


def test_rollback_over_an_irreversible_migration_keeps_it_and_names_the_snapshot_that_restores(site):
    result, clients, took = site.under_load("rollback")
    report("rollback over an irreversible migration", result, clients, took)
    assert result.returncode == 0, result.stdout[-5000:]
    assert failures(clients) == []
    restore = re.search(r"inv restore --dump (backups/before-\S+)", result.stdout)
    assert restore, result.stdout[-3000:]
    assert site.sql("SELECT count(*) FROM journal_entry WHERE title = 'irreversible'") == "1", "kept"
    restored = site.inv("restore", "--dump", restore.group(1), "--yes")
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert site.sql("SELECT count(*) FROM journal_entry WHERE title = 'irreversible'") == "0"
    assert site.sql(NOTE_TEXT) == "1", "the database as it was before the release"


def test_a_migration_blocked_by_a_lock_fails_the_deploy_within_the_timeout(site):
    # The code as the restored database has it: no unsafe or irreversible migration pending.
    migrations = site.app / TEST_APP / "migrations"
    for leftover in (*migrations.glob("0*_drop_note_text.py"), *migrations.glob("0*_mark_seen.py")):
        leftover.unlink()
    models = site.app / TEST_APP / "models.py"
    models.write_text(
        models.read_text().replace("    pass\n", '    text = models.CharField(max_length=200, default="")\n')
    )
    # A long transaction holds the entries' table, as a slow report would.
    holder = subprocess.Popen(
        [
            *site.stack.compose_project.command(
                "exec",
                "-T",
                "db",
                "psql",
                "-U",
                "app",
                "-d",
                "app",
                "-c",
                "BEGIN; LOCK TABLE journal_entry IN ACCESS SHARE MODE; SELECT pg_sleep(60);",
            )
        ],
        cwd=site.stack.compose_project.directory,
        env=site.stack.compose_project.environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        site.migration("entry_note", "[migrations.AddField('entry', 'note', models.TextField(null=True))]")
        models = site.app / TEST_APP / "models.py"
        models.write_text(
            models.read_text().replace(
                "    title = models.CharField(max_length=200)\n",
                "    title = models.CharField(max_length=200)\n    note = models.TextField(null=True)\n",
            )
        )
        started = time.monotonic()
        result = site.inv("deploy")
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    print(f"deploy blocked by a lock: failed after {took:.1f}s")
    assert result.returncode == 1
    assert "lock" in result.stdout, result.stdout[-3000:]
    assert get(site.stack.url + "/").status_code == 200
    assert site.sql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'note'") == "0"
