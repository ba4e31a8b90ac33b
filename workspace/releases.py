"""Releases: every deploy a named, kept thing to go back to (docs/releases.md).

A release is named after the commit it is built from (with a digest of the uncommitted changes,
if any), its images are tagged with that name and the last RELEASES_KEPT are kept on the target;
its record (name, time, deployer, images, migration state) is kept in the site's database
(manage.py release_record).

A release on one host, step by step:
1. the images, built and tagged with the release's name;
2. the release phase, with the new image, while the old release serves: a snapshot of the
   database when migrations are pending, then the migrations (manage.py release_migrate: refused
   when the serving code cannot survive them, and bounded by a lock_timeout);
3. the switch: the proxy pinned to the old containers, the new ones started beside them, and once
   every one is healthy, the proxy pinned to them; the old ones finish their requests and go;
   then the worker: the old one finishes its running tasks, the new one takes the queue on;
4. check --deploy, the record, and the images of older releases pruned.
"""

import getpass
import hashlib
import json
import shlex
import shutil
import subprocess
import time

from invoke import Exit

from workspace.compose import ROOT
from workspace.deployment import LOCK_SUPERUSER, Deployment
from workspace.dumps import snapshot
from workspace.shell import confirm, say

# Seconds the old containers keep their requests in flight after the proxy moved on.
DRAIN = 2
RELEASE_PARTS = ("app", "proxy")
# Apps whose migrations `inv releases` leaves out: Django's own and the libraries'.
FRAMEWORK_APPS = {"admin", "auth", "contenttypes", "sessions", "axes"}


def git(*args: str) -> str | None:
    """git's answer in the repository, or None outside a git checkout (or before a commit)."""
    try:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def release_name() -> str:
    """The commit's short name, with `-dirty-` and a digest of the changes when the tree has any;
    the time, where there is no commit to name it after."""
    head = git("rev-parse", "--short=12", "HEAD")
    if head is None:
        return time.strftime("%Y%m%d-%H%M%S")
    changes = git("status", "--porcelain", "--untracked-files=all") or ""
    if not changes:
        return head
    digest = hashlib.sha256(((git("diff", "HEAD") or "") + changes).encode()).hexdigest()[:8]
    return f"{head}-dirty-{digest}"


def utc_stamp() -> str:
    """Now, in a snapshot's name: each snapshot a folder of its own, a retry's and another site's too."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def manage(c, deployment: Deployment, release: str, command: str, **kwargs):
    """manage.py COMMAND in a one-off app container of RELEASE's image (run --rm)."""
    env = {"IMAGE_TAG": release, **kwargs.pop("env", {})}
    passed = "".join(f" -e {name}" for name in env if name != "IMAGE_TAG")
    return deployment.compose(c, f"run --rm --no-deps -T{passed} app python manage.py {command}", env=env, **kwargs)


def app_containers(c, deployment: Deployment, *, running: bool = True) -> list[str]:
    status = "--status running " if running else "--all "
    listed = deployment.compose(c, f"ps -q {status}app", hide=True, echo=False, pty=False)
    return listed.stdout.split()


def inspect(c, deployment: Deployment, containers: list[str]) -> list[dict]:
    return json.loads(deployment.docker(c, f"inspect {' '.join(containers)}", hide=True).stdout)


def addresses(c, deployment: Deployment, containers: list[str]) -> list[str]:
    """uWSGI's address in each container, on the network the proxy shares with it."""
    network = f"{deployment.name}_default"
    return [
        f"{info['NetworkSettings']['Networks'][network]['IPAddress']}:9000"
        for info in inspect(c, deployment, containers)
    ]


def pin(c, deployment: Deployment, to: list[str]) -> None:
    """Send the proxy's requests to these addresses only, or (none) to the app's name again."""
    deployment.compose(c, f"exec -T proxy release-pin {' '.join(to)}".rstrip(), hide="out", pty=False)


def health_failure(info: dict) -> str:
    """Why a container will not get healthy, or "" while it may."""
    state = info["State"]
    if state["Status"] in ("exited", "dead") or state.get("Restarting") or info.get("RestartCount"):
        return f"{info['Name'].lstrip('/')} stopped (exit {state.get('ExitCode')})"
    if state.get("Health", {}).get("Status") == "unhealthy":
        return f"{info['Name'].lstrip('/')} is unhealthy"
    return ""


def last_health_output(info: dict) -> str:
    log = info["State"].get("Health", {}).get("Log") or [{}]
    lines = (log[-1].get("Output") or "no health check answered").strip().splitlines()
    return lines[-1] if lines else "no output"


def wait_until_healthy(c, deployment: Deployment, containers: list[str], timeout: float) -> str:
    """ "" once every container is healthy; else why not, with its health check's last output."""
    say(f"Waiting for {len(containers)} new app container(s) to be healthy (at most {timeout:.0f}s)")
    deadline = time.monotonic() + timeout
    while True:
        infos = inspect(c, deployment, containers)
        if all(info["State"].get("Health", {}).get("Status") == "healthy" for info in infos):
            return ""
        for info in infos:
            if failure := health_failure(info):
                return f"{failure}: {last_health_output(info)}"
        if time.monotonic() > deadline:
            waiting = next(info for info in infos if info["State"].get("Health", {}).get("Status") != "healthy")
            return f"{waiting['Name'].lstrip('/')} not healthy after {timeout:.0f}s: {last_health_output(waiting)}"
        time.sleep(1)


def switch(c, deployment: Deployment, release: str) -> None:
    """Serve RELEASE: its app containers start beside the old ones and take requests only once
    every one is healthy; the old ones finish theirs and go. The first release simply starts."""
    env = {"IMAGE_TAG": release}
    old = app_containers(c, deployment)
    if not old:
        hint = "`docker compose ps` and `docker compose logs` (with the deployment's -p and -f) show why."
        deployment.compose(c, "up --detach --wait --remove-orphans", env=env, hint=hint)
        return
    # Containers a failed release left stopped go first.
    if stopped := sorted(set(app_containers(c, deployment, running=False)) - set(old)):
        deployment.docker(c, f"rm --force {' '.join(stopped)}", hide=True)
    pin(c, deployment, addresses(c, deployment, old))
    switched = False
    try:
        replicas = int(deployment.settings.get("APP_REPLICAS") or 2)
        deployment.compose(c, f"up --detach --no-deps --no-recreate --scale app={len(old) + replicas} app", env=env)
        new = sorted(set(app_containers(c, deployment, running=False)) - set(old))
        timeout = float(deployment.settings.get("RELEASE_HEALTH_TIMEOUT") or 180)
        if failure := wait_until_healthy(c, deployment, new, timeout):
            names = " ".join(info["Name"].lstrip("/") for info in inspect(c, deployment, new))
            raise Exit(
                f"The release {release} did not get healthy ({failure}); the previous one still serves. "
                f"Its containers' logs: docker logs {names}",
                1,
            )
        pin(c, deployment, addresses(c, deployment, new))
        switched = True
        time.sleep(DRAIN)
        deployment.docker(c, f"stop --time 30 {' '.join(old)}", hide="out")
        deployment.docker(c, f"rm {' '.join(old)}", hide="out")
    finally:
        # However it ends (a failure, Ctrl-C): the proxy on the app's name again, and before it
        # the new containers stopped unless they took over, so that the name holds no unready one.
        if not switched and (started := sorted(set(app_containers(c, deployment, running=False)) - set(old))):
            deployment.docker(c, f"stop {' '.join(started)}", hide=True, warn=True)
        pin(c, deployment, [])
    # The proxy restarts only when its image changed: a short gap then.
    changed = [part for part in RELEASE_PARTS[1:] if outdated(c, deployment, part, release)]
    # The worker moves to the release too: the old one finishes its running tasks first, and the
    # tasks enqueued meanwhile wait in the database.
    deployment.compose(c, f"up --detach --wait --no-deps {' '.join([*changed, 'worker'])}", env=env)


def outdated(c, deployment: Deployment, service: str, release: str) -> bool:
    """Whether SERVICE's running container runs another image than RELEASE's."""
    running = deployment.compose(c, f"ps -q {service}", hide=True, echo=False, pty=False).stdout.split()
    if not running:
        return False
    current = inspect(c, deployment, running)[0]["Image"]
    wanted = deployment.docker(
        c, f"image inspect --format '{{{{.Id}}}}' {image(deployment, service, release)}", hide=True
    )
    return current != wanted.stdout.strip()


def image(deployment: Deployment, service: str, release: str) -> str:
    return f"{deployment.settings.get('IMAGE_PREFIX') or 'django-compose-workspace'}-{service}:{release}"


def release_phase(c, deployment: Deployment, release: str, *, allow_unsafe: bool) -> str:
    """The migrations of RELEASE, with its image, before any of its containers takes a request;
    a snapshot of the database first when some are pending. Returns the snapshot's folder, or ""."""
    pending = manage(c, deployment, release, "migrate --check", hide=True, check=False, pty=False)
    taken = ""
    if pending.failed and app_containers(c, deployment):
        taken = str(snapshot(deployment, f"before-{release}-{utc_stamp()}"))
    unsafe = " --allow-unsafe-migrations" if allow_unsafe else ""
    timeout = deployment.settings.get("MIGRATION_LOCK_TIMEOUT") or "5"
    hint = "Nothing switched: the previous release still serves. docs/releases.md says how to ship such a change."
    manage(c, deployment, release, f"release_migrate{unsafe}", env={"MIGRATION_LOCK_TIMEOUT": timeout}, hint=hint)
    return taken


def record(c, deployment: Deployment, release: str, snapshot_folder: str) -> None:
    output = manage(c, deployment, release, "release_state", hide=True, pty=False).stdout
    state = next(line for line in reversed(output.splitlines()) if line.startswith("{"))
    images = {}
    for service in RELEASE_PARTS:
        found = deployment.docker(
            c, f"image inspect --format '{{{{.Id}}}}' {image(deployment, service, release)}", hide=True
        )
        images[service] = found.stdout.strip()
    entry = {
        "name": release,
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "user": getpass.getuser(),
        "images": images,
        "migrations": json.loads(state),
        "snapshot": snapshot_folder,
    }
    manage(c, deployment, release, f"release_record add {shlex.quote(json.dumps(entry))}", hide="out", pty=False)


def records(c, deployment: Deployment, release: str) -> list[dict]:
    """The site's releases, newest first (read with RELEASE's image)."""
    listed = manage(c, deployment, release, "release_record list", hide=True, echo=False, pty=False)
    return [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]


def prune(c, deployment: Deployment, known: list[dict], keep: int, parts: tuple[str, ...] = RELEASE_PARTS) -> None:
    """The images (of PARTS) of the releases past the newest KEEP, and only those."""
    for entry in known[keep:]:
        tags = " ".join(image(deployment, service, entry["name"]) for service in parts)
        deployment.docker(c, f"image rm {tags}", hide=True, warn=True)


def prune_one_host(c, deployment: Deployment, known: list[dict], keep: int) -> None:
    """On one host, the images of every release but the newest KEEP, by tag: those of the releases
    past them and of releases that never served (a failed deploy records none); and the snapshots
    of the releases past them."""
    kept = {entry["name"] for entry in known[:keep]} | {"latest"}
    for service in RELEASE_PARTS:
        repository = image(deployment, service, "").removesuffix(":")
        listed = deployment.docker(c, f"image ls --format '{{{{.Tag}}}}' {repository}", hide=True, warn=True)
        if gone := sorted({tag for tag in listed.stdout.split() if tag not in kept and tag != "<none>"}):
            deployment.docker(c, f"image rm {' '.join(f'{repository}:{tag}' for tag in gone)}", hide=True, warn=True)
    for entry in known[keep:]:
        if entry.get("snapshot") and (folder := ROOT / entry["snapshot"]).is_dir():
            say(f"Pruned the snapshot of {entry['name']}: {entry['snapshot']}")
            shutil.rmtree(folder)


def deploy(c, deployment: Deployment, *, allow_unsafe: bool) -> None:
    """A new release on one host (this module's docstring)."""
    release = release_name()
    env = {"IMAGE_TAG": release}
    say(f"Release {release}")
    deployment.compose(c, "build", env=env, hint="Read the build output above.")
    # The database (recreated only when its image or settings changed) and its backups first.
    deployment.compose(
        c, "up --detach --wait db backup", env=env, hint="Is the engine's disk full? `docker compose logs db backup`."
    )
    taken = release_phase(c, deployment, release, allow_unsafe=allow_unsafe)
    switch(c, deployment, release)
    # After the switch: the release before may still have logged in as the superuser.
    deployment.compose(c, f"exec -T backup {LOCK_SUPERUSER}", hide="out")
    check = "exec -T app python manage.py check --deploy --fail-level WARNING"
    deployment.compose(c, check, env=env, hint="The release serves; fix what check --deploy names, then deploy again.")
    record(c, deployment, release, taken)
    prune_one_host(c, deployment, records(c, deployment, release), int(deployment.settings.get("RELEASES_KEPT") or 5))
    say(f"Release {release} of {deployment.name} serves on {deployment.where}: {deployment.url()}")


def rollback_target(known: list[dict], current: str, target: str, where: str, listing: str) -> dict:
    """The record of the release to go back to: TARGET, or the one before CURRENT; refused in one
    line when there is none, or when TARGET is newer than CURRENT (its code would run on a schema
    without its migrations)."""
    names = [entry["name"] for entry in known]
    if target and target not in names:
        raise Exit(f"No release {target} on {where}: `{listing}` lists them.", 1)
    if current in names and target in names[: names.index(current)]:
        raise Exit(
            f"{target} is newer than the serving release {current}: `inv deploy` ships its code with its migrations.", 1
        )
    older = names[names.index(current) + 1 :] if current in names else names
    target = target or (older[0] if older else "")
    if not target or target == current:
        raise Exit(f"No release before {current} to go back to: `{listing}` lists them.", 1)
    return known[names.index(target)]


# What a rollback names when the newer release's code predates `release_rollback --drops`.
UNKNOWN_DROPS = ["what its migrations added (its code cannot list it)"]


def drops(preview: str | None) -> list[str]:
    """What `release_rollback --drops` printed, as phrases: `the table core_note (12 rows)`;
    UNKNOWN_DROPS when it printed nothing to read (None: it failed)."""
    line = next((line for line in reversed((preview or "").splitlines()) if line.startswith("{")), "")
    if not line:
        return UNKNOWN_DROPS
    found = json.loads(line)
    return [
        f"the column {drop['table']}.{drop['column']} ({drop['rows']} rows hold a value)"
        if drop["column"]
        else f"the table {drop['table']} ({drop['rows']} rows)"
        for drop in found["drops"]
    ]


def ask_to_drop(dropped: list[str], current: str, *, yes: bool) -> None:
    """Name what reversing CURRENT's migrations drops, and ask (unless YES)."""
    say(f"Reversing {current}'s migrations drops {'; '.join(dropped)}")
    if not yes:
        confirm(
            "Roll back and drop them? A snapshot of the database is taken first.",
            "Nothing rolled back. Add --yes to roll back without asking.",
        )


def kept_hint(current: str, restore: str) -> str:
    """What a rollback says when the schema keeps CURRENT's migrations: RESTORE brings the database
    back to before them, and what that costs."""
    return (
        f"The schema keeps {current}'s migrations (above: why); the older code runs on it. To bring the "
        f"database back to before them, losing every write since {current} was deployed: {restore}"
    )


def rollback(c, deployment: Deployment, target: str = "", *, yes: bool = False) -> None:
    """Serve an older release again (the one before the serving one, or TARGET), switched as a
    deploy switches; then its schema back, when every newer migration can be reversed. What the
    reversal drops is named first, asked about, and snapshotted."""
    current = deployment.serving(c)
    if not current:
        raise Exit(f"No release serves on {deployment.where}: `inv deploy` first.", 1)
    known = records(c, deployment, current)
    entry = rollback_target(known, current, target, deployment.where, "inv releases")
    target = entry["name"]
    left = next((known_entry for known_entry in known if known_entry["name"] == current), {})
    missing = deployment.docker(c, f"image inspect {image(deployment, 'app', target)}", hide=True, warn=True)
    if missing.failed:
        raise Exit(f"The images of {target} are gone (only the newest releases keep theirs): deploy it again.", 1)
    # The newer code knows the migrations to reverse: its image runs them.
    state = shlex.quote(json.dumps(entry["migrations"]))
    preview = manage(c, deployment, current, f"release_rollback {state} --drops", hide=True, check=False, pty=False)
    dropped = drops(preview.stdout if preview.ok else None)
    if dropped:
        ask_to_drop(dropped, current, yes=yes)
    say(f"Back to release {target} (serving: {current})")
    switch(c, deployment, target)
    if dropped:
        # Once the older code serves: it writes none of what goes.
        taken = snapshot(deployment, f"before-rollback-{current}-{utc_stamp()}")
        say(f"What the rollback drops stays in {taken}: `inv restore --dump {taken}` brings it back.")
    reversed_ = manage(c, deployment, current, f"release_rollback {state}", check=False, pty=False)
    if reversed_.failed:
        restore = f"inv restore --dump {left['snapshot']}" if left.get("snapshot") else "no snapshot was taken"
        say(kept_hint(current, restore))
    say(f"Release {target} serves on {deployment.where}: {deployment.url()}")


def listing(c, deployment: Deployment) -> None:
    """The releases on one host, newest first; the serving one marked."""
    current = deployment.serving(c)
    if not current:
        raise Exit(f"No release serves on {deployment.where}: `inv deploy` first.", 1)
    show(records(c, deployment, current), current)


def show(known: list[dict], current: str) -> None:
    """Releases as `inv releases` prints them: name, time, deployer, migrations, the snapshot taken
    before them; the serving one marked."""
    for entry in known:
        mark = "  <- serving" if entry["name"] == current else ""
        ours = sorted((app, name) for app, name in entry["migrations"].items() if app not in FRAMEWORK_APPS)
        migrations = ", ".join(f"{app} {name}" for app, name in ours)
        taken = f"  snapshot: {entry['snapshot']}" if entry.get("snapshot") else ""
        print(f"{entry['name']:32} {entry['time']:24} {entry['user']:12} {migrations}{taken}{mark}")
