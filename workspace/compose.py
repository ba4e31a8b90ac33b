"""How the workspace talks to Docker Compose, written once: the compose files of each stack, the
env file, which value wins, and whether an engine answers. tasks.py, the stack tests and the
bench build every `docker compose` command with `Project`.

Which value wins, one rule for every stack (the development stack, a deployment, a test's or the
bench's): a value the caller gives (`overrides`) wins over the env file's, which wins over this
shell's; the host user's ids (APP_UID, APP_GID) come last, as defaults. Compose itself would
prefer the shell to the env file, so the shell's copies of the env file's variables are left out
of the environment compose gets.
"""

import functools
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / ".env"
ENV_EXAMPLE = ROOT / ".env.example"
# The stacks, as compose files from the repository root: production-like, development, deployment.
BASE_FILES = ("compose/compose.yaml",)
DEV_FILES = (*BASE_FILES, "compose/compose.dev.yaml")
DEPLOY_FILES = (*BASE_FILES, "compose/compose.deploy.yaml")


def read_env(path: Path) -> dict[str, str]:
    """An env file's settings: KEY=value lines, `#` comments, quotes around a value dropped."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        setting = line.strip()
        if setting and not setting.startswith("#") and "=" in setting:
            key, _, value = setting.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def host_ids() -> dict[str, str]:
    """The app user's ids in the images: the host user's (or the shell's APP_UID/APP_GID), so
    files written into a bind-mounted folder stay theirs. Root gets 1000: no container runs as root."""
    uid, gid = os.getuid(), os.getgid()
    return {
        "APP_UID": os.environ.get("APP_UID", str(uid or 1000)),
        "APP_GID": os.environ.get("APP_GID", str(gid if uid else 1000)),
    }


def engine_answers() -> bool:
    """Whether the engine this process talks to (DOCKER_HOST, DOCKER_CONTEXT) answers; asked once
    per engine, as `docker info` can take seconds."""
    return _engine_answers(os.environ.get("DOCKER_HOST"), os.environ.get("DOCKER_CONTEXT"))


@functools.cache
def _engine_answers(host: str | None, context: str | None) -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@dataclass(frozen=True)
class Project:
    """One compose project: its files (relative to `directory`), its env file, its name (compose's
    own, from the files, when None) and the values that win over the env file."""

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
        return {**host_ids(), **os.environ, **self.from_file(), **self.overrides}

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment compose runs with: without the shell's copies of the env file's
        variables, which compose then reads from the file itself (by its own parsing rules, exact
        where read_env is simpler). `extra` wins like the overrides (variables for `exec -e NAME`)."""
        from_file = self.from_file()
        inherited = {key: value for key, value in {**host_ids(), **os.environ}.items() if key not in from_file}
        return {**inherited, **self.overrides, **(extra or {})}

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = False, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run `docker compose ARGS` in the repository (subprocess.run's keywords pass through)."""
        command = self.command(*args)
        return subprocess.run(command, cwd=self.directory, env=self.environment(env), check=check, **kwargs)
