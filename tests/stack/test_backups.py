"""Continuous backups of a one-host deployment, into a bucket (SeaweedFS over TLS, a compose project
of its own): a table dropped by mistake comes back to the second before, a lost database volume
comes back under writes with every write acknowledged more than a minute before the loss (the
lost window and the time to restore measured), the bucket holds nothing readable without the
key, a stalled archiver is reported stale while the app stays healthy, and the restore drill
names a damaged file. (A new host from the bucket and the key alone: the fleet's
test_remote_deploy.py.)"""

import datetime as dt
import json
import re
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.stack.support import Stack, make_certificates, remove_images
from tests.stack.traffic import Browser, Traffic, get
from tests.support import first_group
from workspace.compose import BACKUP_S3_FILES, DEPLOY_FILES, Project

pytestmark = pytest.mark.stack

OVERRIDE = "tests/stack/compose.backup-bucket.yaml"
STORE_FILES = ("tests/stack/compose.backup-store.yaml",)
# Seconds a WAL segment may wait for the archiver before /status/backups says "backup stale".
WAL_STALE_AFTER = 10


class Store:
    """The bucket's store: SeaweedFS in a compose project of its own, the bucket `backups` made."""

    def __init__(self, tmp: Path, settings: dict[str, str]):
        self.name = f"test-store-{uuid.uuid4().hex[:8]}"
        self.network = f"{self.name}_default"
        env_file = tmp / f"{self.name}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.project = Project(files=STORE_FILES, env_file=env_file, name=self.name)

    def compose(self, *args: str) -> str:
        done = self.project.call(*args, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def weed(self, command: str) -> str:
        return self.compose("exec", "-T", "seaweedfs", "sh", "-c", f"echo '{command}' | weed shell")

    def start(self) -> None:
        self.compose("up", "--detach")
        deadline = time.monotonic() + 90
        make = ("exec", "-T", "seaweedfs", "sh", "-c", "echo 's3.bucket.create -name backups' | weed shell")
        # Until the store answers: `weed shell` fails while its filer starts.
        while "created bucket" not in (made := self.project.call(*make, capture_output=True, text=True)).stdout:
            assert time.monotonic() < deadline, f"the store did not make the bucket: {made.stderr}"
            time.sleep(2)


class Site:
    """A deployment whose backups go to the store's bucket, and a logged-in writer."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.writer = Browser()

    def inv(self, *args: str, timeout=900) -> subprocess.CompletedProcess:
        return self.stack.inv(*args, "--override", OVERRIDE, timeout=timeout)

    def sql(self, query: str) -> str:
        command = ("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-At", "-c", query)
        return self.stack.compose(*command).stdout.strip()

    def titles(self) -> set[str]:
        return set(self.sql("SELECT title FROM journal_entry").splitlines())

    def write(self, title: str, files=None) -> None:
        token = self.writer.form_token(self.stack.url, "/")
        data = {"title": title, "csrfmiddlewaretoken": token}
        answer = self.writer.send("POST", self.stack.url, "/", data=data, files=files)
        assert answer.status_code == 302, answer.status_code

    def upload(self, name: str, content: bytes) -> str:
        """An entry with CONTENT attached as NAME; its /media/ link."""
        self.write(f"with {name}", files={"attachment": (name, content)})
        page = get(self.stack.url + "/").text
        return first_group(rf'href="(/media/attachments/[0-9a-f]{{32}}\.\w+)">{re.escape(name)}<', page)

    def repository(self, *args: str) -> subprocess.CompletedProcess:
        """`pgbackrest ARGS` in a one-off container of the backup service (stdout as bytes)."""
        return self.stack.compose_project.call(
            "run", "--rm", "--no-deps", "-T", "backup", "pgbackrest", *args, capture_output=True, timeout=300
        )

    def archive_bytes(self) -> int:
        """The bytes of WAL the repository holds."""
        listed = self.repository("repo-ls", "--recurse", "--output=json", "archive")
        return sum(entry.get("size", 0) for entry in json.loads(listed.stdout).values())

    def wait_for_backup(self, timeout=180) -> None:
        """Until /status/backups answers 200: the backup service took its first base backup."""
        deadline = time.monotonic() + timeout
        while (answer := get(self.stack.url + "/status/backups")).status_code != 200:
            assert time.monotonic() < deadline, f"no base backup within {timeout}s: {answer.text}"
            time.sleep(2)


def site_settings(store: Store, certs: Path, key: str, bucket_keys: dict[str, str]) -> dict[str, str]:
    return {
        "HTTPS": "true",
        "FORWARDED_ALLOW_IPS": "*",
        "APP_REPLICAS": "1",
        "BACKUP_KEY": key,
        "BACKUP_S3_BUCKET": "backups",
        "BACKUP_S3_ENDPOINT": "seaweedfs",
        "BACKUP_S3_PORT": "8333",
        "BACKUP_S3_REGION": "us-east-1",
        "BACKUP_S3_URI_STYLE": "path",
        **bucket_keys,
        "BACKUP_WAL_STALE_AFTER": str(WAL_STALE_AFTER),
        "TEST_CERTS": str(certs),
        "TEST_STORE_NETWORK": store.network,
    }


def new_site(stack_tmp: Path, settings: dict[str, str]) -> Site:
    stack = Stack(stack_tmp, files=(*DEPLOY_FILES, *BACKUP_S3_FILES, OVERRIDE), **settings)
    stack.env.update(COMPOSE_PROJECT_NAME=stack.project, IMAGE_PREFIX=stack.project)
    stack.write_env()
    return Site(stack)


def log_in_writer(site: Site) -> None:
    password = uuid.uuid4().hex
    names = {"DJANGO_SUPERUSER_USERNAME": "writer", "DJANGO_SUPERUSER_PASSWORD": password}
    site.stack.manage("createsuperuser", "--noinput", "--email", "w@example.com", env=names)
    site.writer.log_in(site.stack.url, "writer", password)


def down(site: Site) -> None:
    site.stack.down()
    remove_images(site.stack)


@pytest.fixture(scope="module")
def world(built_images, stack_tmp):
    """The store, and the settings a site's backups need: the bucket's keys and the backup key."""
    certs = stack_tmp / f"certs-{uuid.uuid4().hex[:6]}"
    make_certificates(certs)
    bucket_keys = {"BACKUP_S3_KEY": secrets.token_hex(8), "BACKUP_S3_KEY_SECRET": secrets.token_hex(16)}
    store = Store(stack_tmp, {**bucket_keys, "TEST_CERTS": str(certs)})
    try:
        store.start()
        yield store, site_settings(store, certs, secrets.token_urlsafe(32), bucket_keys)
    finally:
        store.project.call("down", "--volumes", "--timeout", "5", capture_output=True)


@pytest.fixture(scope="module")
def site(world, stack_tmp):
    _, settings = world
    running = new_site(stack_tmp, settings)
    try:
        deployed = running.inv("deploy")
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        log_in_writer(running)
        running.wait_for_backup()
        yield running
    finally:
        down(running)


def utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_a_table_dropped_by_mistake_comes_back_to_the_second_before_and_later_writes_do_not(site):
    site.write("before the ledger")
    kept = site.upload("kept.txt", b"an upload the backup holds\n")
    taken = site.inv("backup")
    assert taken.returncode == 0, taken.stdout[-3000:] + taken.stderr[-3000:]
    # After the uploads' snapshot: in no snapshot, but named by a row the restore brings back.
    unsnapshotted = site.upload("unsnapshotted.txt", b"an upload after the backup\n")
    site.sql("CREATE TABLE ledger AS SELECT n FROM generate_series(1, 500) AS n")
    time.sleep(8)
    dropped_at = time.time()
    site.sql("DROP TABLE ledger")
    later = [f"after the drop {n}" for n in range(3)]
    for title in later:
        site.write(title)
    gone = site.upload("gone.txt", b"an upload after the drop\n")
    started = time.monotonic()
    restored = site.inv("restore", "--to", utc(dropped_at - 5), "--yes")
    took = time.monotonic() - started
    print(f"restore to {utc(dropped_at - 5)} (5 s before the drop): {took:.0f} s")
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-3000:]
    assert site.sql("SELECT count(*) FROM ledger") == "500"
    titles = site.titles()
    assert "before the ledger" in titles
    assert not titles & set(later), "no write after the drop survives"
    assert get(site.stack.url + "/healthz").status_code == 200
    # Every upload a restored row names is there: from the snapshot, or kept on the volume.
    assert get(site.stack.url + kept).content == b"an upload the backup holds\n"
    assert get(site.stack.url + unsnapshotted).content == b"an upload after the backup\n"
    # The later one is kept too, named by no row now: a restore to a later second names it again.
    assert gone not in get(site.stack.url + "/").text
    assert get(site.stack.url + gone).content == b"an upload after the drop\n"


def test_a_lost_database_volume_comes_back_with_every_write_older_than_a_minute(site):
    archived = site.archive_bytes()
    # Since the uploads' last snapshot: a restored row names it, the media volume still holds it.
    since = site.upload("since.txt", b"an upload since the last snapshot\n")
    writes = Traffic([site.stack.url], writer=site.writer)
    writes.start()
    time.sleep(75)
    lost_at = time.time()
    # The host's disk loses the database: its container killed, its volume gone.
    for service in ("db", "backup"):
        subprocess.run(["docker", "rm", "--force", site.stack.container(service)], check=True, capture_output=True)
    subprocess.run(["docker", "volume", "rm", f"{site.stack.project}_db-data"], check=True, capture_output=True)
    writes.stop()
    started = time.monotonic()
    restored = site.inv("restore", "--latest", "--yes")
    took = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-3000:]
    titles = site.titles()
    acknowledged = list(zip(writes.written, writes.written_at, strict=True))
    lost = [at for title, at in acknowledged if title not in titles]
    print(
        f"volume lost after {len(acknowledged)} acknowledged writes: {len(lost)} lost, "
        f"the oldest {lost_at - min(lost) if lost else 0:.0f} s before the loss (RPO); restored in {took:.0f} s (RTO)"
    )
    grown = site.archive_bytes() - archived
    print(f"the archive grew {grown / 1e6:.1f} MB in 75 s of {len(acknowledged) / 75:.0f} writes/s: "
          f"{grown / 1e6 * 86400 / 75 / 1000:.1f} GB a day at that rate")  # fmt: skip
    assert len(acknowledged) > 100
    assert all(at > lost_at - 60 for at in lost), "every write acknowledged over 60 s before the loss is back"
    assert get(site.stack.url + "/healthz").status_code == 200
    assert "with since.txt" in titles
    assert get(site.stack.url + since).content == b"an upload since the last snapshot\n"


def test_the_bucket_holds_nothing_readable_without_the_key(site):
    listed = site.repository("repo-ls", "--recurse", "--output=text").stdout.decode().split()
    wal = [path for path in listed if path.startswith("archive/main/") and path.endswith(".zst")]
    data = [path for path in listed if path.startswith("backup/main/2") and path.endswith(".zst") and "/base/" in path]
    assert wal, listed[:20]
    assert data, listed[:20]
    for path in (wal[-1], data[0], "backup/main/backup.info"):
        raw = site.repository("repo-get", "--raw", path)
        assert raw.returncode == 0, raw.stderr
        assert raw.stdout.startswith(b"Salted__"), f"{path} is not encrypted"
        # No PostgreSQL page header, dump, zstd frame or SQL in it.
        for plain in (b"PGDMP", b"\x28\xb5\x2f\xfd", b"CREATE TABLE", b"journal_entry", b"[backup:current]"):
            assert plain not in raw.stdout, f"{path} holds {plain!r}"
    wrong_key = site.stack.compose_project.call(
        "run", "--rm", "--no-deps", "-T", "-e", "PGBACKREST_REPO1_CIPHER_PASS=not-the-key", "backup",
        "pgbackrest", "info", capture_output=True, timeout=300,
    )  # fmt: skip
    assert b"unable to load info file" in wrong_key.stdout + wrong_key.stderr, wrong_key.stdout


def test_a_stalled_archiver_is_reported_stale_while_the_app_stays_healthy(site, world):
    """/status/backups and `inv status` say so; the app stays healthy."""
    store, _ = world
    assert get(site.stack.url + "/status/backups").json() == {"status": "ok"}
    well = site.inv("status")
    assert well.returncode == 0, well.stdout[-3000:] + well.stderr[-3000:]
    for line in ("Release: ", "Backups: ok (last base backup", "Volumes: ", "db-data ", "All well."):
        assert line in well.stdout, well.stdout
    store.compose("stop", "seaweedfs")
    try:
        site.write("while the bucket is away")
        site.sql("SELECT pg_switch_wal()")
        stopped = time.monotonic()
        while get(site.stack.url + "/status/backups").status_code != 503:
            assert time.monotonic() - stopped < WAL_STALE_AFTER + 60, "never reported stale"
            time.sleep(2)
        print(f"reported stale {time.monotonic() - stopped:.0f} s after the archiver stalled")
        assert get(site.stack.url + "/status/backups").json() == {"status": "backup stale"}
        stale = site.inv("status")
        assert stale.returncode == 1, stale.stdout[-3000:]
        assert "  - backups: a WAL segment has waited" in stale.stdout, stale.stdout
        assert "need attention" in stale.stderr, stale.stderr
        assert get(site.stack.url + "/healthz").status_code == 200
        health = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Health.Status}}", site.stack.container("app")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert health.stdout.strip() == "healthy"
    finally:
        store.compose("start", "seaweedfs")
    # A new segment to archive wakes the archiver, which otherwise retries only a minute later.
    site.write("after the bucket is back")
    site.sql("SELECT pg_switch_wal()")
    started = time.monotonic()
    while get(site.stack.url + "/status/backups").status_code != 200:
        assert time.monotonic() - started < 180, "the archiver did not catch up"
        time.sleep(3)


def test_a_damaged_backup_fails_the_drill_with_one_line_naming_the_file(site, world):
    """Last: it damages the site's backups. (A new host restored from the bucket and the key alone:
    tests/stack/fleet/test_remote_deploy.py, on a fleet host whose engine starts empty.)"""
    drill = site.inv("backup", "--verify")
    assert drill.returncode == 0, drill.stdout[-3000:] + drill.stderr[-3000:]
    assert "Restore drill passed" in drill.stdout
    assert "the uploads' snapshots checked, the newest with" in drill.stdout

    # One file of the latest backup lost from the bucket: the drill names it.
    listed = site.repository("repo-ls", "--recurse", "--output=text").stdout.decode().split()
    victim = next(path for path in listed if path.startswith("backup/main/2") and path.endswith("PG_VERSION.zst"))
    world[0].weed(f"fs.rm /buckets/backups/pgbackrest/{victim}")
    broken = site.inv("backup", "--verify")
    output = broken.stdout + broken.stderr
    assert broken.returncode != 0
    named = [line for line in output.splitlines() if "Restore drill failed" in line]
    assert named, output[-3000:]
    assert victim.removeprefix("backup/main/") in named[0]
