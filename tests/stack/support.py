"""What the stack tests share besides fixtures: the site they run (`site()`), a compose project of
a test (`Stack`, through workspace/compose.py), `inv` as a user runs it, a logged-in admin, a fresh
clone and its teardown."""

import atexit
import functools
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from tests.support import first_group, free_port
from workspace.compose import BASE_FILES, DEV_FILES, ROOT, Project
from workspace.reference_site import APP as TEST_APP
from workspace.reference_site import copy_project, make_reference_site

# What a TLS-terminating front in front of the proxy adds to every request.
BEHIND_TLS = {"X-Forwarded-Proto": "https"}


def inv(*args: str, timeout=600, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`inv ARGS` in the repository (or a copy of it), as a user runs it; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@functools.cache
def site() -> Path:
    """The site the stack tests run, made once per process: the reference site
    (workspace/reference_site.py), this project with the example removed and the test app
    (tests/site/journal) added as a user adds an app of theirs."""
    target = Path(tempfile.mkdtemp(prefix="site-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    return make_reference_site(target)


class Stack:
    """One compose project of the test site: its files, its env file, its published port."""

    # Set by the tests that need them: the test user's session (probes.logged_in), and the
    # engine's swarm state when the suite started (the bystander).
    user_session: requests.Session | None = None
    swarm_state = ""

    def __init__(self, tmp: Path, files=BASE_FILES, **settings):
        self.directory = site()
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
            "BACKUP_KEY": secrets.token_urlsafe(32),
            **settings,
        }
        # Values that win over the env file's (RemoteStack's engine).
        self.overrides: dict[str, str] = {}
        self.env_file = tmp / f"{self.project}.env"
        self.write_env()

    def write_env(self):
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def compose_project(self) -> Project:
        return Project(self.files, self.env_file, self.project, self.overrides, self.directory)

    def compose(self, *args: str, check=True, timeout=600, env=None) -> subprocess.CompletedProcess:
        """`docker compose ARGS` on this stack; `env` adds variables (for `exec -e NAME`)."""
        project = self.compose_project
        result = project.call(*args, env=env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            command = shlex.join(project.command(*args))
            raise AssertionError(f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def inv(self, *args: str, timeout=600, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """`inv ARGS --env-file <this stack's>`, as a user runs it for this stack (in its site)."""
        return inv(*args, "--env-file", str(self.env_file), timeout=timeout, cwd=cwd or self.directory)

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
        return self.compose("exec", "-T", *passed, "app", "python", "manage.py", *args, env=env).stdout

    def container(self, service: str) -> str:
        return self.compose("ps", "--all", "-q", service).stdout.strip()

    def get(self, path: str, timeout: float = 30, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=timeout, **kwargs)

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


def remove_images(stack: Stack) -> None:
    """The images a deploy built for the stack (named after its project)."""
    images = subprocess.run(
        ["docker", "image", "ls", "-q", "--filter", f"reference={stack.project}-*"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if images:
        subprocess.run(["docker", "image", "rm", "--force", *set(images)], capture_output=True, check=False)


def swarm_state() -> str:
    return subprocess.run(
        ["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"], capture_output=True, text=True, check=True
    ).stdout.strip()


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
    assert response.status_code == 200, response.text[:1000]
    assert "Log out" in response.text, response.text[:1000]
    return session


def csrf_post(session: requests.Session, stack: Stack, path: str, **kwargs) -> requests.Response:
    """GET the form for its CSRF token, then POST to it."""
    page = session.get(stack.url + path, timeout=30)
    token = first_group(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    data = {**kwargs.pop("data", {}), "csrfmiddlewaretoken": token}
    headers = {"Referer": stack.url + path}
    return session.post(stack.url + path, data=data, headers=headers, timeout=60, allow_redirects=False, **kwargs)


def fresh_clone(target: Path, uid: int, gid: int) -> Path:
    """The repository as a fresh clone has it (tracked and new files, nothing ignored: no .env),
    a git repository owned by uid:gid."""
    copy_project(target)
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    subprocess.run(["chown", "-R", f"{uid}:{gid}", str(target)], check=True)
    return target


def site_copy(target: Path) -> Path:
    """A copy of the test site (`site()`) that a test changes as a developer would."""
    shutil.copytree(site(), target, symlinks=True)
    return target


def add_migration(app: Path, name: str, operations: str, imports: str = "") -> Path:
    """A migration of the test app (in APP, a copy's services/app) after its latest one:
    OPERATIONS, Python source of a list."""
    folder = app / TEST_APP / "migrations"
    latest = max(path.stem for path in folder.glob("0*.py"))
    path = folder / f"{int(latest[:4]) + 1:04d}_{name}.py"
    path.write_text(
        f"from django.db import migrations, models\n{imports}\n\n"
        f"class Migration(migrations.Migration):\n"
        f"    dependencies = [('{TEST_APP}', '{latest}')]\n"
        f"    operations = {operations}\n"
    )
    return path


NOTE_MODEL = """

class Note(models.Model):
    text = models.CharField(max_length=200, default="")
"""


def add_note_model(app: Path) -> Path:
    """A new model, Note, in the test app (in APP, a copy's services/app), and its migration."""
    models_file = app / TEST_APP / "models.py"
    models_file.write_text(models_file.read_text() + NOTE_MODEL)
    return add_migration(
        app,
        "note",
        "[migrations.CreateModel('Note', [('id', models.BigAutoField(primary_key=True)), "
        "('text', models.CharField(max_length=200, default=''))])]",
    )


def clone_project(project: str, workspace: Path) -> Project:
    """The development stack of a fresh clone: its .env, or the example's while it has none."""
    env_file = workspace / ".env"
    return Project(
        files=DEV_FILES,
        env_file=env_file if env_file.exists() else workspace / ".env.example",
        name=project,
        directory=workspace,
    )


def tear_down(project: str, workspace: Path) -> list[str]:
    """Remove a development stack's containers, volumes, network and images; return what is left."""
    clone_project(project, workspace).call(
        "down", "--volumes", "--remove-orphans", "--timeout", "10", capture_output=True, timeout=120
    )

    def listed(*command: str) -> list[str]:
        result = subprocess.run(["docker", *command], capture_output=True, text=True, timeout=60, check=True)
        return result.stdout.split()

    images = listed("images", "--format", "{{.Repository}}", "--filter", f"reference={project}-*")
    if images:
        subprocess.run(["docker", "image", "rm", *images], capture_output=True, timeout=120, check=False)
    label = f"label=com.docker.compose.project={project}"
    return (
        listed("ps", "--all", "--quiet", "--filter", label)
        + listed("volume", "ls", "--quiet", "--filter", label)
        + listed("network", "ls", "--quiet", "--filter", label)
        + listed("images", "--quiet", "--filter", f"reference={project}-*")
    )


def make_certificates(folder: Path) -> None:
    """A test CA, and a certificate it signs for the name `seaweedfs`."""
    folder.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    ca = ("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-x509", *key, *ca, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA")
    openssl("req", *key, "-keyout", "key.pem", "-out", "cert.csr", "-subj", "/CN=seaweedfs")
    (folder / "san").write_text("subjectAltName=DNS:seaweedfs\n")
    openssl("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "cert.pem", "-days", "2", "-extfile", "san")  # fmt: skip
    # The store (its own user) and the database's user read them.
    for path in folder.iterdir():
        path.chmod(0o644)
