"""Tasks for the workspace. `inv --list` shows them; `inv --help TASK` explains one.

Every task that touches a stack goes through `compose()` or `Deployment`, which build the command
with workspace/compose.py: the files, the env file and which value wins (a value a task gives,
then the env file's, then this shell's) are written there once.

Every Django command (`inv manage`, `migrate`, `test`, ...) follows one rule for where it runs:

- inside the stack (the devcontainer's terminal): right there, against the db service;
- else, whenever a Docker engine answers: in the development stack's app container, `exec` while
  the stack runs, else `run --rm`, which starts db for the command and stops it again after;
- only when no engine answers: on this machine, with the settings of .env, and it says so.

In a container it never runs as root: as the host user's uid, root mapped to 1000.
Words for the wrapped command follow `--`: `inv manage shell -- -c "print(1)"`, `inv test -- --lf`.
"""

import dataclasses
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from invoke import Exit, task
from invoke.exceptions import CommandTimedOut

from tests.throwaway_postgres import find_binaries
from workspace.compose import (
    DEPLOY_FILES,
    ENV_EXAMPLE,
    ENV_FILE,
    ROOT,
    Project,
    engine_answers,
    read_env,
)

APP_DIR = ROOT / "services" / "app"
TTY = sys.stdin.isatty()
PYTHON = shlex.quote(sys.executable)


# --------------------------------------------------------------------------- helpers


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(c, command: str, **kwargs):
    """Echo the command, run it, and stop with `hint` (if given) when it fails."""
    hint = kwargs.pop("hint", None)
    kwargs.setdefault("pty", TTY)
    kwargs.setdefault("echo", True)
    hint = f"\nHint: {hint}" if hint else ""
    try:
        result = c.run(command, warn=True, **kwargs)
    except CommandTimedOut as timed_out:
        raise Exit(f"Timed out after {timed_out.timeout}s: {command}{hint}", 1) from None
    if result.failed:
        raise Exit(f"Failed (exit {result.exited}): {command}{hint}", 1)
    return result


def host_settings() -> dict[str, str]:
    """The settings of .env, or of .env.example while there is no .env yet: for a run on this machine."""
    return read_env(ENV_FILE if ENV_FILE.exists() else ENV_EXAMPLE)


def ensure_env_file() -> None:
    if not ENV_FILE.exists():
        shutil.copyfile(ENV_EXAMPLE, ENV_FILE)
        say("Created .env from .env.example (development values); edit it to change settings.")


def inside_stack() -> bool:
    """True in the app container of the development stack (compose.dev.yaml sets it)."""
    return os.environ.get("WORKSPACE_IN_STACK") == "1"


def require_engine() -> None:
    if inside_stack():
        raise Exit("This task drives Docker: run it in a terminal on the host, not inside the app container.", 1)
    if not engine_answers():
        raise Exit(
            "No Docker engine answers. Start Docker (Docker Desktop, or `sudo systemctl start docker`) and try again.",
            1,
        )


def compose(c, args: str, project: Project | None = None, env: dict | None = None, **kwargs):
    """Run `docker compose ARGS` on the development stack (or the given project); `env` adds
    variables (for `exec -e NAME`, say)."""
    require_engine()
    project = project or Project()
    if project.env_file == ENV_FILE:
        ensure_env_file()
    with c.cd(project.directory):
        environment = project.environment(env)
        return run(c, project.shell_command(args), env=environment, replace_env=True, **kwargs)


def rel(path: Path) -> str:
    """A path as short as it can be said: relative to the repository when it is inside."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def as_host_user() -> str:
    """`exec`/`run` options: no TTY when there is none, and the app user's uid (the host user's,
    root mapped to 1000), so files a command writes into the bind-mounted repository (startapp,
    migrations) are the host user's. The uid alone: the image then adds its groups."""
    return f"{'' if TTY else '-T '}--user {Project().settings()['APP_UID']}"


def running_services(c) -> set[str]:
    """The development stack's services that are running now."""
    if not ENV_FILE.exists():
        return set()
    listed = compose(c, "ps --status running --services", hide=True, echo=False, pty=False)
    return set(listed.stdout.split())


def in_app_container(c, command: str, env: dict | None = None, workdir="", build=True, **kwargs):
    """Run COMMAND in the development stack's app container: `exec` while the stack runs, else
    `run --rm`, which starts db for it and stops db again after if it was not running.
    `env` names variables passed from this process; `build=False` refuses to build the image."""
    running = running_services(c)
    options = as_host_user() + "".join(f" -e {name}" for name in env or {}) + (f" -w {workdir}" if workdir else "")
    if "app" in running:
        return compose(c, f"exec {options} app {command}", env=env or {}, **kwargs)
    if not build:
        model = json.loads(compose(c, "config --format json", hide=True, echo=False, pty=False).stdout)
        image = model["services"]["app"]["image"]
        if c.run(f"docker image inspect {image}", hide=True, warn=True).failed:
            raise Exit(f"The development image {image} is not built yet: run `inv build` (or `inv up`), then again.", 1)
    try:
        return compose(c, f"run --rm {options} app {command}", env=env or {}, **kwargs)
    finally:
        if "db" not in running:
            compose(c, "stop db", hide=True)


def django(c, args: str, env: dict | None = None, **kwargs):
    """Run `manage.py ARGS` by the rule in this module's docstring."""
    if not inside_stack() and engine_answers():
        return in_app_container(c, f"python manage.py {args}", env, **kwargs)
    host_env = {}
    if not inside_stack():
        say("No Docker engine answers: running on this machine with the settings of .env.")
        host_env = host_settings()
    with c.cd(APP_DIR):
        return run(c, f"{PYTHON} manage.py {args}", env={**host_env, **(env or {})}, **kwargs)


def words(*parts: str) -> str:
    """Words for a wrapped command: the given ones, then those after `--` as typed."""
    # invoke's own `c.remainder` joins them with spaces, which loses the quoting of `-c "a b"`.
    typed = shlex.join(sys.argv[sys.argv.index("--") + 1 :]) if "--" in sys.argv else ""
    return " ".join(part for part in (*parts, typed) if part)


def explain_failure(c) -> None:
    """After a failed start, say which services failed and why (compose itself only says
    "unhealthy"): each one's state and its last log lines, where the app names the cause."""
    listing = compose(c, "ps --all --format json", hide=True, pty=False).stdout.strip()
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
        compose(c, f"logs --tail 15 --no-log-prefix {service}", pty=False)


# --------------------------------------------------------------------------- tasks


@task(
    help={
        "keyword": "only the tests whose names match this expression (pytest -k)",
        "exitfirst": "stop at the first failure (pytest -x)",
    }
)
def test(c, keyword="", exitfirst=False):
    """Run the Django tests (tests/app and every app's) on PostgreSQL, in seconds.

    Words after -- go to pytest: inv test -- --lf -vv. The stack's own proofs: inv verify."""
    args = words(f"-k {shlex.quote(keyword)}" if keyword else "", "-x" if exitfirst else "")
    if not inside_stack() and engine_answers():
        if os.getuid() == 0:
            # Root's checkout is read-only for the app user (uid 1000): no cache to write.
            args = words("-p no:cacheprovider", args)
        # The bind-mounted repository: the tests and code as they are now.
        in_app_container(c, f"python -m pytest {args}", workdir="/workspace", build=False)
        return
    if not inside_stack() and not os.environ.get("DATABASE_URL") and find_binaries() is None:
        say("Warning: no Docker engine and no PostgreSQL binaries (initdb, pg_ctl): the tests run on SQLite.")
    with c.cd(ROOT):
        run(c, f"{PYTHON} -m pytest {args}")


@task
def verify(c):
    """Run the workspace's own proofs on real containers (tests/stack; minutes).

    The stack, its faults, deploys, the swarm on throwaway Docker hosts, the dev container: it
    builds images, starts and removes stacks of its own. Words after -- go to pytest:
    inv verify -- -k deploy."""
    require_engine()
    with c.cd(ROOT):
        run(c, f"{PYTHON} -m pytest {words('tests/stack')}")


@task
def build(c):
    """Build the app and proxy images of the development stack."""
    compose(c, "build", hint="Read the build output above; `inv build` again after fixing it.")


@task
def up(c):
    """Start the stack (app, db, proxy) and wait until it is healthy; without Docker, a host run."""
    if not engine_answers() and not inside_stack():
        env = {**host_settings(), "DEBUG": "true"}
        django(c, "migrate --noinput", env=env)
        say("Django's development server on http://127.0.0.1:8000 (Ctrl-C stops it)")
        django(c, "runserver 127.0.0.1:8000", env=env)
        return
    try:
        compose(
            c,
            "up --detach --build --wait",
            hint="Fix the cause named above, then `inv up` again; `inv logs -s SERVICE` shows more.",
        )
    except Exit:
        explain_failure(c)
        raise
    port = Project().settings().get("PROXY_PORT") or "8000"
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


@task(positional=["command"], help={"command": "the manage.py command (help lists them); its own words follow --"})
def manage(c, command):
    """Run manage.py: inv manage check, inv manage startapp -- blog, inv manage shell -- -c "print(1)"."""
    django(c, words(command))


@task(help={"name": "the new app's name, a Python identifier: blog"})
def startapp(c, name):
    """Create an app in services/app, owned by you, and add it to LOCAL_APPS in the settings."""
    if not name.isidentifier():
        raise Exit(f"{name!r} cannot be an app name: use letters, digits and underscores (blog, shop_orders).", 1)
    django(c, f"startapp {name}")


@task
def migrate(c):
    """Apply the database migrations."""
    django(c, "migrate --noinput")


@task
def makemigrations(c):
    """Create migrations for model changes; more words after --: inv makemigrations -- blog."""
    django(c, words("makemigrations"))


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
    settings = Project().settings()
    tty = "" if TTY else "-T"
    compose(c, f"exec {tty} db psql -U {settings.get('POSTGRES_USER', 'app')} {settings.get('POSTGRES_DB', 'app')}")


# --------------------------------------------------------------------------- deployment

DEPLOY_ENV = ROOT / ".env.deploy"
DEPLOY_EXAMPLE = ROOT / ".env.deploy.example"
SWARM_FILE = "compose/compose.swarm.yaml"
# With MEDIA_STORAGE=s3: the bucket's keys as Docker secrets too.
SWARM_S3_FILE = "compose/compose.swarm-s3.yaml"
# With DOMAIN set: the TLS front (Caddy), HTTPS by ACME.
HTTPS_FILE = "compose/compose.https.yaml"
HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DEPLOY_NAME = "django-compose-workspace-deploy"
# A deployment does not start without these; the example's values are refused too.
DEPLOY_REQUIRED = ("SECRET_KEY", "ALLOWED_HOSTS", "POSTGRES_PASSWORD")
# And these with the uploads in a bucket (MEDIA_STORAGE=s3); AWS_S3_ENDPOINT_URL is empty for AWS S3.
S3_REQUIRED = ("AWS_STORAGE_BUCKET_NAME", "AWS_S3_REGION_NAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
BACKUPS = ROOT / "backups"

DEPLOY_HELP = {
    "host": "the engine to deploy to: ssh://user@server (DOCKER_HOST) or a Docker context name",
    "env_file": "the deployment's settings (default: .env.deploy)",
}


class Deployment:
    """A deployment's settings, from its env file, checked; and the engine it runs on."""

    def __init__(self, env_file: str, host: str = ""):
        self.env_file = Path(env_file).resolve()
        if not self.env_file.exists():
            raise Exit(f"No {rel(self.env_file)}: copy .env.deploy.example to .env.deploy and set its values.", 1)
        self.settings = read_env(self.env_file)
        self.check()
        self.domain = self.settings.get("DOMAIN", "")
        # Where the uploads are: the media volume or a bucket (MEDIA_STORAGE=s3).
        self.media_storage = "s3" if self.settings.get("MEDIA_STORAGE") == "s3" else "volume"
        # The compose files of this deployment: the front's too when it has a domain.
        self.https = (HTTPS_FILE,) if self.domain else ()
        self.files = (*DEPLOY_FILES, *self.https)
        self.name = self.settings.get("COMPOSE_PROJECT_NAME") or DEPLOY_NAME
        # Where model_files() writes the rendered models; removed when the task ends.
        self.rendered = tempfile.TemporaryDirectory(prefix=f"{self.name}-")
        if host:
            # Every docker command of this run talks to that engine: the Docker-native way.
            os.environ["DOCKER_HOST" if "://" in host else "DOCKER_CONTEXT"] = host
            if not engine_answers():
                raise Exit(f"No Docker engine answers at {host}: check the address or `docker context ls`.", 1)
        self.where = host or "this machine"

    def check(self) -> None:
        """Stop with one line naming the first setting a deployment must not run with."""
        example = read_env(DEPLOY_EXAMPLE)
        where = rel(self.env_file)
        for name in DEPLOY_REQUIRED:
            value = self.settings.get(name, "")
            if not value:
                raise Exit(f"{name} is not set in {where} (see .env.deploy.example).", 1)
            if value == example.get(name):
                raise Exit(f"{name} in {where} is the example's value: set your own (see .env.deploy.example).", 1)
        if self.settings.get("DEBUG", "").lower() in {"1", "true", "yes", "on"}:
            raise Exit(f"DEBUG is on in {where}: a deployment runs with DEBUG off (remove the line).", 1)
        for name in S3_REQUIRED if self.settings.get("MEDIA_STORAGE") == "s3" else ():
            if not self.settings.get(name):
                raise Exit(f"{name} is not set in {where}, and MEDIA_STORAGE=s3 needs it (see .env.deploy.example).", 1)
        self.check_https(where)

    def check_https(self, where: str) -> None:
        """DOMAIN, ACME_EMAIL and ACME_CA, the settings of the TLS front: one line for the first wrong one."""
        domain, email, ca = (self.settings.get(name, "") for name in ("DOMAIN", "ACME_EMAIL", "ACME_CA"))
        if not domain:
            for name, value in (("ACME_EMAIL", email), ("ACME_CA", ca)):
                if value:
                    message = f"DOMAIN is not set in {where}, but {name} is: set DOMAIN for HTTPS, or remove {name}."
                    raise Exit(message, 1)
            return
        if not HOST_NAME.fullmatch(domain):
            example = "a lower-case name like example.com, no scheme, port or path"
            raise Exit(f"DOMAIN={domain} in {where} is not a host name: {example}.", 1)
        allowed = [host.strip() for host in self.settings.get("ALLOWED_HOSTS", "").split(",")]
        if not any(host in ("*", domain) or (host.startswith(".") and f".{domain}".endswith(host)) for host in allowed):
            raise Exit(f"ALLOWED_HOSTS in {where} does not include DOMAIN ({domain}): the site would answer 400.", 1)
        if email and not EMAIL.fullmatch(email):
            raise Exit(f"ACME_EMAIL={email} in {where} is not an email address (or leave it empty).", 1)
        if ca and not ca.startswith("https://"):
            raise Exit(f"ACME_CA={ca} in {where} is not an https:// URL of an ACME directory.", 1)

    def project(self, files: tuple[str, ...] = (), env: dict | None = None) -> Project:
        """The deployment's compose project: its files (or the given ones), its env file, and
        `env`'s values over the env file's (an image tag, the names of swarm secrets)."""
        project = Project(files or self.files, self.env_file, self.name, env or {})
        return dataclasses.replace(project, files=self.model_files(project))

    def compose(self, c, args: str, files: tuple[str, ...] = (), env: dict | None = None, **kwargs):
        """`docker compose ARGS` on the deployment (its files, or the given ones)."""
        return compose(c, args, self.project(files, env), **kwargs)

    def model_files(self, project: Project) -> tuple[str, ...]:
        """The compose files, as they are; with the TLS front, the model compose makes of them
        less the proxy's published port, in a file of its own: the proxy is then reached through
        the front only. (compose.yaml publishes it, and in plain YAML a later file cannot take a
        port away; compose's `!reset` is a tag other tools that read compose files refuse.)"""
        if not self.domain:
            return project.files
        rendered = project.run("config", "--format", "json", capture_output=True)
        if rendered.returncode:
            raise Exit(f"Failed: {shlex.join(project.command('config'))}\n{rendered.stderr.decode().strip()}", 1)
        model = json.loads(rendered.stdout)
        model["services"]["proxy"].pop("ports", None)
        path = Path(self.rendered.name) / f"{hashlib.sha256(' '.join(project.files).encode()).hexdigest()[:12]}.json"
        path.write_text(json.dumps(model))
        return (str(path),)

    def stream(self, *args: str, stdin=None, stdout=None, hint: str = "") -> None:
        """`docker compose ARGS` with binary data on stdin or stdout (a dump, a tar), echoed first."""
        project = self.project()
        print(shlex.join(project.command(*args)), flush=True)
        result = project.run(*args, stdin=stdin, stdout=stdout)
        if result.returncode:
            failed = f"Failed (exit {result.returncode}): docker compose {shlex.join(args)}"
            raise Exit(failed + (f"\nHint: {hint}" if hint else ""), 1)

    def url(self) -> str:
        if self.domain:
            return f"https://{self.domain}/"
        return f"http://{self.settings.get('PROXY_HOST_IP') or '127.0.0.1'}:{self.settings.get('PROXY_PORT') or 8000}/"


def swarm_stack(model: dict) -> dict:
    """The compose model (`docker compose config`) in the older schema `docker stack deploy`
    reads: without the keys it refuses, with the types it wants. The build stays with compose;
    a swarm starts services in any order and restarts them until their dependencies answer;
    its proxies reach the app over TCP, so they need no group for the app's socket (group_add)."""
    stack = {key: value for key, value in model.items() if key != "name" and not key.startswith("x-")}
    for service in stack["services"].values():
        for key in ("build", "depends_on", "group_add", *(k for k, v in service.items() if v is None)):
            service.pop(key, None)
        for port in service.get("ports", []):
            # A swarm publishes on every interface of the node.
            port.pop("host_ip", None)
            port["published"] = int(port["published"])
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        if "cpus" in limits:
            limits["cpus"] = str(limits["cpus"])
    return stack


def swarm_secrets(c, deployment: Deployment) -> dict[str, str]:
    """Docker secrets for the secret key and the database password (and the bucket's keys with
    MEDIA_STORAGE=s3), created once per value. A swarm secret cannot change: a new value gets a
    new name (a digest of all the values, which reveals nothing of them while the secret key is
    long and random), and the services roll over to it. `docker stack rm` removes them with the
    stack (its namespace label)."""
    values = {"SECRET_KEY_SECRET": "SECRET_KEY", "DB_PASSWORD_SECRET": "POSTGRES_PASSWORD"}
    if deployment.media_storage == "s3":
        values |= {
            "AWS_ACCESS_KEY_ID_SECRET": "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY_SECRET": "AWS_SECRET_ACCESS_KEY",
        }
    digest = hashlib.sha256("\0".join(deployment.settings[v] for v in values.values()).encode()).hexdigest()[:12]
    names = {}
    for variable, setting in values.items():
        name = f"{deployment.name}_{setting.lower()}_{digest}"
        if c.run(f"docker secret inspect {name}", hide=True, warn=True).failed:
            label = f"com.docker.stack.namespace={deployment.name}"
            value = io.StringIO(deployment.settings[setting])
            run(c, f"docker secret create --label {label} {name} -", in_stream=value, pty=False)
        names[variable] = name
    return names


def registry_of(image_prefix: str) -> str:
    """The registry an image prefix names (`registry.example.com/site`, `10.0.0.5:5000/site`), or
    "" when the images stay on the engine that builds them. Docker's own rule: the first part of
    the name is a registry when it holds a dot or a port, or is localhost."""
    first, slash, _ = image_prefix.partition("/")
    return first if slash and ("." in first or ":" in first or first == "localhost") else ""


def swarm_manage(c, deployment: Deployment, *commands: str) -> None:
    """Run manage.py commands once, in a swarm job with the app service's image, network, secrets
    and settings, on whichever node has room: the engine `--host` names needs no app replica."""
    template = "{{json .Spec.TaskTemplate}}"
    spec = json.loads(c.run(f"docker service inspect --format '{template}' {deployment.name}_app", hide=True).stdout)
    container = spec["ContainerSpec"]
    job = f"{deployment.name}_manage"
    # The stack's label: `docker stack rm` (and the next deploy's --prune) removes a leftover job.
    options = [f"--name {job} --mode replicated-job --restart-condition none"]
    options.append(f"--label com.docker.stack.namespace={deployment.name}")
    options += [f"--network {network['Target']}" for network in spec["Networks"]]
    options += [f"--secret source={s['SecretName']},target={s['File']['Name']}" for s in container.get("Secrets", [])]
    script = shlex.quote(" && ".join(f"python manage.py {command}" for command in commands))
    c.run(f"docker service rm {job}", hide=True, warn=True)
    try:
        with tempfile.NamedTemporaryFile("w", prefix=f"{job}-", suffix=".env") as settings:
            settings.write("".join(f"{line}\n" for line in container["Env"]))
            settings.flush()
            options.append(f"--env-file {settings.name}")
            run(c, f"docker service create --detach=false {' '.join(options)} {container['Image']} sh -c {script}")
        run(c, f"docker service logs --raw {job}", pty=False)
        template = "{{.CurrentState}}: {{.Error}}"
        state = c.run(f"docker service ps --no-trunc --format '{template}' {job}", hide=True).stdout.strip()
    finally:
        c.run(f"docker service rm {job}", hide=True, warn=True)
    if not state.startswith("Complete"):
        raise Exit(f"manage.py failed on the swarm ({state}): its output is above.", 1)


@task(
    help={
        "swarm": "deploy to a Docker Swarm with `docker stack deploy`",
        "override": "a compose file layered on top, for this site's own changes",
        **DEPLOY_HELP,
    }
)
def deploy(c, swarm=False, host="", env_file=str(DEPLOY_ENV), override=""):
    """Build and start the production stack from .env.deploy, migrate once, run check --deploy."""
    deployment = Deployment(env_file, host)
    extra = (rel(Path(override)),) if override else ()
    files = (*deployment.files, *extra)
    hint = "`inv deploy` again after fixing it; `docker compose ps` / `docker service ps` show the services."
    if not swarm:
        deployment.compose(c, "build", files=files, hint="Read the build output above.")
        deployment.compose(c, "up --detach --wait --remove-orphans", files=files, hint=hint)
        for command in ("migrate --noinput", "check --deploy --fail-level WARNING"):
            deployment.compose(c, f"exec -T app python manage.py {command}", files=files, hint=hint)
        say(f"The stack {deployment.name} is up on {deployment.where}: {deployment.url()}")
        return
    # A swarm updates a service only when its spec changes: each deploy tags a new version.
    env = {"IMAGE_TAG": deployment.settings.get("IMAGE_TAG") or time.strftime("%Y%m%d%H%M%S")}
    deployment.compose(c, "build", files=files, env=env, hint="Read the build output above.")
    registry = registry_of(deployment.settings.get("IMAGE_PREFIX", ""))
    if registry:
        # Every node pulls the images from there; only app and proxy are built here.
        unreachable = f"Can this engine reach {registry}? One without TLS goes in daemon.json's insecure-registries."
        pushed = "app proxy" + (" front" if deployment.domain else "")
        deployment.compose(c, f"push {pushed}", files=files, env=env, hint=unreachable)
    env.update(swarm_secrets(c, deployment))
    media = (SWARM_S3_FILE,) if deployment.media_storage == "s3" else ()
    swarm_files = (*DEPLOY_FILES, SWARM_FILE, *media, *deployment.https, *extra)
    model = deployment.compose(c, "config --format json", files=swarm_files, env=env, hide="out")
    # The stack file holds no secret: those are Docker secrets by now.
    with tempfile.NamedTemporaryFile("w", prefix=f"{deployment.name}-", suffix=".json") as stack:
        json.dump(swarm_stack(json.loads(model.stdout)), stack)
        stack.flush()
        # With a registry, the manager pins each image's digest, so every node runs the same
        # build, and the nodes get this client's login to pull; without one, the images are
        # this engine's own and nothing is looked up.
        images = "--resolve-image always --with-registry-auth" if registry else "--resolve-image never"
        run(
            c,
            f"docker stack deploy --detach=false --prune {images} -c {stack.name} {deployment.name}",
            # The CLI waits for the services to converge: forever, if a task keeps failing.
            timeout=600,
            hint="`docker service ps --no-trunc <stack>_<service>` shows why a task failed; fix it, deploy again.",
        )
    swarm_manage(c, deployment, "migrate --noinput", "check --deploy --fail-level WARNING")
    port = deployment.settings.get("PROXY_PORT") or 8000
    where = deployment.url() if deployment.domain else f"port {port} of each node"
    say(f"The stack {deployment.name} is deployed to the swarm on {deployment.where}: {where}")


# The uploads as one tar, the same for both stores: a backup of either restores into either.
MEDIA_EXPORT = {
    "volume": ("tar", "-C", "/vol/web/media", "-cf", "-", "."),
    "s3": ("python", "manage.py", "media_archive", "export"),
}
MEDIA_IMPORT = {
    # Unpacked beside the current files first: a broken archive replaces nothing. The folders
    # stay writable for the app's group, as start.sh makes them (umask).
    "volume": (
        "sh",
        "-c",
        (
            "set -e; umask 002; cd /vol/web/media; rm -rf .restoring; mkdir .restoring; tar -C .restoring -xf -; "
            "find . -mindepth 1 -maxdepth 1 ! -name .restoring -exec rm -rf {} +; "
            "find .restoring -mindepth 1 -maxdepth 1 -exec mv {} . ';'; rmdir .restoring"
        ),
    ),
    # The same in the bucket: staged under a prefix, then copied into place (core's media_archive).
    "s3": ("python", "manage.py", "media_archive", "import"),
}


@task(help=DEPLOY_HELP)
def backup(c, host="", env_file=str(DEPLOY_ENV)):
    """Back up the deployed stack: its database (pg_dump, custom format) and media files, into backups/."""
    deployment = Deployment(env_file, host)
    folder = BACKUPS / time.strftime("%Y%m%d-%H%M%S")
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True)
    try:
        # pg_dump reads one snapshot of the database; the media files come after it, so every
        # file the dump names is in the archive (uploads are only ever added).
        with (partial / "db.dump").open("wb") as out:
            dump = 'pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --format=custom'
            deployment.stream("exec", "-T", "db", "sh", "-c", dump, stdout=out, hint="Is the stack up? `inv deploy`.")
        with (partial / "media.tar").open("wb") as out:
            deployment.stream("exec", "-T", "app", *MEDIA_EXPORT[deployment.media_storage], stdout=out)
    except BaseException:
        shutil.rmtree(partial)
        raise
    partial.rename(folder)
    say(f"Backed up {deployment.name} to {rel(folder)}/ (db.dump, media.tar)")


@task(help={"path": "a folder made by inv backup", "yes": "do not ask first", **DEPLOY_HELP})
def restore(c, path, yes=False, host="", env_file=str(DEPLOY_ENV)):
    """Put a backup's database and media files back into the deployed stack, replacing theirs."""
    folder = Path(path)
    missing = [name for name in ("db.dump", "media.tar") if not (folder / name).is_file()]
    if missing:
        raise Exit(f"{path} is not a backup: {' and '.join(missing)} missing (inv backup makes one).", 1)
    deployment = Deployment(env_file, host)
    if not yes:
        question = f"Replace the database and media files of {deployment.name} on {deployment.where}? Type 'yes': "
        if (input(question) if TTY else "").strip() != "yes":
            raise Exit("Nothing restored. Add --yes to restore without asking.", 1)
    # Nothing writes while the data is replaced.
    deployment.compose(c, "stop proxy app")
    try:
        # One transaction: a failed restore leaves the database as it was.
        with (folder / "db.dump").open("rb") as dump:
            load = 'pg_restore -U "$POSTGRES_USER" -d "$POSTGRES_DB" --clean --if-exists --no-owner'
            deployment.stream("exec", "-T", "db", "sh", "-c", f"{load} --single-transaction", stdin=dump)
        with (folder / "media.tar").open("rb") as media:
            unpack = MEDIA_IMPORT[deployment.media_storage]
            deployment.stream("run", "--rm", "--no-deps", "-T", "app", *unpack, stdin=media)
    finally:
        deployment.compose(c, "up --detach --wait")
    say(f"Restored {rel(folder)} into {deployment.name}: {deployment.url()}")


# --------------------------------------------------------------------------- dependencies

# Each lock file and the declared requirements it is compiled from, in order (the tools' lock is
# constrained by the app's). Every dependency pinned with its hashes, for every platform and
# every Python from 3.11: the host's tools run on 3.11+, the image on 3.13.
LOCKS = {
    "services/app/requirements.txt": "services/app/requirements.in",
    "services/app/requirements-server.txt": "services/app/requirements-server.in",
    "requirements-dev.txt": "requirements-dev.in",
    "benchmarks/requirements.txt": "benchmarks/requirements.in",
    "benchmarks/requirements-chart.txt": "benchmarks/requirements-chart.in",
}


@task(help={"upgrade": "move every package to the newest version the .in files allow"})
def lock(c, upgrade=False):
    """Write the lock files (requirements*.txt) from the declared requirements (*.in) with uv.

    Without --upgrade, a locked version stays as long as the .in files allow it, so a run
    changes nothing unless they changed: pre-commit runs it to check that both agree."""
    upgrading = "--upgrade " if upgrade else ""
    options = '--quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "inv lock"'
    with c.cd(ROOT):
        for output, source in LOCKS.items():
            run(c, f"{PYTHON} -m uv pip compile {options} {upgrading}-o {output} {source}")


# --------------------------------------------------------------------------- benchmarks


@task(
    help={
        "quick": "a few seconds a case: proves the benchmark works end to end (CI runs this)",
        "parts": "comma-separated subset of build,size,startup,serving (default: all)",
    }
)
def bench(c, quick=False, parts=""):
    """Measure serving speed against gunicorn, Granian, WhiteNoise and a bare nginx, build time,
    image size and start-up; results in benchmarks/results/. Settings like UWSGI_THREADS=8 in the
    environment are used."""
    require_engine()
    if not shutil.which("wrk"):
        raise Exit("wrk, the load generator, is missing: install it (sudo apt-get install wrk) and try again.", 1)
    with c.cd(ROOT):
        if c.run(f"{PYTHON} -c 'import matplotlib'", hide=True, warn=True).failed:
            say("Installing the chart's library into this Python environment (benchmarks/requirements-chart.txt).")
            run(c, f"{PYTHON} -m pip install --quiet -r benchmarks/requirements-chart.txt")
        options = ("--quick " if quick else "") + (f"--parts {shlex.quote(parts)}" if parts else "")
        run(
            c,
            f"{PYTHON} -m benchmarks.bench {options}",
            hint="A case failed: its lines above say why; benchmarks/results/ holds what was measured.",
        )
