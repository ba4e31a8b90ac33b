"""A swarm's continuous backups (docs/backups.md): the same backup service as on one host, one for
the whole swarm, on the database's node (compose.swarm.yaml). The engine `--host` names may be any
manager, so the tasks' work runs in one-off jobs beside the database: the backup service's image,
node, volumes, networks, secrets and settings."""

import json
import re
import shlex
import time
from pathlib import Path

from invoke import Exit

from workspace.backups import (
    ARCHIVER,
    HALF_RESTORED,
    START_FAST,
    describe,
    parse_archiver,
    restore_command,
    restore_target,
    stamp,
)
from workspace.deployment import APP_ROLE, Deployment
from workspace.dumps import LOAD
from workspace.shell import run, say
from workspace.swarm import job_options, run_job, swarm_manage, task_template

DATA = "/var/lib/postgresql/data"
HINT = "Is the swarm's stack deployed? `inv deploy --swarm`; `docker service logs <stack>_backup` shows what it did."
# Until the restored database has replayed its WAL and takes writes (at most 15 min).
WAIT_PROMOTED = (
    "for i in $(seq 900); do"
    ' [ "$(psql -X -A -t -q -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && exit 0; sleep 1; done;'
    ' echo "The restored database did not take writes within 900 s: docker service logs <stack>_db says why." >&2;'
    " exit 1"
)
DRILL_PORT = 5433


def backup_job(c, deployment: Deployment, script: str, *, writable: str = "", what: str = "") -> str:
    """SCRIPT run once in a job beside the database (WRITABLE: a mount the job may write, which the
    backup service reads only). What it printed; stops with its last line when it failed (naming
    WHAT it did, else the script's first word)."""
    spec = task_template(c, deployment, "backup")
    container = spec["ContainerSpec"]
    for mount in container.get("Mounts", []):
        if mount["Target"] == writable:
            mount["ReadOnly"] = False
    job = f"{deployment.name}_backup-job"

    def create(settings_file: str) -> str:
        Path(settings_file).write_text("".join(f"{line}\n" for line in container.get("Env", [])))
        options = [f"--name {job} --mode replicated-job --restart-condition none"]
        options.append(f"--label com.docker.stack.namespace={deployment.name}")
        options += job_options(spec, settings_file)
        return f"service create --detach=false {' '.join(options)} {container['Image']} sh -c {shlex.quote(script)}"

    output, completed = run_job(c, deployment, job, create)
    if not completed:
        last = output.strip().splitlines()[-1] if output.strip() else "the job did not complete"
        raise Exit(f"{what or script.split(maxsplit=1)[0]} failed on the swarm: {last}\nHint: {HINT}", 1)
    return output


def state(c, deployment: Deployment) -> tuple[dict, dict | None]:
    """pgBackRest's view of the repository, and the archiver's counts (None: no database answers)."""
    # pgBackRest's JSON ends without a newline.
    script = f"pgbackrest info --output=json && echo && psql -X -A -t -q -c {shlex.quote(ARCHIVER)}"
    output = backup_job(c, deployment, script)
    lines = output.strip().splitlines()
    info = next((line for line in lines if line.startswith("[")), "")
    if not info:
        raise Exit(f"The backups of {deployment.name} cannot be read: {lines[-1] if lines else 'no answer'}", 1)
    return json.loads(info)[0], parse_archiver(lines[-1])


def listing(c, deployment: Deployment) -> None:
    for line in describe(*state(c, deployment), time.time()):
        print(line)


def base_backup(c, deployment: Deployment) -> None:
    print(backup_job(c, deployment, f"{START_FAST} backup-run full", what="backup-run"), end="")


def replicas(c, deployment: Deployment) -> dict[str, int]:
    """The app's and the worker's replicas to scale back to after a restore: the services', or
    APP_REPLICAS and WORKER_REPLICAS when a restore that failed half-way left them at 0."""
    template = "{{.Spec.Mode.Replicated.Replicas}}"
    counts = {}
    for service, setting, default in (("app", "APP_REPLICAS", 2), ("worker", "WORKER_REPLICAS", 1)):
        found = deployment.docker(c, f"service inspect --format '{template}' {deployment.name}_{service}", hide=True)
        counts[service] = int(found.stdout.strip() or 0) or int(deployment.settings.get(setting) or default)
    return counts


def scale(c, deployment: Deployment, **counts: int) -> None:
    wanted = " ".join(f"{deployment.name}_{service}={count}" for service, count in counts.items())
    run(c, f"docker service scale --detach=false {wanted}", HINT, env=deployment.engine, hide="out")


def restore(c, deployment: Deployment, to: str = "") -> None:
    """The database back to TO ("YYYY-MM-DD HH:MM:SS", UTC) or to the last second archived, the app
    and the worker scaled to 0 meanwhile (the proxies answer 502) and back to their replicas after.
    The uploads are left as they are: a swarm's belong in a bucket (docs/swarm.md)."""
    target = restore_target(deployment, *state(c, deployment), to)
    started = time.monotonic()
    serving = replicas(c, deployment)
    # Nothing writes while the database goes back.
    scale(c, deployment, app=0, worker=0, backup=0)
    try:
        print(backup_job(c, deployment, "archive-now"), end="")
    except Exit:
        scale(c, deployment, **serving, backup=1)
        raise
    scale(c, deployment, db=0)
    try:
        backup_job(c, deployment, restore_command(target), writable=DATA)
    except Exit as failed:
        raise Exit(f"{failed.message}\nHint: {HALF_RESTORED}", 1) from None
    scale(c, deployment, db=1)
    backup_job(c, deployment, WAIT_PROMOTED)
    scale(c, deployment, **serving, backup=1)
    moment = stamp(target) if target is not None else "the last second archived"
    say(f"Restored {deployment.name} on the swarm to {moment} in {time.monotonic() - started:.0f} s")


# A release's snapshots (pg_dump, custom format), in the backups volume on the database's node,
# readable by its user only: beside the database, where the engine `--host` names cannot reach.
SNAPSHOTS = "/backups/snapshots"


def snapshot(c, deployment: Deployment, name: str) -> str:
    """The database alone, as NAME in SNAPSHOTS (a release's, before its migrations); NAME."""
    path = f"{SNAPSHOTS}/{name}.dump"
    dump = f"pg_dump --format=custom --file {path}.partial && mv {path}.partial {path}"
    backup_job(c, deployment, f"umask 077 && mkdir -p {SNAPSHOTS} && {dump}", what="pg_dump")
    say(f"Snapshot of the database: {name} (in the backups volume, on the database's node)")
    return name


def prune_snapshots(c, deployment: Deployment, names: list[str]) -> None:
    """The snapshots NAMES (of the releases past the kept ones) gone from the database's node."""
    if names := [name for name in names if re.fullmatch(r"[\w.-]+", name)]:
        paths = " ".join(f"{SNAPSHOTS}/{name}.dump" for name in names)
        backup_job(c, deployment, f"rm -f {paths}", what="Pruning the snapshots")


def restore_snapshot(c, deployment: Deployment, name: str) -> None:
    """The database as snapshot NAME holds it, the app and the worker scaled to 0 meanwhile (the
    proxies answer 502) and back to their replicas after. All of it in one transaction: a failed
    load changes nothing."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise Exit(f"--dump {name}: on a swarm, the name of a release's snapshot (before-RELEASE).", 1)
    path = f"{SNAPSHOTS}/{name}.dump"
    missing = f"No snapshot {name} on the database's node: `inv releases --swarm` names each release's."
    backup_job(c, deployment, f"test -f {path} || {{ echo {shlex.quote(missing)}; exit 1; }}", what="The restore")
    started = time.monotonic()
    serving = replicas(c, deployment)
    # Nothing writes while the database goes back.
    scale(c, deployment, app=0, worker=0)
    try:
        # LOAD names the database as the database's container does.
        load = f'export POSTGRES_USER="$PGUSER" POSTGRES_DB="$PGDATABASE"; ({LOAD}) < {path}'
        backup_job(c, deployment, load, what="The restore")
    finally:
        scale(c, deployment, **serving)
    say(f"Restored {deployment.name} on the swarm from snapshot {name} in {time.monotonic() - started:.0f} s")


def verify(c, deployment: Deployment) -> None:
    """The restore drill in a job beside the database (services/db/bin/backup-drill), the copy
    left answering for a while; `manage.py check` and `migrate --check` of the serving release
    against it, in a swarm job; then the copy is gone."""
    drill = f"{deployment.name}_drill"
    spec = task_template(c, deployment, "backup")
    container = spec["ContainerSpec"]
    settings = Path(deployment.rendered.name) / "drill.env"
    settings.write_text("".join(f"{line}\n" for line in container.get("Env", [])))
    # A service of its own, found by name on the database's network (dnsrr: no virtual IP).
    options = [f"--name {drill} --restart-condition none --endpoint-mode dnsrr", *job_options(spec, str(settings))]
    options.append(f"--label com.docker.stack.namespace={deployment.name}")
    script = shlex.quote("backup-drill start && echo 'drill: ready' && exec sleep 900")
    deployment.docker(c, f"service rm {drill}", hide=True, warn=True)
    deployment.docker(c, f"service create --detach {' '.join(options)} {container['Image']} sh -c {script}", hide="out")
    try:
        wait_for_drill(c, deployment, drill)
        database = deployment.settings.get("POSTGRES_DB") or "app"
        url = {"DATABASE_URL": f"postgres://{APP_ROLE}@{drill}:{DRILL_PORT}/{database}"}
        swarm_manage(c, deployment, "check --database default", "migrate --check", env=url)
    finally:
        deployment.docker(c, f"service rm {drill}", hide=True, warn=True)
    say("The latest backup restores on the swarm, and Django's checks pass against it.")


def wait_for_drill(c, deployment: Deployment, drill: str, timeout: float = 900) -> None:
    """Until the drill's copy answers; stops with the drill's last line when it failed."""
    deadline = time.monotonic() + timeout
    while True:
        logs = deployment.docker(c, f"service logs --raw {drill}", hide=True, warn=True, pty=False)
        output = (logs.stdout + logs.stderr).strip()
        if "drill: ready" in output:
            print(output.replace("drill: ready", "").strip())
            return
        state = deployment.docker(c, f"service ps --format '{{{{.CurrentState}}}}' {drill}", hide=True, warn=True)
        if state.stdout.strip().startswith(("Complete", "Failed", "Rejected")) or time.monotonic() > deadline:
            last = output.splitlines()[-1] if output else state.stdout.strip() or "no answer"
            raise Exit(f"The restore drill failed on the swarm: {last}", 1)
        time.sleep(2)
