"""A deployment: its settings (its env file under the shell's, checked against workspace/settings.py),
the engine it runs on (`--host`: DOCKER_HOST or a Docker context), its compose files, and the
one-host deploy. The swarm's deploy is in workspace/swarm.py; backups in workspace/backups.py
(continuous) and workspace/dumps.py (pg_dump)."""

import hashlib
import json
import os
import shlex
import tempfile
from collections.abc import Mapping
from pathlib import Path

from invoke import Exit

from workspace.compose import (
    BACKUP_S3_FILES,
    DEPLOY_FILES,
    HTTPS_FILES,
    ROOT,
    Project,
    compose,
    read_env,
    require_engine,
)
from workspace.settings import BY_NAME, interpolated, problems
from workspace.shell import run, say, short_path

DEPLOY_ENV = ROOT / ".env.deploy"
DEPLOY_EXAMPLE = ROOT / ".env.deploy.example"
DEPLOY_NAME = "django-compose-workspace-deploy"
# The database role a deployment's app connects as: no superuser (services/db/bin/site-role).
APP_ROLE = "site"
# Once the app connects as APP_ROLE, the superuser logs in through the database's socket only
# (the database's and the backup service's containers): with no password, none over the network.
LOCK_SUPERUSER = "psql -X -q -c 'ALTER ROLE CURRENT_USER PASSWORD NULL'"


def engine_of(host: str) -> dict[str, str]:
    """The variable that points the docker CLI at HOST: an address (ssh://user@server,
    tcp://...) or a Docker context's name; {} for this machine's engine."""
    if not host:
        return {}
    return {"DOCKER_HOST" if "://" in host else "DOCKER_CONTEXT": host}


class Deployment:
    """A deployment's settings, from its env file and the shell, checked; and its engine."""

    def __init__(self, env_file: str | Path = DEPLOY_ENV, host: str = "", extra_files: tuple[str, ...] = ()):
        self.env_file = Path(env_file).resolve()
        where = short_path(self.env_file)
        if not self.env_file.exists():
            raise Exit(f"No {where}: copy .env.deploy.example to .env.deploy and set its values.", 1)
        written = read_env(self.env_file)
        # The variables a site's own compose file reads are its settings too.
        own = set().union(*(interpolated(Path(name).read_text()) for name in extra_files))
        # The shell wins over the file, as in compose.
        merged = {**written, **os.environ}
        self.settings = {name: merged[name] for name in {*BY_NAME, *own} if merged.get(name)}
        self.from_shell = sorted(name for name in {*BY_NAME, *own} if name in os.environ)
        found = problems(self.settings, read_env(DEPLOY_EXAMPLE), written, own)
        if found:
            raise Exit("\n".join(f"{where}: {problem} (see .env.deploy.example)." for problem in found), 1)
        self.engine = engine_of(host)
        self.where = host or "this machine"
        self.domain = self.settings.get("DOMAIN", "")
        # Where the uploads are: the media volume or a bucket (MEDIA_STORAGE=s3).
        self.media_storage = self.settings.get("MEDIA_STORAGE", "volume")
        self.name = self.settings.get("COMPOSE_PROJECT_NAME") or DEPLOY_NAME
        # The compose files of this deployment: the front's too when it has a domain, then the
        # site's own override (--override).
        self.https = HTTPS_FILES if self.domain else ()
        self.extra_files = extra_files
        backups = BACKUP_S3_FILES if self.settings.get("BACKUP_S3_BUCKET") else ()
        self.files = (*DEPLOY_FILES, *backups, *self.https, *extra_files)
        # Where model_files() writes the rendered models; removed when the task ends.
        self.rendered = tempfile.TemporaryDirectory(prefix=f"{self.name}-")

    def announce(self) -> None:
        """Check that the deployment's engine answers, then say which settings come from the
        shell rather than the env file."""
        require_engine(self.engine, self.where if self.engine else "")
        if self.from_shell:
            say(f"From the shell, not {short_path(self.env_file)}: {', '.join(self.from_shell)}")

    def project(self, files: tuple[str, ...] = (), env: Mapping[str, str] | None = None) -> Project:
        """The deployment's compose project: its files (or the given ones), its env file, its
        engine, and `env`'s values over the others (an image tag, the names of swarm secrets)."""
        project = Project(files or self.files, self.env_file, self.name, {**self.engine, **(env or {})})
        return Project(self.model_files(project), project.env_file, project.name, project.overrides)

    def compose(self, c, args: str, files: tuple[str, ...] = (), env: Mapping[str, str] | None = None, **kwargs):
        """`docker compose ARGS` on the deployment (its files, or the given ones)."""
        return compose(c, args, self.project(files, env), **kwargs)

    def docker(self, c, args: str, **kwargs):
        """`docker ARGS` on the deployment's engine, echoed (hide/warn as for c.run)."""
        if kwargs.get("warn") or kwargs.get("hide"):
            return c.run(f"docker {args}", env=self.engine, **kwargs)
        return run(c, f"docker {args}", env=self.engine, **kwargs)

    def model_files(self, project: Project) -> tuple[str, ...]:
        """The compose files, as they are; with the TLS front, the model compose makes of them
        less the proxy's published port, in a file of its own: the proxy is then reached through
        the front only. (compose.yaml publishes it, and in plain YAML a later file cannot take a
        port away; compose's `!reset` is a tag other tools that read compose files refuse.)"""
        if not self.domain:
            return project.files
        rendered = project.call("config", "--format", "json", capture_output=True)
        if rendered.returncode:
            raise Exit(f"Failed: {shlex.join(project.command('config'))}\n{rendered.stderr.decode().strip()}", 1)
        model = json.loads(rendered.stdout)
        model["services"]["proxy"].pop("ports", None)
        path = Path(self.rendered.name) / f"{hashlib.sha256(' '.join(project.files).encode()).hexdigest()[:12]}.json"
        path.write_text(json.dumps(model))
        return (str(path),)

    def stream(self, *args: str, stdin=None, stdout=None, hint: str = "", env: Mapping[str, str] | None = None) -> None:
        """`docker compose ARGS` with binary data on stdin or stdout (a dump, a tar), echoed first."""
        project = self.project(env=env)
        print(shlex.join(project.command(*args)), flush=True)
        result = project.call(*args, stdin=stdin, stdout=stdout)
        if result.returncode:
            failed = f"Failed (exit {result.returncode}): docker compose {shlex.join(args)}"
            raise Exit(failed + (f"\nHint: {hint}" if hint else ""), 1)

    def serving(self, c, *, stopped: bool = False) -> str:
        """The release (image tag) the running app containers run; "" when none runs. With STOPPED,
        when none runs, the release of the app container stopped last: the one a restore stopped,
        which a run of it again after a failure serves again."""
        running = self.compose(c, "ps -q --status running app", hide=True, echo=False, pty=False).stdout.split()
        if not running and stopped:
            every = self.compose(c, "ps -q --all app", hide=True, echo=False, pty=False).stdout.split()
            if not every:
                return ""
            template = "'{{.State.FinishedAt}} {{.Config.Image}}'"
            found = self.docker(c, f"inspect --format {template} {' '.join(every)}", hide=True)
            last = max((line.split() for line in found.stdout.splitlines() if line.strip()), default=["", ""])
            return last[-1].rpartition(":")[2]
        if not running:
            return ""
        found = self.docker(c, f"inspect --format '{{{{.Config.Image}}}}' {running[0]}", hide=True)
        return found.stdout.strip().rpartition(":")[2]

    def url(self) -> str:
        if self.domain:
            return f"https://{self.domain}/"
        return f"http://{self.settings.get('PROXY_HOST_IP') or '127.0.0.1'}:{self.settings.get('PROXY_PORT') or 8000}/"


def deploy_one_host(c, deployment: Deployment) -> None:
    """Build and start the stack, wait until it is healthy, migrate once, run check --deploy."""
    hint = "`inv deploy` again after fixing it; `docker compose ps` shows the services."
    deployment.compose(c, "build", hint="Read the build output above.")
    deployment.compose(c, "up --detach --wait --remove-orphans", hint=hint)
    for command in ("migrate --noinput", "check --deploy --fail-level WARNING"):
        deployment.compose(c, f"exec -T app python manage.py {command}", hint=hint)
    say(f"The stack {deployment.name} is up on {deployment.where}: {deployment.url()}")
