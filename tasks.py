"""Tasks for the workspace. `inv --list` shows them; `inv --help TASK` explains one.

Every task that touches the stack goes through `compose()`, so the compose files are named in
one place, and every Django command goes through `django()`, which decides where it runs:
directly when we are inside the stack (the devcontainer) or no engine answers, else in the
app container.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from invoke import Exit, task
from invoke.main import program

ROOT = Path(__file__).resolve().parent
APP_DIR = ROOT / "services" / "app"
ENV_FILE = ROOT / ".env"
ENV_EXAMPLE = ROOT / ".env.example"
DEV_FILES = ("compose/compose.yaml", "compose/compose.dev.yaml")
TTY = sys.stdin.isatty()


# --------------------------------------------------------------------------- helpers


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(c, command: str, **kwargs):
    """Echo the command, run it, and stop with `hint` (if given) when it fails."""
    hint = kwargs.pop("hint", None)
    kwargs.setdefault("pty", TTY)
    result = c.run(command, echo=True, warn=True, **kwargs)
    if result.failed:
        raise Exit(f"Failed (exit {result.exited}): {command}" + (f"\nHint: {hint}" if hint else ""), 1)
    return result


def read_env() -> dict[str, str]:
    """The settings of .env, or of .env.example while there is no .env yet."""
    source = ENV_FILE if ENV_FILE.exists() else ENV_EXAMPLE
    values: dict[str, str] = {}
    for line in source.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def ensure_env_file() -> None:
    if not ENV_FILE.exists():
        shutil.copyfile(ENV_EXAMPLE, ENV_FILE)
        say("Created .env from .env.example (development values); edit it to change settings.")


def inside_stack() -> bool:
    """True in the app container of the development stack (the devcontainer sets it)."""
    return os.environ.get("WORKSPACE_IN_STACK") == "1"


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=15)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def require_engine() -> None:
    if not engine_answers():
        raise Exit(
            "No Docker engine answers. Start Docker (Docker Desktop, or `sudo systemctl start docker`) and try again.",
            1,
        )


def host_ids() -> dict[str, str]:
    """The app user's UID/GID in the image: the host user's, so bind-mounted files stay theirs.
    Root on the host gets 1000, since the containers never run as root."""
    uid, gid = os.getuid(), os.getgid()
    return {
        "APP_UID": os.environ.get("APP_UID", str(uid or 1000)),
        "APP_GID": os.environ.get("APP_GID", str(gid if uid else 1000)),
    }


def compose(c, args: str, files=DEV_FILES, **kwargs):
    """Run `docker compose` on the development stack (or the given files)."""
    require_engine()
    ensure_env_file()
    names = " ".join(f"-f {f}" for f in files)
    env = {**host_ids(), **kwargs.pop("env", {})}
    with c.cd(ROOT):
        return run(c, f"docker compose {names} --env-file .env {args}", env=env, **kwargs)


def as_host_user() -> str:
    """`exec`/`run` options: no TTY when there is none, and the host user's ids, so files a
    command writes into the bind-mounted repository (startapp, migrations) are the host user's."""
    return f"{'' if TTY else '-T '}--user {os.getuid()}:{os.getgid()}"


def stack_running(c) -> bool:
    if inside_stack() or not engine_answers() or not ENV_FILE.exists():
        return False
    names = " ".join(f"-f {f}" for f in DEV_FILES)
    with c.cd(ROOT):
        result = c.run(
            f"docker compose {names} --env-file .env ps --status running --services",
            hide=True,
            warn=True,
            env=host_ids(),
        )
    return result.ok and "app" in result.stdout.split()


def django(c, args: str, env: dict | None = None, **kwargs):
    """Run `manage.py ARGS` where it belongs: in the app container while the stack runs,
    else directly (inside the stack, or on the host with the settings of .env)."""
    if stack_running(c):
        passed = "".join(f"-e {name} " for name in (env or {}))
        return compose(c, f"exec {as_host_user()} {passed}app python manage.py {args}", env=env or {}, **kwargs)
    host_env = {} if inside_stack() else read_env()
    with c.cd(APP_DIR):
        command = f"{shlex.quote(sys.executable)} manage.py {args}"
        return run(c, command, env={**host_env, **(env or {})}, **kwargs)


def explain_failure(c, files=DEV_FILES) -> None:
    """After a failed start, say which services failed and why (compose itself only says
    "unhealthy"): each one's state and its last log lines, where the app names the cause."""
    listing = compose(c, "ps --all --format json", files=files, hide=True, pty=False).stdout.strip()
    # One JSON object per line; older Compose versions print one array.
    containers = json.loads(listing) if listing.startswith("[") else [json.loads(x) for x in listing.splitlines()]
    for container in containers:
        service, state = container["Service"], container["State"]
        if state == "running" and container.get("Health") in ("", "healthy"):
            continue
        if state == "created":
            say(f"{service} was not started: it waits for a service that failed")
            continue
        say(f"{service} failed: {container['Status']}")
        compose(c, f"logs --tail 15 --no-log-prefix {service}", files=files, pty=False)


# --------------------------------------------------------------------------- tasks


@task(help={"docker": "run the suite inside the app container, against the stack's db service"})
def test(c, docker=False):
    """Run the test suite; words after the options go to pytest (inv test -k admin -x)."""
    args = c.remainder
    if docker:
        compose(c, f"run --rm {as_host_user()} -w /workspace app python -m pytest {args}")
        return
    with c.cd(ROOT):
        run(c, f"{shlex.quote(sys.executable)} -m pytest {args}")


@task
def build(c):
    """Build the app and proxy images of the development stack."""
    compose(c, "build", hint="Read the build output above; `inv build` again after fixing it.")


@task
def up(c):
    """Start the stack (app, db, proxy) and wait until it is healthy; without Docker, a host run."""
    if not engine_answers():
        say("No Docker engine answers: running on this machine with the embedded SQLite database.")
        env = {**read_env(), "DEBUG": "true"}
        django(c, "migrate --noinput", env=env)
        say("Django's development server on http://127.0.0.1:8000 (Ctrl-C stops it)")
        django(c, "runserver 127.0.0.1:8000", env=env)
        return
    try:
        compose(
            c,
            "up --detach --build --wait",
            hint="Fix the cause named above, then `inv up` again; `inv logs SERVICE` shows more.",
        )
    except Exit:
        explain_failure(c)
        raise
    port = read_env().get("PROXY_PORT") or "8000"
    say(f"The stack is up: http://127.0.0.1:{port}/ (admin: http://127.0.0.1:{port}/admin/)")


@task(help={"volumes": "also delete the database and the uploaded files", "yes": "do not ask first"})
def down(c, volumes=False, yes=False):
    """Stop the stack; data is kept unless --volumes."""
    if volumes and not yes:
        answer = input("Delete the database and all uploaded files? Type 'yes': ") if TTY else ""
        if answer.strip() != "yes":
            raise Exit("Nothing deleted. Add --yes to delete without asking.", 1)
    compose(c, "down --remove-orphans" + (" --volumes" if volumes else ""))


@task(help={"follow": "keep printing new lines", "service": "app, db or proxy (default: all)"})
def logs(c, service="", follow=False):
    """Show the stack's logs."""
    compose(c, f"logs --tail 200 {'--follow ' if follow else ''}{service}")


@task
def ps(c):
    """List the stack's containers and their health."""
    compose(c, "ps --all")


@task
def manage(c):
    """Run manage.py with the words that follow: inv manage startapp blog."""
    if not c.remainder:
        raise Exit("Name a command: inv manage check (inv manage help lists them).", 1)
    django(c, c.remainder)


@task
def migrate(c):
    """Apply the database migrations."""
    django(c, "migrate --noinput")


@task
def makemigrations(c):
    """Create migrations for model changes; words that follow go to makemigrations."""
    django(c, f"makemigrations {c.remainder}")


@task
def superuser(c):
    """Create a superuser: asks, or takes DJANGO_SUPERUSER_USERNAME/_EMAIL/_PASSWORD without asking."""
    names = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD")
    given = {name: os.environ[name] for name in names if os.environ.get(name)}
    if "DJANGO_SUPERUSER_USERNAME" in given and "DJANGO_SUPERUSER_PASSWORD" in given:
        given.setdefault("DJANGO_SUPERUSER_EMAIL", "")
        django(c, "createsuperuser --noinput", env=given)
    elif TTY:
        django(c, "createsuperuser")
    else:
        raise Exit("No terminal to ask on: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD.", 1)


@task
def shell(c):
    """Open Django's shell."""
    django(c, "shell")


@task
def psql(c):
    """Open psql on the stack's database."""
    if inside_stack():
        run(c, 'psql "$DATABASE_URL"', hint="Install the PostgreSQL client, or run inv psql on the host.")
        return
    env = read_env()
    tty = "" if TTY else "-T"
    compose(c, f"exec {tty} db psql -U {env.get('POSTGRES_USER', 'app')} {env.get('POSTGRES_DB', 'app')}")


# `inv manage startapp blog`, `inv test -k admin`: invoke would read `blog` as a task name and
# `-k` as its own flag. For these tasks, the words after the task's own options go to the
# command it wraps, as if they followed `--`.
PASS_THROUGH = {"manage": set(), "makemigrations": set(), "test": {"--docker", "-d"}}


def _pass_words_through() -> None:
    core = getattr(program, "core", None)
    words = core.unparsed if core is not None else []
    if not words or words[0] not in PASS_THROUGH:
        return
    start = 1
    while start < len(words) and words[start] in PASS_THROUGH[words[0]]:
        start += 1
    passed = [shlex.quote(w) for w in words[start:]]
    core.remainder = " ".join(passed + ([core.remainder] if core.remainder else []))
    del words[start:]


_pass_words_through()
