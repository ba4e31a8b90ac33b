"""The daily loop on a fresh clone, as its user types it: `inv up`, `inv startapp`, `inv test`,
`inv makemigrations`, `inv migrate` with the stack stopped, an edited CSS file. The copy belongs
to a host user other than root (APP_UID/APP_GID name its ids, as `inv` takes them from the host
user); the stack has its own project name and loopback port, and is removed after."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.stack.probes import check_visitor_views
from tests.stack.support import clone_project, fresh_clone, inv, tear_down
from tests.support import first_group, free_port
from workspace.compose import ROOT

pytestmark = pytest.mark.stack

FAILING = """from django.test import TestCase


class AnswerTests(TestCase):
    def test_the_answer(self):
        self.assertEqual(41 + 1, {answer})
"""

WELCOME_TASK = """from django.core.mail import send_mail
from django_tasks import task


@task()
def welcome(address):
    send_mail("Welcome to the blog", "Hello!", None, [address])
"""

SIGNUP_VIEW = """from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .tasks import welcome


@csrf_exempt
def signup(request):
    return JsonResponse({"task": welcome.enqueue(request.POST["email"]).id})
"""

MODEL = """from django.db import models


class Post(models.Model):
    title = models.CharField(max_length=200)
"""


@dataclass
class Workspace:
    path: Path
    uid: int
    gid: int
    project: str
    port: int
    mail_port: int
    up: subprocess.CompletedProcess | None = None

    @property
    def app(self) -> Path:
        return self.path / "services" / "app"

    def inv(self, *args: str, timeout=600) -> subprocess.CompletedProcess:
        """`inv ARGS` in the copy; stdout and stderr together."""
        # A user's shell, not this test run's environment (which holds test-only settings).
        env = {
            **{
                name: os.environ[name]
                for name in ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONTEXT")
                if name in os.environ
            },
            # The shell wins over .env's project name, as in compose.
            "COMPOSE_PROJECT_NAME": self.project,
            "APP_UID": str(self.uid),
            "APP_GID": str(self.gid),
        }
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )

    def compose(self, *args: str) -> str:
        project = clone_project(self.project, self.path)
        return project.call(*args, capture_output=True, text=True, check=True).stdout

    def get(self, path: str) -> requests.Response:
        return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=30)

    def app_workers(self) -> set[str]:
        """The process ids of the app container's uWSGI workers (the children of its master),
        from the host's view."""
        container = self.compose("ps", "-q", "app").strip()
        top = subprocess.run(
            ["docker", "top", container, "-eo", "pid,ppid,args"], capture_output=True, text=True, check=True
        ).stdout
        uwsgi = {tuple(line.split()[:2]) for line in top.splitlines()[1:] if "uwsgi" in line}
        return {pid for pid, parent in uwsgi if parent in {pid for pid, _ in uwsgi}}


@pytest.fixture(scope="module")
def workspace():
    """A fresh copy with the development stack up (`inv up`)."""
    base = Path(tempfile.mkdtemp(prefix="daily-loop-"))
    # Another user's ids when the test runs as root: files made in the container must be theirs.
    uid, gid = (2345, 2345) if os.getuid() == 0 else (os.getuid(), os.getgid())
    copy = Workspace(
        fresh_clone(base / "workspace", uid, gid),
        uid,
        gid,
        f"test-loop-{uuid.uuid4().hex[:8]}",
        free_port(),
        free_port(),
    )
    # The ports in .env, with a comment as people write one: the tasks read it as compose does.
    env_file = copy.path / ".env"
    env_file.write_text(
        (copy.path / ".env.example").read_text() + f"PROXY_PORT={copy.port}   # the port\nMAIL_PORT={copy.mail_port}\n"
    )
    os.chown(env_file, uid, gid)
    try:
        copy.up = copy.inv("up", timeout=900)
        assert copy.up.returncode == 0, copy.up.stdout[-6000:]
        yield copy
    finally:
        left = tear_down(copy.project, copy.path)
        shutil.rmtree(base, ignore_errors=True)
        assert not left, f"left behind after teardown: {left}"


def test_inv_up_answers_on_the_port_of_env_and_prints_that_address(workspace):
    assert f"The stack is up: http://127.0.0.1:{workspace.port}/" in workspace.up.stdout
    assert f"The mail it sends: http://127.0.0.1:{workspace.mail_port}/" in workspace.up.stdout
    assert workspace.get("/healthz").status_code == 200


def test_plain_docker_compose_in_the_root_sees_the_development_stack(workspace):
    env = {name: os.environ[name] for name in ("PATH", "HOME", "DOCKER_HOST") if name in os.environ}
    listed = subprocess.run(
        ["docker", "compose", "ps", "--services"],
        cwd=workspace.path,
        env={**env, "COMPOSE_PROJECT_NAME": workspace.project},
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(listed.stdout.split()) == ["app", "db", "mailpit", "proxy", "worker"]


def test_inv_test_help_shows_the_tasks_own_help():
    result = inv("test", "--help")
    assert result.returncode == 0, result.stderr
    assert "Run the project's Django tests" in result.stdout
    assert "--keyword" in result.stdout
    assert "usage: pytest" not in result.stdout


def test_a_task_flag_is_never_passed_on_to_pytest():
    result = inv("test", "--no-such-flag")
    assert result.returncode != 0
    assert "--no-such-flag" in result.stderr
    assert "pytest" not in result.stdout + result.stderr


def test_startapp_creates_the_app_owned_by_the_host_user_and_registers_it(workspace):
    result = workspace.inv("startapp", "blog")
    assert result.returncode == 0, result.stdout
    created = [workspace.app / "blog", *(workspace.app / "blog").rglob("*")]
    assert workspace.app / "blog" / "tests.py" in created
    not_theirs = [p for p in created if (p.stat().st_uid, p.stat().st_gid) != (workspace.uid, workspace.gid)]
    assert not_theirs == []
    assert '    "blog",\n' in (workspace.app / "config" / "settings.py").read_text()


def test_a_new_apps_failing_test_fails_inv_test_and_passes_once_fixed_on_postgresql(workspace):
    tests = workspace.app / "blog" / "tests.py"
    tests.write_text(FAILING.format(answer=43))
    failed = workspace.inv("test")
    assert failed.returncode != 0, failed.stdout[-3000:]
    assert "FAILED services/app/blog/tests.py::AnswerTests::test_the_answer" in failed.stdout, failed.stdout[-3000:]

    tests.write_text(FAILING.format(answer=42))
    started = time.monotonic()
    passed = workspace.inv("test")
    took = time.monotonic() - started
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "database: PostgreSQL at db:5432" in passed.stdout
    assert " failed" not in passed.stdout
    assert " passed" in passed.stdout
    print(f"inv test with the stack up: {took:.1f}s")


def test_with_the_stack_stopped_migrate_applies_to_the_stacks_database_and_leaves_db_stopped(workspace):
    (workspace.app / "blog" / "models.py").write_text(MODEL)
    made = workspace.inv("makemigrations")
    assert made.returncode == 0, made.stdout
    assert (workspace.app / "blog" / "migrations" / "0001_initial.py").stat().st_uid == workspace.uid

    assert workspace.inv("down").returncode == 0
    migrated = workspace.inv("migrate")
    assert migrated.returncode == 0, migrated.stdout
    assert "Applying blog.0001_initial... OK" in migrated.stdout
    assert not list(workspace.path.rglob("*.sqlite3")), "a SQLite file appeared"
    assert workspace.compose("ps", "--status", "running", "--services").split() == []

    assert workspace.inv("up", timeout=600).returncode == 0
    shown = workspace.inv("manage", "showmigrations", "--", "blog")
    assert "[X] 0001_initial" in shown.stdout, shown.stdout


def test_an_edited_css_file_shows_through_the_proxy_on_the_next_request(workspace):
    css = workspace.app / "blog" / "static" / "blog" / "site.css"
    css.parent.mkdir(parents=True)
    css.write_text("body { color: red; }\n")
    # Django looks for apps' static folders when a worker first serves a static file: a new
    # folder needs a reload, which saving a module does (uWSGI's autoreload). An edit to a file
    # needs nothing. Until every worker is new, a worker that looked before may still answer 404.
    before = workspace.app_workers()
    assert before
    (workspace.app / "blog" / "apps.py").touch()
    deadline = time.monotonic() + 30
    while not (now := workspace.app_workers()) or now & before:
        assert time.monotonic() < deadline, f"uWSGI did not reload: workers {before} then {now}"
        time.sleep(0.5)
    while (response := workspace.get("/static/blog/site.css")).status_code != 200:
        assert time.monotonic() < deadline, f"{response.status_code}: {response.text[:2000]}"
        time.sleep(0.5)
    assert response.text == "body { color: red; }\n"

    css.write_text("body { color: blue; }\n")
    assert workspace.get("/static/blog/site.css").text == "body { color: blue; }\n"


def test_a_new_apps_forms_webhook_token_api_and_password_reset_reach_django_through_the_proxy(workspace):
    """The views every site has that take data from visitors and other sites, in the app made by
    `inv startapp`, routed under /blog/: each gets Django's answer, none the proxy's."""
    shutil.copy(ROOT / "tests" / "site" / "journal" / "visitors.py", workspace.app / "blog" / "visitors.py")
    (workspace.app / "blog" / "urls.py").write_text(
        'from django.urls import include, path\n\nurlpatterns = [path("", include("blog.visitors"))]\n'
    )
    urls = workspace.app / "config" / "urls.py"
    start = "urlpatterns = [\n"
    urls.write_text(urls.read_text().replace(start, start + '    path("blog/", include("blog.urls")),\n', 1))
    # uWSGI reloads on a saved module (autoreload): the new route answers once it has. It takes a
    # module's time when it first sees it, up to a second after the reload before: an edit in that
    # second goes unseen, and the module is saved again, as a user would.
    deadline = time.monotonic() + 30
    saved = time.monotonic()
    while (response := workspace.get("/blog/contact/")).status_code != 200:
        assert time.monotonic() < deadline, f"{response.status_code}: {response.text[:2000]}"
        if time.monotonic() - saved > 5:
            urls.touch()
            saved = time.monotonic()
        time.sleep(0.5)
    check_visitor_views(requests.Session(), f"http://127.0.0.1:{workspace.port}/blog/")


def test_a_task_of_the_new_app_runs_in_the_worker_and_the_mails_reach_mailpit(workspace):
    """A view of the app made by `inv startapp` enqueues a task of its own; the worker, started
    again on the new code, runs it with the request's id in its lines; the mail it sends, and
    Django's password reset mail, land in Mailpit, read through its API."""
    (workspace.app / "blog" / "tasks.py").write_text(WELCOME_TASK)
    (workspace.app / "blog" / "views.py").write_text(SIGNUP_VIEW)
    routes = workspace.app / "blog" / "urls.py"
    routes.write_text(
        routes.read_text().replace("urlpatterns = [", 'urlpatterns = [path("signup/", views.signup), ', 1)
    )
    routes.write_text("from . import views\n" + routes.read_text())
    deadline = time.monotonic() + 30
    while (
        response := requests.post(
            f"http://127.0.0.1:{workspace.port}/blog/signup/", data={"email": "ann@example.com"}, timeout=30
        )
    ).status_code != 200:
        assert time.monotonic() < deadline, f"{response.status_code}: {response.text[:2000]}"
        routes.touch()
        time.sleep(1)
    job, request_id = response.json()["task"], response.headers["X-Request-ID"]
    welcome = wait_for_mail(workspace, "to:ann@example.com subject:Welcome")
    assert welcome["Subject"] == "Welcome to the blog"
    logs = workspace.compose("logs", "--no-log-prefix", "worker")
    assert f"Task blog.tasks.welcome (job {job}) succeeded" in logs, logs[-3000:]
    line = next(line for line in logs.splitlines() if f"(job {job}) succeeded" in line)
    assert line.endswith(f"request_id={request_id}"), line

    # A password of their own: Django mails no reset to a user without one.
    create = (
        "from django.contrib.auth.models import User; User.objects.create_user('bob', 'bob@example.com', 'pw-85j2kq')"
    )
    assert workspace.inv("manage", "shell", "--", "-c", create).returncode == 0
    session = requests.Session()
    form = session.get(f"http://127.0.0.1:{workspace.port}/password_reset/", timeout=30)
    token = first_group(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    sent = session.post(form.url, data={"email": "bob@example.com", "csrfmiddlewaretoken": token}, timeout=30)
    assert sent.status_code == 200, sent.text[:2000]
    assert sent.url.endswith("/password_reset/done/"), sent.url
    reset = wait_for_mail(workspace, "to:bob@example.com")
    assert f"http://127.0.0.1:{workspace.port}/reset/" in reset["Text"]


def wait_for_mail(workspace, query: str) -> dict:
    """The newest mail Mailpit's search finds, whole (its API: /api/v1/search, /api/v1/message)."""
    api = f"http://127.0.0.1:{workspace.mail_port}/api/v1"
    deadline = time.monotonic() + 30
    while not (found := requests.get(f"{api}/search", params={"query": query}, timeout=10).json()["messages"]):
        assert time.monotonic() < deadline, f"no mail for {query}"
        time.sleep(0.2)
    return requests.get(f"{api}/message/{found[0]['ID']}", timeout=10).json()


def test_no_process_in_the_app_container_runs_as_root(workspace):
    shown = workspace.inv("manage", "shell", "--", "-c", "import os; print('uid', os.getuid())")
    assert f"uid {workspace.uid}" in shown.stdout, shown.stdout
    container = workspace.compose("ps", "-q", "app").strip()
    # The host's view of the container's processes; the first column is the user.
    top = subprocess.run(["docker", "top", container], capture_output=True, text=True, check=True).stdout
    users = [line.split()[0] for line in top.splitlines()[1:]]
    assert users, top
    assert not {"0", "root"} & set(users), top


def test_dev_pages_carry_the_debug_toolbar_through_the_proxy(workspace):
    page = workspace.get("/").text
    assert 'id="djDebug"' in page
    toolbar_css = first_group(r'href="(/static/debug_toolbar/css/toolbar\.css[^"]*)"', page)
    assert workspace.get(toolbar_css).status_code == 200
