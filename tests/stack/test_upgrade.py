"""A site deployed before the example had an app of its own (its todos in the app `core`), with
todos and their attachments, deployed again with today's code, as its user upgrades: every row
and file is kept, under the example's own table name; the rollback gives the old release its
table back."""

import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

from tests.stack.support import BEHIND_TLS, Stack, fresh_clone, remove_images
from workspace.compose import DEPLOY_FILES, ROOT

pytestmark = pytest.mark.stack

# The last commit whose example lived in the app `core` (core.0003_attachment_index).
BEFORE = "3fb98dad0e21ddb3d32eace4a8ae659e801c748f"

ADD_TODOS = textwrap.dedent(
    """
    from django.core.files.base import ContentFile
    from core.models import Todo
    for n in range(3):
        todo = Todo(title=f"kept {n}", done=n == 1)
        todo.attachment.save(f"file{n}.bin", ContentFile(bytes([n]) * 3000))
        print(todo.attachment.url)
    """
)
ROWS = "SELECT title, done, attachment, attachment_name FROM {table} ORDER BY title"


def checkout(commit: str, target: Path) -> Path:
    """The repository's files at COMMIT, as a clone of that commit has them."""
    target.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    tar = target / "source.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as files:
        files.extractall(target, filter="data")
    tar.unlink()
    return target


def test_a_site_deployed_with_the_example_in_core_upgrades_keeping_every_todo_and_file(built_images, stack_tmp):
    old = checkout(BEFORE, stack_tmp / "before-the-split")
    new = fresh_clone(stack_tmp / "today", 0, 0)
    stack = Stack(stack_tmp, files=DEPLOY_FILES, HTTPS="true", FORWARDED_ALLOW_IPS="*")
    stack.env.update(COMPOSE_PROJECT_NAME=stack.project, IMAGE_PREFIX=stack.project)
    stack.write_env()

    def sql(query: str) -> str:
        command = ("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-At", "-c", query)
        return stack.compose(*command).stdout.strip()

    def files(urls: list[str]) -> list[bytes]:
        return [stack.get(url, headers=BEHIND_TLS).content for url in urls]

    try:
        deployed = stack.inv("deploy", cwd=old, timeout=900)
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        urls = stack.manage("shell", "-c", ADD_TODOS).split()[-3:]
        rows = sql(ROWS.format(table="core_todo"))
        before = files(urls)
        assert before == [bytes([n]) * 3000 for n in range(3)]

        upgraded = stack.inv("deploy", cwd=new, timeout=900)
        assert upgraded.returncode == 0, upgraded.stdout[-3000:] + upgraded.stderr[-3000:]
        assert sql(ROWS.format(table="todos_todo")) == rows
        assert sql("SELECT to_regclass('core_todo')") == ""
        assert files(urls) == before
        page = stack.get("/", headers=BEHIND_TLS).text
        assert all(f"kept {n}" in page for n in range(3))
        assert sql("SELECT count(*) FROM django_content_type WHERE app_label = 'todos' AND model = 'todo'") == "1"

        rolled_back = stack.inv("rollback", "--yes", cwd=new, timeout=900)
        assert rolled_back.returncode == 0, rolled_back.stdout[-3000:] + rolled_back.stderr[-3000:]
        assert sql(ROWS.format(table="core_todo")) == rows
        assert files(urls) == before
    finally:
        stack.down()
        remove_images(stack)
