"""`inv deploy --host ssh://…` to another machine, a fleet host: the images are built there,
the site answers through an ssh tunnel to the host's loopback port, `inv backup --host` and
`inv restore --host` round-trip an entry of the test app and its attachment, the data outlives a restart of
that host's engine, and, the host lost, a second fleet host with an empty engine comes back
from the backups' bucket (on a third host) and the key alone."""

import json
import shutil
import subprocess
import textwrap
import time

import pytest
import requests

from tests.stack.fleet.support import (
    PROXY_PORT,
    RemoteStack,
    build_images,
    in_the_bucket,
    load_images,
    relay,
    run_images,
)
from tests.stack.support import BEHIND_TLS, Stack
from tests.support import first_group

pytestmark = pytest.mark.stack

ATTACHMENT = b"kept over ssh " * 400
ADD_ENTRY = textwrap.dedent(
    """
    from django.core.files.base import ContentFile
    from journal.models import Entry
    entry = Entry(title={title!r})
    entry.attachment.save("kept.bin", ContentFile({content!r}))
    print(entry.attachment.url)
    """
)
DELETE_ENTRIES = textwrap.dedent(
    """
    from journal.models import Entry
    for entry in Entry.objects.all():
        entry.attachment.delete()
        entry.delete()
    """
)


@pytest.fixture(scope="module")
def remote(fleet, stack_tmp, bucket):
    """The deploy stack on fleet host 0, deployed by `inv deploy --host`, its backups in the
    bucket on host 1, its port tunnelled here."""
    host = fleet[0]
    load_images([host], build_images() + run_images())
    stack = RemoteStack(stack_tmp, host, **bucket)
    stack.env["BACKUP_S3_PATH"] = f"/{stack.project}"
    stack.write_env()
    in_the_bucket(stack)
    try:
        deployed = stack.inv("deploy")
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        stack.deploy_output = deployed.stdout
        with host.tunnel(PROXY_PORT) as port:
            stack.port = port
            yield stack
    finally:
        stack.down()


def get(stack, path: str) -> requests.Response:
    return stack.get(path, headers=BEHIND_TLS)


def add_entry(stack, title: str) -> str:
    """An entry with an attachment, saved by Django on the remote; its /media/ URL."""
    return stack.manage("shell", "-c", ADD_ENTRY.format(title=title, content=ATTACHMENT)).split()[-1]


def started_at(stack, service: str) -> str:
    return json.loads(stack.host.docker("inspect", stack.container(service)))[0]["State"]["StartedAt"]


def test_deploy_over_ssh_builds_on_the_remote_and_the_site_answers_there(remote):
    assert "System check identified no issues" in remote.deploy_output
    page = get(remote, "/")
    assert page.status_code == 200
    assert "csrfmiddlewaretoken" in page.text
    assert remote.host.docker("image", "ls", "-q", f"{remote.project}-app"), "no app image on the remote"
    local = subprocess.run(
        ["docker", "image", "ls", "-q", f"{remote.project}-app"], capture_output=True, text=True, check=True
    )
    assert not local.stdout.strip(), "the image was built on this machine"


def test_backup_and_restore_over_ssh_bring_back_an_entry_and_its_attachment(remote):
    url = add_entry(remote, "backed up over ssh")
    assert get(remote, url).content == ATTACHMENT

    backup = remote.inv("backup", "--dump")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    folder = remote.directory / first_group(r"Backed up \S+ to (backups/\S+)/", backup.stdout)
    try:
        remote.manage("shell", "-c", DELETE_ENTRIES)
        assert "backed up over ssh" not in get(remote, "/").text
        assert get(remote, url).status_code == 404

        restore = remote.inv("restore", "--dump", str(folder), "--yes")
        logs = "" if restore.returncode == 0 else remote.compose("logs", "--tail", "30", "app").stdout
        assert restore.returncode == 0, restore.stdout[-3000:] + restore.stderr[-3000:] + logs
        assert "backed up over ssh" in get(remote, "/").text
        assert get(remote, url).content == ATTACHMENT
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_entries_and_media_survive_an_engine_restart(remote):
    url = add_entry(remote, "kept across restarts")
    db_started = started_at(remote, "db")
    remote.host.restart_engine()
    # The restart policy starts the containers again; up waits until they are healthy.
    remote.up()
    assert started_at(remote, "db") != db_started, "the engine was not restarted"
    assert "kept across restarts" in get(remote, "/").text
    assert get(remote, url).content == ATTACHMENT


def titles(stack: RemoteStack) -> list[str]:
    query = "SELECT title FROM journal_entry ORDER BY 1"
    return stack.compose("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-At", "-c", query).stdout.split("\n")


def test_a_new_host_comes_back_from_the_bucket_and_the_key_alone(remote, fleet, stack_tmp):
    """Host 0 is lost after a write; host 2, its engine empty, gets the release's images (as from
    a registry), the same settings (the bucket's and the key) and `inv restore --latest`: every
    entry and the attachment are back."""
    url = add_entry(remote, "written just before the host was lost")
    kept = titles(remote)
    # The archive is at most ARCHIVE_TIMEOUT behind; a base backup now has it all (and the uploads).
    taken = remote.inv("backup")
    assert taken.returncode == 0, taken.stdout[-3000:] + taken.stderr[-3000:]
    remote.compose("stop")
    new_host = fleet[2]
    assert not new_host.docker("ps", "--all", "--quiet").strip(), "host 2 is not empty"
    assert not new_host.docker("volume", "ls", "--quiet").strip(), "host 2 has volumes"
    # What the host would pull from the site's registry (here the fleet's): the release's images,
    # as host 0 built them (building them again proves nothing the deploy did not).
    built = f"reference={remote.env['IMAGE_PREFIX']}-*"
    images = remote.host.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", built)
    relay(remote.host, new_host, [*images.split(), *run_images()])
    new = RemoteStack(stack_tmp, new_host)
    new.env.update({name: value for name, value in remote.env.items() if name not in ("COMPOSE_PROJECT_NAME",)})
    new.env.update(COMPOSE_PROJECT_NAME=new.project)
    new.write_env()
    in_the_bucket(new)
    try:
        started = time.monotonic()
        restored = new.inv("restore", "--latest", "--yes", timeout=900)
        took = time.monotonic() - started
        assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-3000:]
        print(f"a new fleet host restored from the bucket in {took:.0f} s, its images pulled before")
        assert titles(new) == kept
        with new_host.tunnel(PROXY_PORT) as port:
            new.port = port
            assert get(new, "/healthz").status_code == 200
            assert get(new, url).content == ATTACHMENT
    finally:
        new.down()


def test_deploy_to_a_host_that_does_not_answer_says_so_in_one_line(stack_tmp):
    stack = Stack(stack_tmp)
    result = stack.inv("deploy", "--host", "ssh://root@127.0.0.1:1", timeout=60)
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines == ["No Docker engine answers at ssh://root@127.0.0.1:1: check the address or `docker context ls`."]
