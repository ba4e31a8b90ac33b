"""A deployment on a Docker Swarm: its compose files, the compose model translated to a stack
file, the secrets as Docker secrets, and one-off jobs (manage.py's, the backups'). Its releases
are in workspace/swarm_releases.py, its backups in workspace/swarm_backups.py."""

import hashlib
import io
import json
import shlex
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from invoke import Exit

from workspace.compose import (
    BACKUP_S3_FILES,
    DEPLOY_FILES,
    ROOT,
    SWARM_BACKUP_S3_FILES,
    SWARM_FILES,
    SWARM_MAIL_FILES,
    SWARM_S3_FILES,
)
from workspace.deployment import Deployment
from workspace.settings import SECRETS, interpolated
from workspace.shell import run


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


# The secret settings a swarm's files take as Docker secrets (NAME_SECRET_NAME names each).
SECRET_NAME = "_SECRET_NAME"  # noqa: S105 (a suffix of names)
SWARM_READS = {
    name.removesuffix(SECRET_NAME)
    for path in (*SWARM_FILES, *SWARM_S3_FILES, *SWARM_BACKUP_S3_FILES, *SWARM_MAIL_FILES.values())
    for name in interpolated((ROOT / path).read_text())
    if name.endswith(SECRET_NAME)
}


def secret_names(deployment: Deployment) -> dict[str, str]:
    """For each secret setting the deployment needs (workspace/settings.py), the variable the swarm
    files name it by (SECRET_KEY_SECRET_NAME) and the Docker secret's name. A swarm secret cannot
    change: a new value gets a new name (a digest of all the values, which reveals nothing of them
    while the secret key is long and random), and the services roll over to it."""
    needed = [
        setting.name for setting in SECRETS if setting.name in deployment.settings and setting.name in SWARM_READS
    ]
    digest = hashlib.sha256("\0".join(deployment.settings[name] for name in needed).encode()).hexdigest()[:12]
    return {f"{name}{SECRET_NAME}": f"{deployment.name}_{name.lower()}_{digest}" for name in needed}


def create_secrets(c, deployment: Deployment) -> dict[str, str]:
    """The deployment's Docker secrets, created once per value; `docker stack rm` removes them
    with the stack (its namespace label). Returns secret_names()."""
    names = secret_names(deployment)
    for variable, name in names.items():
        if deployment.docker(c, f"secret inspect {name}", hide=True, warn=True).failed:
            label = f"com.docker.stack.namespace={deployment.name}"
            value = io.StringIO(deployment.settings[variable.removesuffix(SECRET_NAME)])
            deployment.docker(c, f"secret create --label {label} {name} -", in_stream=value, pty=False)
    return names


def registry_of(image_prefix: str) -> str:
    """The registry an image prefix names (`registry.example.com/site`, `10.0.0.5:5000/site`), or
    "" when the images stay on the engine that builds them. Docker's own rule: the first part of
    the name is a registry when it holds a dot or a port, or is localhost."""
    first, slash, _ = image_prefix.partition("/")
    return first if slash and ("." in first or ":" in first or first == "localhost") else ""


def job_options(spec: dict, settings_file: str) -> list[str]:
    """`docker service create` options that give a one-off job a service's networks, secrets,
    configs, extra hosts, volumes, user, placement and settings (SPEC: its task template;
    SETTINGS_FILE: its env)."""
    container = spec["ContainerSpec"]
    options = [f"--network {network['Target']}" for network in spec.get("Networks", [])]
    options += [f"--secret source={s['SecretName']},target={s['File']['Name']}" for s in container.get("Secrets", [])]
    options += [f"--config source={c['ConfigName']},target={c['File']['Name']}" for c in container.get("Configs", [])]
    # The swarm keeps each as "ADDRESS NAME", as in /etc/hosts.
    hosts = (line.split(maxsplit=1) for line in container.get("Hosts", []))
    options += [f"--host {name}:{address}" for address, name in hosts]
    for mount in container.get("Mounts", []):
        volume = f"type={mount['Type']},target={mount['Target']}"
        volume += f",source={mount['Source']}" if mount.get("Source") else ""
        volume += ",readonly" if mount.get("ReadOnly") else ""
        options.append(f"--mount {volume}")
    if container.get("User"):
        options.append(f"--user {container['User']}")
    options += [f"--constraint {shlex.quote(c)}" for c in spec.get("Placement", {}).get("Constraints", [])]
    options.append(f"--env-file {settings_file}")
    return options


def manage_job(spec: dict, job: str, stack: str, settings_file: str, *commands: str, image: str = "") -> str:
    """`docker service create` of a one-off job running manage.py COMMANDS with the app service's
    image (or IMAGE, a release's), networks, secrets and settings (SPEC: its task template,
    SETTINGS_FILE: its env)."""
    container = spec["ContainerSpec"]
    # The stack's label: `docker stack rm` (and the next deploy's --prune) removes a leftover job.
    options = [f"--name {job} --mode replicated-job --restart-condition none"]
    options.append(f"--label com.docker.stack.namespace={stack}")
    options += job_options({**spec, "Placement": {}}, settings_file)
    script = shlex.quote(" && ".join(f"python manage.py {command}" for command in commands))
    return f"service create --detach=false {' '.join(options)} {image or container['Image']} sh -c {script}"


def task_template(c, deployment: Deployment, service: str) -> dict:
    template = "{{json .Spec.TaskTemplate}}"
    inspected = deployment.docker(c, f"service inspect --format '{template}' {deployment.name}_{service}", hide=True)
    return json.loads(inspected.stdout)


def run_job(c, deployment: Deployment, job: str, create: Callable[[str], str]) -> tuple[str, bool]:
    """A one-off swarm job, `docker service create` as CREATE(settings file) writes it, run to
    its end and removed: what it printed, and whether it completed."""
    deployment.docker(c, f"service rm {job}", hide=True, warn=True)
    try:
        with tempfile.NamedTemporaryFile("w", prefix=f"{job}-", suffix=".env") as settings:
            # Echoed; how it ended is the job's state, below.
            run(c, f"docker {create(settings.name)}", env=deployment.engine, hide="out", check=False)
        logs = deployment.docker(c, f"service logs --raw {job}", hide=True, pty=False, warn=True)
        template = "{{.CurrentState}}: {{.Error}}"
        state = deployment.docker(c, f"service ps --no-trunc --format '{template}' {job}", hide=True, warn=True)
    finally:
        deployment.docker(c, f"service rm {job}", hide=True, warn=True)
    return logs.stdout + logs.stderr, state.stdout.strip().startswith("Complete")


def swarm_manage(
    c, deployment: Deployment, *commands: str, image: str = "", env: Mapping[str, str] | None = None, quiet=False
) -> str:
    """Run manage.py commands once, in a swarm job (with the app service's image, or IMAGE; ENV
    added to its settings), on whichever node has room: the engine `--host` names needs no app
    replica. Returns what the job printed (shown too, unless QUIET); stops with its last line
    when it failed."""
    spec = task_template(c, deployment, "app")
    lines = [*spec["ContainerSpec"]["Env"], *(f"{name}={value}" for name, value in (env or {}).items())]
    job = f"{deployment.name}_manage"

    def create(settings_file: str) -> str:
        Path(settings_file).write_text("".join(f"{line}\n" for line in lines))
        return manage_job(spec, job, deployment.name, settings_file, *commands, image=image)

    output, completed = run_job(c, deployment, job, create)
    if not quiet or not completed:
        print(output, end="", flush=True)
    if not completed:
        last = output.strip().splitlines()[-1] if output.strip() else "the job did not complete"
        raise Exit(f"manage.py {' && '.join(commands)} failed on the swarm: {last}", 1)
    return output


def swarm_files(deployment: Deployment) -> tuple[str, ...]:
    """The compose files of the swarm's stack: the deployment's, with the secrets' files."""
    media = SWARM_S3_FILES if deployment.media_storage == "s3" else ()
    bucket = deployment.settings.get("BACKUP_S3_BUCKET")
    backups = (*BACKUP_S3_FILES, *SWARM_BACKUP_S3_FILES) if bucket else ()
    mail = tuple(path for setting, path in SWARM_MAIL_FILES.items() if deployment.settings.get(setting))
    return (*DEPLOY_FILES, *SWARM_FILES, *media, *backups, *mail, *deployment.https, *deployment.extra_files)
