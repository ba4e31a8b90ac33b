"""Reopen in Container, driven as the editor drives it: @devcontainers/cli (`devcontainer up`,
`devcontainer exec`) on .devcontainer/devcontainer.json. An ordinary host user runs the CLI on
a fresh copy of the repository that this user owns, with no .env yet; when the test runs as root,
it creates that user (the dev container maps the host user's ids, and root gets 1000). The stack
has its own project name and a free loopback port, and everything it creates is removed after."""

import grp
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.stack.support import fresh_clone, tear_down
from tests.support import free_port
from workspace.compose import ROOT
from workspace.example import EXAMPLE

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(
        not shutil.which("devcontainer"),
        reason="no devcontainer CLI (npm install -g @devcontainers/cli)",
    ),
]


@dataclass
class HostUser:
    uid: int
    gid: int
    name: str
    home: Path


@dataclass
class DevContainer:
    user: HostUser
    workspace: Path
    project: str
    port: int
    env: dict
    # The JSON result of `devcontainer up`.
    up: dict = field(default_factory=dict)

    def cli(self, *args: str, timeout=300) -> subprocess.CompletedProcess:
        """Run the devcontainer CLI as the host user; stdout and stderr together."""
        as_user: dict[str, Any] = {}
        if os.getuid() != self.user.uid:
            as_user = {"user": self.user.uid, "group": self.user.gid, "extra_groups": docker_socket_groups()}
        return subprocess.run(
            [shutil.which("devcontainer") or "devcontainer", *args],
            cwd=self.workspace,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
            **as_user,
        )

    def exec(self, *command: str, timeout=300) -> subprocess.CompletedProcess:
        return self.cli("exec", "--workspace-folder", str(self.workspace), *command, timeout=timeout)

    def owned_by_user(self, path: Path) -> bool:
        stat = path.stat()
        return (stat.st_uid, stat.st_gid) == (self.user.uid, self.user.gid)


def docker_socket_groups() -> list[int]:
    """The group of the engine's socket, which lets the host user talk to Docker."""
    socket = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not socket.startswith("unix://"):
        return []
    return [Path(socket.removeprefix("unix://")).stat().st_gid]


def unused_id() -> int:
    """A UID and GID no account uses, and not 1000, the image's default: the test then shows
    that the ids really come from the host user."""
    taken = {user.pw_uid for user in pwd.getpwall()} | {group.gr_gid for group in grp.getgrall()}
    return next(n for n in range(2000, 60000) if n not in taken)


@pytest.fixture(scope="module")
def base_dir():
    """A folder outside pytest's private temp tree, so that another user can reach it."""
    path = Path(tempfile.mkdtemp(prefix="devcontainer-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def host_user(base_dir):
    if os.getuid() != 0:
        yield HostUser(os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name, Path.home())
        return
    home = base_dir / "home"
    home.mkdir()
    uid = unused_id()
    name = f"dc{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--uid", str(uid), "--user-group", "--no-create-home", "--home-dir", str(home), name],
        check=True,
        capture_output=True,
    )
    try:
        user = HostUser(uid, pwd.getpwnam(name).pw_gid, name, home)
        os.chown(base_dir, user.uid, user.gid)
        os.chown(home, user.uid, user.gid)
        yield user
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture(scope="module")
def workspace(base_dir, host_user) -> Path:
    return fresh_clone(base_dir / "workspace", host_user.uid, host_user.gid)


@pytest.fixture(scope="module")
def devcontainer(workspace, host_user, base_dir):
    """The dev container up, as after "Reopen in Container"."""
    project = f"test-dc-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(host_user.home),
        "USER": host_user.name,
        # The CLI keeps its generated files under TMPDIR: inside base_dir, removed after.
        "TMPDIR": str(base_dir),
        # This stack's own name and port, so it meets no other stack.
        "COMPOSE_PROJECT_NAME": project,
        "PROXY_PORT": str(port),
        "MAIL_PORT": str(free_port()),
    }
    env.update({name: os.environ[name] for name in ("DOCKER_HOST", "DOCKER_CONTEXT") if name in os.environ})
    running = DevContainer(host_user, workspace, project, port, env)
    try:
        result = running.cli("up", "--workspace-folder", str(workspace), timeout=900)
        lines = result.stdout.strip().splitlines()
        running.up = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
        assert running.up.get("outcome") == "success", result.stdout[-6000:]
        yield running
    finally:
        left = tear_down(project, workspace)
        assert not left, f"left behind after teardown: {left}"


def test_up_succeeds_on_a_fresh_clone_and_creates_env_from_the_example(devcontainer):
    assert devcontainer.up["composeProjectName"] == devcontainer.project
    assert devcontainer.up["remoteUser"] == "app"
    assert devcontainer.up["remoteWorkspaceFolder"] == "/workspace"
    written = (devcontainer.workspace / ".env").read_text()
    assert written.startswith((ROOT / ".env.example").read_text())
    # With the ids of the user who opened it: files made inside are theirs.
    assert written.endswith(f"APP_UID={devcontainer.user.uid}\nAPP_GID={devcontainer.user.gid}\n")


def test_site_answers_through_the_proxy_while_the_editor_is_attached(devcontainer):
    response = requests.get(f"http://127.0.0.1:{devcontainer.port}/healthz", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert requests.get(f"http://127.0.0.1:{devcontainer.port}/", timeout=30).status_code == 200


def test_shell_inside_runs_as_the_host_user_in_the_workspace_with_the_venv(devcontainer):
    result = devcontainer.exec("sh", "-c", "id -u; id -g; pwd; command -v python")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.split()
    user = devcontainer.user
    assert lines[-4:] == [str(user.uid), str(user.gid), "/workspace", "/opt/venv/bin/python"]


def test_inv_test_passes_inside_against_the_db_service(devcontainer):
    result = devcontainer.exec("inv", "test")
    assert result.returncode == 0, result.stdout[-6000:]
    assert "database: PostgreSQL at db:5432, from DATABASE_URL" in result.stdout
    # The example's tests; a project without it has none yet.
    has_example = (devcontainer.workspace / "services" / "app" / EXAMPLE).is_dir()
    assert (" passed" if has_example else "No tests yet") in result.stdout, result.stdout[-3000:]
    assert " failed" not in result.stdout


def test_inv_migrate_inside_runs_against_the_db_service(devcontainer):
    result = devcontainer.exec("inv", "migrate")
    assert result.returncode == 0, result.stdout
    assert "No migrations to apply." in result.stdout


def test_files_created_inside_belong_to_the_host_user(devcontainer):
    result = devcontainer.exec("inv", "startapp", "blog")
    assert result.returncode == 0, result.stdout
    app = devcontainer.workspace / "services" / "app" / "blog"
    created = [app, *app.rglob("*")]
    assert app / "models.py" in created
    assert [path for path in created if not devcontainer.owned_by_user(path)] == []


def test_post_create_installs_the_pre_commit_hook_for_the_host_user(devcontainer):
    hook = devcontainer.workspace / ".git" / "hooks" / "pre-commit"
    assert "pre-commit" in hook.read_text()
    assert devcontainer.owned_by_user(hook)


def test_docker_tasks_inside_say_to_run_them_on_the_host(devcontainer):
    result = devcontainer.exec("inv", "up", timeout=60)
    assert result.returncode == 1
    assert "run it in a terminal on the host" in result.stdout
