"""How the workspace talks to Docker Compose, written once: the compose files of each stack, the
env files and how they read, which value wins, whether an engine answers, and `compose()`, which
every task runs a compose command through. The tasks, the stack tests and the bench build every
`docker compose` command with `Project`.

Which value wins, as in compose itself and everywhere else: a value the caller gives
(`overrides`), then the shell's, then the env file's. The host user's ids (APP_UID, APP_GID)
come last, as defaults. Env files read as compose reads them (python-dotenv: `export`, quotes,
inline `# comments`).
"""

import functools
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from invoke import Exit

from workspace.shell import run, say

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / ".env"
ENV_EXAMPLE = ROOT / ".env.example"

# The stacks, as compose files from the repository root: production-like, development, deployment.
BASE_FILES = ("compose/compose.yaml",)
DEV_FILES = (*BASE_FILES, "compose/compose.dev.yaml")
# A deployment: locked down, with continuous backups (docs/backups.md), in a bucket with
# BACKUP_S3_FILES (BACKUP_S3_BUCKET).
DEPLOY_FILES = (*BASE_FILES, "compose/compose.deploy.yaml", "compose/compose.backup.yaml")
BACKUP_S3_FILES = ("compose/compose.backup-s3.yaml",)
# Layered on a deployment on a swarm: its secrets, and the buckets' keys as secrets too (the
# uploads', MEDIA_STORAGE=s3; the backups', BACKUP_S3_BUCKET), and the mail's (EMAIL_URL, ANYMAIL).
SWARM_FILES = ("compose/compose.swarm.yaml",)
SWARM_S3_FILES = ("compose/compose.swarm-s3.yaml",)
SWARM_BACKUP_S3_FILES = ("compose/compose.swarm-backup-s3.yaml",)
SWARM_MAIL_FILES = {
    "EMAIL_URL": "compose/compose.swarm-email-url.yaml",
    "ANYMAIL": "compose/compose.swarm-anymail.yaml",
}
# With DOMAIN set: the TLS front (Caddy), HTTPS by ACME.
HTTPS_FILES = ("compose/compose.https.yaml",)
# An S3-compatible store (SeaweedFS) beside a stack: for the bucket's tests and the bench.
SEAWEEDFS_FILES = ("compose/compose.seaweedfs.yaml",)
BENCH_FILES = (*BASE_FILES, "compose/compose.bench.yaml", *SEAWEEDFS_FILES)


def read_env(path: Path) -> dict[str, str]:
    """An env file's settings, as compose reads them; a name without `=` is left out."""
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def host_ids() -> dict[str, str]:
    """The app user's ids in the images: the host user's, so files written into a bind-mounted
    folder stay theirs. Root gets 1000: no container runs as root."""
    uid, gid = os.getuid(), os.getgid()
    return {"APP_UID": str(uid or 1000), "APP_GID": str(gid if uid else 1000)}


def engine_answers(env: Mapping[str, str] | None = None) -> bool:
    """Whether the engine that `env` (else this process) names with DOCKER_HOST or DOCKER_CONTEXT
    answers; asked once per engine, as `docker info` can take seconds."""
    env = os.environ if env is None else env
    return _engine_answers(env.get("DOCKER_HOST"), env.get("DOCKER_CONTEXT"))


@functools.cache
def _engine_answers(host: str | None, context: str | None) -> bool:
    if not shutil.which("docker"):
        return False
    env = {**os.environ, **({"DOCKER_HOST": host} if host else {}), **({"DOCKER_CONTEXT": context} if context else {})}
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False, env=env).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclass(frozen=True)
class Project:
    """One compose project: its files (relative to `directory`), its env file, its name (compose's
    own, from the files, when None) and the values that win over the shell's and the env file's."""

    files: tuple[str, ...] = DEV_FILES
    env_file: Path = ENV_FILE
    name: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    directory: Path = ROOT

    def command(self, *args: str) -> list[str]:
        """`docker compose` with this project's name, files and env file, then ARGS."""
        project = ("-p", self.name) if self.name else ()
        files = [word for name in self.files for word in ("-f", name)]
        env_file = Path(self.env_file)
        if env_file.is_absolute() and env_file.is_relative_to(self.directory):
            env_file = env_file.relative_to(self.directory)
        return ["docker", "compose", *project, *files, "--env-file", str(env_file), *args]

    def shell_command(self, args: str = "") -> str:
        """The same as one shell line, ARGS as written: for commands a person reads and retypes."""
        return " ".join(filter(None, (shlex.join(self.command()), args)))

    def from_file(self) -> dict[str, str]:
        """The env file's settings ({} while it does not exist)."""
        path = Path(self.directory, self.env_file)
        return read_env(path) if path.exists() else {}

    def settings(self) -> dict[str, str]:
        """Every value compose interpolates the files with, by the rule in this module's docstring:
        for a task that must say what compose will do (the published port, the database user)."""
        return {**host_ids(), **self.from_file(), **os.environ, **self.overrides}

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment compose runs with: this shell's, the host user's ids where neither the
        shell nor the env file sets them, the overrides and `extra` (variables for `exec -e NAME`).
        Compose reads the env file itself."""
        from_file = self.from_file()
        ids = {key: value for key, value in host_ids().items() if key not in from_file}
        return {**ids, **os.environ, **self.overrides, **(extra or {})}

    def call(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = False, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run `docker compose ARGS` in the repository (subprocess.run's keywords pass through)."""
        command = self.command(*args)
        return subprocess.run(command, cwd=self.directory, env=self.environment(env), check=check, **kwargs)


def inside_stack() -> bool:
    """True in the app container of the development stack (compose.dev.yaml sets it)."""
    return os.environ.get("WORKSPACE_IN_STACK") == "1"


def require_engine(env: Mapping[str, str] | None = None, where: str = "") -> None:
    """Stop with a hint when no Docker engine answers (or when this runs inside the stack)."""
    if inside_stack():
        raise Exit("This task drives Docker: run it in a terminal on the host, not inside the app container.", 1)
    if not engine_answers(env):
        if where:
            raise Exit(f"No Docker engine answers at {where}: check the address or `docker context ls`.", 1)
        raise Exit("No Docker engine answers. Start Docker (Docker Desktop, or `sudo systemctl start docker`).", 1)


def ensure_env_file() -> None:
    """.env from .env.example on a fresh clone, with the host user's ids (the same script Reopen in
    Container runs first), so plain `docker compose` in the root reads the same values."""
    if not ENV_FILE.exists():
        subprocess.run(["sh", str(ROOT / ".devcontainer" / "initialize.sh")], check=True)


def compose(c, args: str, project: Project | None = None, env: Mapping[str, str] | None = None, **kwargs):
    """Run `docker compose ARGS` on the development stack (or the given project), echoed; `env`
    adds variables (for `exec -e NAME`, say)."""
    project = project or Project()
    engine = project.overrides
    require_engine(engine, engine.get("DOCKER_HOST") or engine.get("DOCKER_CONTEXT", ""))
    if project.env_file == ENV_FILE:
        ensure_env_file()
    with c.cd(project.directory):
        return run(c, project.shell_command(args), env=project.environment(env), replace_env=True, **kwargs)


def running_services(c, project: Project | None = None) -> set[str]:
    """The stack's services that are running now."""
    project = project or Project()
    if not Path(project.directory, project.env_file).exists():
        return set()
    listed = compose(c, "ps --status running --services", project, hide=True, echo=False, pty=False)
    return set(listed.stdout.split())


def listed_containers(listing: str) -> list[dict]:
    """`docker compose ps --format json`'s containers: one JSON object a line (older Compose
    versions print one array)."""
    listing = listing.strip()
    if listing.startswith("["):
        return json.loads(listing)
    return [json.loads(line) for line in listing.splitlines() if line.strip()]


def explain_failure(c, project: Project | None = None) -> None:
    """After a failed start, say which services failed and why (compose itself only says
    "unhealthy"): each one's state and its last log lines, where the app names the cause."""
    listing = compose(c, "ps --all --format json", project, hide=True, pty=False).stdout
    for container in listed_containers(listing):
        service, state = container["Service"], container["State"]
        if state == "running" and container.get("Health") in ("", "healthy"):
            continue
        if state == "created":
            say(f"{service} was not started: it waits for a service that failed")
            continue
        say(f"{service} failed: {container['Status']}")
        compose(c, f"logs --tail 15 --no-log-prefix {service}", project, pty=False)
