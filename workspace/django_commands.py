"""Where a Django command runs, one rule for every task that runs one (`inv manage`, `migrate`,
`test`, ...):

- inside the stack (the devcontainer's terminal): right there, against the db service;
- else, whenever a Docker engine answers: in the development stack's app container, `exec` while
  the stack runs, else `run --rm`, which starts db for the command and stops it again after;
- only when no engine answers: on this machine, with the settings of .env, and it says so.

In a container it never runs as root: as the host user's uid, root mapped to 1000.
"""

import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from invoke import Exit

from workspace.compose import (
    ENV_EXAMPLE,
    ENV_FILE,
    ROOT,
    Project,
    compose,
    engine_answers,
    inside_stack,
    read_env,
    running_services,
)
from workspace.shell import TTY, run, say

APP_DIR = ROOT / "services" / "app"
PYTHON = shlex.quote(sys.executable)


def host_settings() -> dict[str, str]:
    """The settings of .env (.env.example while there is none), under this shell's: for a run on
    this machine."""
    return {**read_env(ENV_FILE if ENV_FILE.exists() else ENV_EXAMPLE), **os.environ}


def in_containers() -> bool:
    """Whether a Django command runs in the development stack's app container."""
    return not inside_stack() and engine_answers()


def as_host_user() -> str:
    """`exec`/`run` options: no TTY when there is none, and the app user's uid (the host user's,
    root mapped to 1000), so files a command writes into the bind-mounted repository (startapp,
    migrations) are the host user's. The uid alone: the image then adds its groups."""
    return f"{'' if TTY else '-T '}--user {Project().settings()['APP_UID']}"


def in_app_container(c, command: str, env: Mapping[str, str] | None = None, workdir="", *, build=True, **kwargs):
    """Run COMMAND in the development stack's app container: `exec` while the stack runs, else
    `run --rm`, which starts db for it and stops db again after if it was not running.
    `env` names variables passed from this process; `build=False` refuses to build the image."""
    running = running_services(c)
    options = as_host_user() + "".join(f" -e {name}" for name in env or {}) + (f" -w {workdir}" if workdir else "")
    if "app" in running:
        return compose(c, f"exec {options} app {command}", env=env, **kwargs)
    if not build:
        model = json.loads(compose(c, "config --format json", hide=True, echo=False, pty=False).stdout)
        image = model["services"]["app"]["image"]
        if c.run(f"docker image inspect {image}", hide=True, warn=True).failed:
            raise Exit(f"The development image {image} is not built yet: run `inv build` (or `inv up`), then again.", 1)
    try:
        return compose(c, f"run --rm {options} app {command}", env=env, **kwargs)
    finally:
        if "db" not in running:
            compose(c, "stop db", hide=True)


def django(c, args: str, env: Mapping[str, str] | None = None, **kwargs):
    """Run `manage.py ARGS` by the rule in this module's docstring."""
    if in_containers():
        return in_app_container(c, f"python manage.py {args}", env, **kwargs)
    host_env = {}
    if not inside_stack():
        say("No Docker engine answers: running on this machine with the settings of .env.")
        host_env = host_settings()
    with c.cd(APP_DIR):
        return run(c, f"{PYTHON} manage.py {args}", env={**host_env, **(env or {})}, **kwargs)


def pytest(c, args: str, **kwargs):
    """Run pytest with ARGS by the same rule, in the repository as it is now (bind-mounted)."""
    if in_containers():
        if os.getuid() == 0:
            # Root's checkout is read-only for the app user (uid 1000): no cache to write.
            args = f"-p no:cacheprovider {args}".strip()
        return in_app_container(c, f"python -m pytest {args}", workdir="/workspace", build=False, **kwargs)
    with c.cd(ROOT):
        return run(c, f"{PYTHON} -m pytest {args}", **kwargs)


def writable_by_app_user(folder: Path, uid: int) -> bool:
    """Whether the app user (UID, in the web group of the images or as the owner) can write into
    FOLDER of the bind-mounted checkout: by its owner, or by anyone."""
    info = folder.stat()
    return info.st_uid == uid or bool(info.st_mode & 0o002)


def require_writable_checkout() -> None:
    """Stop with one line when the containers' user cannot write into the checkout (a root-owned
    clone, common on a cloud VM: the containers run as uid 1000 by design)."""
    if not in_containers():
        return
    uid = int(Project().settings()["APP_UID"])
    if not writable_by_app_user(APP_DIR, uid):
        owner = APP_DIR.stat().st_uid
        raise Exit(
            f"services/app belongs to uid {owner}, and the containers write as uid {uid}: give them the checkout "
            f"(sudo chown -R {uid}:{uid} .) or clone it as a regular user, then again.",
            1,
        )
