"""Fixtures for the stack tests: real images, a real compose project per test module, reached
only through the proxy on a free loopback port. Everything a test starts is torn down."""

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.throwaway_postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
BASE = ("compose/compose.yaml",)
DEV_FILES = ("compose/compose.yaml", "compose/compose.dev.yaml")
DEPLOY_FILES = ("compose/compose.yaml", "compose/compose.deploy.yaml")
# What a TLS-terminating front in front of the proxy adds to every request.
BEHIND_TLS = {"X-Forwarded-Proto": "https"}


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def pytest_collection_modifyitems(config, items):
    if any(item.get_closest_marker("stack") for item in items) and not engine_answers():
        skip = pytest.mark.skip(reason="no Docker engine answers (start one to run the stack tests)")
        for item in items:
            if item.get_closest_marker("stack"):
                item.add_marker(skip)


class Stack:
    """One compose project: its files, its env file, its published port."""

    def __init__(self, tmp: Path, files=BASE, **settings):
        self.project = f"test-{uuid.uuid4().hex[:8]}"
        self.files = files
        self.port = free_port()
        self.env = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "POSTGRES_DB": "app",
            "POSTGRES_USER": "app",
            # Characters a URL would need escaped: the password never goes into one.
            "POSTGRES_PASSWORD": secrets.token_hex(16) + "@:/#%",
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{self.port},http://localhost:{self.port}",
            "PROXY_PORT": str(self.port),
            "CLIENT_MAX_BODY_SIZE": "1m",
            **settings,
        }
        self.env_file = tmp / f"{self.project}.env"
        self.write_env()

    def write_env(self):
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, check=True, timeout=600, **kwargs) -> subprocess.CompletedProcess:
        names = [x for f in self.files for x in ("-f", f)]
        cmd = ["docker", "compose", "-p", self.project, *names, "--env-file", str(self.env_file), *args]
        # The env file must win: compose prefers the process environment, which holds the host
        # test run's own defaults (pytest-env).
        env = {k: v for k, v in kwargs.pop("env", os.environ).items() if k not in self.env}
        result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, *args: str):
        result = self.compose("up", "--detach", "--wait", *args, check=False)
        if result.returncode != 0:
            logs = self.compose("logs", "--tail", "60", check=False).stdout
            raise AssertionError(f"stack did not come up:\n{result.stderr}\n{logs}")
        return result

    def down(self):
        self.compose("down", "--volumes", "--remove-orphans", "--rmi", "local", "--timeout", "10", check=False)

    def manage(self, *args: str, env: dict | None = None) -> str:
        passed = [x for name in (env or {}) for x in ("-e", name)]
        return self.compose(
            "exec", "-T", *passed, "app", "python", "manage.py", *args, env={**os.environ, **(env or {})}
        ).stdout

    def container(self, service: str) -> str:
        return self.compose("ps", "--all", "-q", service).stdout.strip()

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)

    def wait_for(self, path="/healthz", status=200, timeout=60) -> float:
        """Seconds until `path` answers `status` through the proxy."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if self.get(path, timeout=5).status_code == status:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{path} did not answer {status} within {timeout}s")


@pytest.fixture(scope="session")
def stack_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stacks")


@pytest.fixture(scope="session")
def built_images():
    """Build the images once per run; every stack of the run uses them."""
    result = subprocess.run(
        ["docker", "compose", "-f", "compose/compose.yaml", "--env-file", ".env.example", "build"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-4000:]


@pytest.fixture(scope="module")
def stack(built_images, stack_tmp):
    """The production-like base stack, up and healthy."""
    running = Stack(stack_tmp)
    try:
        running.up()
        yield running
    finally:
        running.down()


def swarm_state() -> str:
    return subprocess.run(
        ["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"], capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="session", autouse=True)
def bystander(request, stack_tmp):
    """A stack of this engine, up from the start to the end of the stack suite, and the engine's
    swarm state at the start: the suite must leave both as they were, as it leaves a developer's
    own stack (tests/stack/fleet/test_host_engine.py checks, last)."""
    if not engine_answers():
        yield None
        return
    request.getfixturevalue("built_images")
    running = Stack(stack_tmp)
    running.swarm_state = swarm_state()
    try:
        running.up()
        yield running
    finally:
        running.down()


def admin_session(stack: Stack, username="admin", password=None) -> requests.Session:
    """A superuser logged in through the login form, CSRF and all."""
    password = password or secrets.token_urlsafe(16)
    stack.manage(
        "createsuperuser",
        "--noinput",
        env={
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
            "DJANGO_SUPERUSER_PASSWORD": password,
        },
    )
    session = requests.Session()
    session.get(stack.url + "/admin/login/", timeout=30).raise_for_status()
    response = session.post(
        stack.url + "/admin/login/?next=/admin/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": stack.url + "/admin/login/"},
        timeout=30,
    )
    assert response.status_code == 200 and "Log out" in response.text, response.text[:1000]
    return session


def csrf_post(session: requests.Session, stack: Stack, path: str, **kwargs) -> requests.Response:
    """GET the form for its CSRF token, then POST to it."""
    page = session.get(stack.url + path, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    data = {**kwargs.pop("data", {}), "csrfmiddlewaretoken": token}
    headers = {"Referer": stack.url + path}
    return session.post(stack.url + path, data=data, headers=headers, timeout=60, allow_redirects=False, **kwargs)


def fresh_clone(target: Path, uid: int, gid: int) -> Path:
    """The repository as a fresh clone has it (tracked and new files, nothing ignored: no .env),
    a git repository owned by uid:gid."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    subprocess.run(["chown", "-R", f"{uid}:{gid}", str(target)], check=True)
    return target


def tear_down(project: str, workspace: Path) -> list[str]:
    """Remove a development stack's containers, volumes, network and images; return what is left."""
    names = [x for f in DEV_FILES for x in ("-f", f)]
    subprocess.run(
        ["docker", "compose", "-p", project, *names, "down", "--volumes", "--remove-orphans", "--timeout", "10"],
        cwd=workspace,
        # Only a fallback for interpolation, should there be no env file.
        env={"POSTGRES_PASSWORD": "unused", **os.environ},
        capture_output=True,
        timeout=120,
    )

    def listed(*command: str) -> list[str]:
        result = subprocess.run(["docker", *command], capture_output=True, text=True, timeout=60)
        return result.stdout.split()

    images = listed("images", "--format", "{{.Repository}}", "--filter", f"reference={project}-*")
    if images:
        subprocess.run(["docker", "image", "rm", *images], capture_output=True, timeout=120)
    label = f"label=com.docker.compose.project={project}"
    return (
        listed("ps", "--all", "--quiet", "--filter", label)
        + listed("volume", "ls", "--quiet", "--filter", label)
        + listed("network", "ls", "--quiet", "--filter", label)
        + listed("images", "--quiet", "--filter", f"reference={project}-*")
    )


def inv(*args: str, timeout=600) -> subprocess.CompletedProcess:
    """`inv ARGS` in the repository, as a user runs it; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def remove_images(stack: Stack) -> None:
    """The images a deploy built for the stack (named after its project)."""
    images = subprocess.run(
        ["docker", "image", "ls", "-q", "--filter", f"reference={stack.project}-*"], capture_output=True, text=True
    ).stdout.split()
    if images:
        subprocess.run(["docker", "image", "rm", "--force", *set(images)], capture_output=True)
