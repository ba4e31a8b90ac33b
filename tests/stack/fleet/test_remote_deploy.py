"""`inv deploy --host ssh://…` to another machine, a fleet host: the images are built there,
the site answers through an ssh tunnel to the host's loopback port, `inv backup --host` and
`inv restore --host` round-trip a todo and its attachment, and the data outlives a restart of
that host's engine."""

import json
import shutil
import subprocess
import textwrap

import pytest
import requests

from tests.stack.fleet.support import PROXY_PORT, RemoteStack, build_images, load_images, run_images
from tests.stack.support import BEHIND_TLS, Stack
from tests.support import first_group
from workspace.compose import ROOT

pytestmark = pytest.mark.stack

ATTACHMENT = b"kept over ssh " * 400
ADD_TODO = textwrap.dedent(
    """
    from django.core.files.base import ContentFile
    from core.models import Todo
    todo = Todo(title={title!r})
    todo.attachment.save("kept.bin", ContentFile({content!r}))
    print(todo.attachment.url)
    """
)
DELETE_TODOS = textwrap.dedent(
    """
    from core.models import Todo
    for todo in Todo.objects.all():
        todo.attachment.delete()
        todo.delete()
    """
)


@pytest.fixture(scope="module")
def remote(fleet, stack_tmp):
    """The deploy stack on fleet host 0, deployed by `inv deploy --host`, its port tunnelled here."""
    host = fleet[0]
    load_images([host], build_images() + run_images())
    stack = RemoteStack(stack_tmp, host)
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


def add_todo(stack, title: str) -> str:
    """A todo with an attachment, saved by Django on the remote; its /media/ URL."""
    return stack.manage("shell", "-c", ADD_TODO.format(title=title, content=ATTACHMENT)).split()[-1]


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


def test_backup_and_restore_over_ssh_bring_back_a_todo_and_its_attachment(remote):
    url = add_todo(remote, "backed up over ssh")
    assert get(remote, url).content == ATTACHMENT

    backup = remote.inv("backup", "--dump")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    folder = ROOT / first_group(r"Backed up \S+ to (backups/\S+)/", backup.stdout)
    try:
        remote.manage("shell", "-c", DELETE_TODOS)
        assert "backed up over ssh" not in get(remote, "/").text
        assert get(remote, url).status_code == 404

        restore = remote.inv("restore", "--dump", str(folder), "--yes")
        logs = "" if restore.returncode == 0 else remote.compose("logs", "--tail", "30", "app").stdout
        assert restore.returncode == 0, restore.stdout[-3000:] + restore.stderr[-3000:] + logs
        assert "backed up over ssh" in get(remote, "/").text
        assert get(remote, url).content == ATTACHMENT
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_todos_and_media_survive_an_engine_restart(remote):
    url = add_todo(remote, "kept across restarts")
    db_started = started_at(remote, "db")
    remote.host.restart_engine()
    # The restart policy starts the containers again; up waits until they are healthy.
    remote.up()
    assert started_at(remote, "db") != db_started, "the engine was not restarted"
    assert "kept across restarts" in get(remote, "/").text
    assert get(remote, url).content == ATTACHMENT


def test_deploy_to_a_host_that_does_not_answer_says_so_in_one_line(stack_tmp):
    stack = Stack(stack_tmp)
    result = stack.inv("deploy", "--host", "ssh://root@127.0.0.1:1", timeout=60)
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines == ["No Docker engine answers at ssh://root@127.0.0.1:1: check the address or `docker context ls`."]
