"""Releases on a Docker Swarm (`inv deploy --swarm`, `inv rollback --swarm`): the images built and
pushed, the release phase in a job with the new image while the old release serves, the rolling
update, the record; and back to an older release's images, pinned to their digests."""

import getpass
import json
import shlex
import tempfile
import time
from collections.abc import Mapping

from invoke import Exit

from workspace import swarm_backups
from workspace.deployment import LOCK_SUPERUSER, Deployment
from workspace.releases import ask_to_drop, drops, kept_hint, prune, release_name, rollback_target
from workspace.shell import say
from workspace.swarm import create_secrets, registry_of, swarm_files, swarm_manage, swarm_stack


def content_tags(c, deployment: Deployment, release: str) -> dict[str, str]:
    """PROXY_TAG (and FRONT_TAG): the proxy's and the front's images named by their content, so a
    release that leaves them as they were updates no proxy: a swarm replaces a proxy's task stop-
    first (it holds its node's port), a gap on that node."""
    tags = {}
    for service in ("proxy", "front") if deployment.domain else ("proxy",):
        built = f"{deployment.settings.get('IMAGE_PREFIX') or 'django-compose-workspace'}-{service}"
        found = deployment.docker(c, f"image inspect --format '{{{{.Id}}}}' {built}:{release}", hide=True)
        tag = "content-" + found.stdout.strip().removeprefix("sha256:")[:12]
        deployment.docker(c, f"tag {built}:{release} {built}:{tag}", hide=True)
        tags[f"{service.upper()}_TAG"] = tag
    return tags


# The variable that names the tag of each image a release builds.
TAGGED = {"IMAGE_TAG": "app", "PROXY_TAG": "proxy", "FRONT_TAG": "front"}


def pinned(c, deployment: Deployment, tags: Mapping[str, str]) -> dict[str, str]:
    """TAGS (IMAGE_TAG, PROXY_TAG, FRONT_TAG) with each image's digest in the registry, known once
    it is pushed (`TAG@sha256:…`): what a rollback deploys, whatever the tag names by then."""
    prefix = deployment.settings.get("IMAGE_PREFIX") or "django-compose-workspace"
    result = {}
    for variable, tag in tags.items():
        name = f"{prefix}-{TAGGED[variable]}"
        found = deployment.docker(c, f"image inspect --format '{{{{json .RepoDigests}}}}' {name}:{tag}", hide=True)
        digests = [pushed.partition("@")[2] for pushed in json.loads(found.stdout) if pushed.startswith(f"{name}@")]
        result[variable] = f"{tag}@{digests[0]}" if digests else tag
    return result


def stack_deploy(c, deployment: Deployment, release: str, tags: Mapping[str, str]) -> None:
    """`docker stack deploy` of the stack with RELEASE's images (the secrets made first)."""
    # RELEASE names it for the app (its error reports): IMAGE_TAG may be pinned to a digest.
    env = {"IMAGE_TAG": release, "RELEASE": release, **tags, **create_secrets(c, deployment)}
    model = deployment.compose(c, "config --format json", files=swarm_files(deployment), env=env, hide="out")
    registry = registry_of(deployment.settings.get("IMAGE_PREFIX", ""))
    # The stack file holds no secret: those are Docker secrets by now.
    with tempfile.NamedTemporaryFile("w", prefix=f"{deployment.name}-", suffix=".json") as stack:
        json.dump(swarm_stack(json.loads(model.stdout)), stack)
        stack.flush()
        # With a registry, the manager pins each image's digest, so every node runs the same
        # build, and the nodes get this client's login to pull; without one, the images are
        # this engine's own and nothing is looked up.
        images = "--resolve-image always --with-registry-auth" if registry else "--resolve-image never"
        deployment.docker(
            c,
            f"stack deploy --detach=false --prune {images} -c {stack.name} {deployment.name}",
            # The CLI waits for the services to converge: forever, if a task keeps failing.
            timeout=600,
            hint="`docker service ps --no-trunc <stack>_<service>` shows why a task failed; fix it, deploy again.",
        )


def app_image(deployment: Deployment, release: str) -> str:
    return f"{deployment.settings.get('IMAGE_PREFIX') or 'django-compose-workspace'}-app:{release}"


def serving(c, deployment: Deployment) -> str:
    """The release the app service runs ("" before the first deploy)."""
    template = "{{.Spec.TaskTemplate.ContainerSpec.Image}}"
    found = deployment.docker(c, f"service inspect --format '{template}' {deployment.name}_app", hide=True, warn=True)
    return "" if found.failed else found.stdout.strip().split("@")[0].rpartition(":")[2]


def last_json_line(output: str) -> str:
    """The JSON a command printed, among a job's log lines (the app logs to them too)."""
    return next(line for line in reversed(output.splitlines()) if line.startswith("{"))


def records(c, deployment: Deployment) -> list[dict]:
    output = swarm_manage(c, deployment, "release_record list")
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def deploy_swarm(c, deployment: Deployment, *, allow_unsafe: bool = False) -> None:
    """A new release on the swarm: built (and pushed to the registry IMAGE_PREFIX names), its
    migrations run in a job with its image while the old release serves, then the rolling update
    (health-gated, start-first), check --deploy and the record."""
    release = release_name()
    env = {"IMAGE_TAG": release}
    say(f"Release {release}")
    built = deployment.files
    deployment.compose(c, "build", files=built, env=env, hint="Read the build output above.")
    registry = registry_of(deployment.settings.get("IMAGE_PREFIX", ""))
    tags = content_tags(c, deployment, release)
    images = {"IMAGE_TAG": release, **tags}
    if registry:
        # Every node pulls the images from there: the ones built here.
        unreachable = f"Can this engine reach {registry}? One without TLS goes in daemon.json's insecure-registries."
        pushed = "app proxy db" + (" front" if deployment.domain else "")
        deployment.compose(c, f"push {pushed}", files=built, env={**env, **tags}, hint=unreachable)
        images = pinned(c, deployment, images)
    migrate = "release_migrate" + (" --allow-unsafe-migrations" if allow_unsafe else "")
    lock = {"MIGRATION_LOCK_TIMEOUT": deployment.settings.get("MIGRATION_LOCK_TIMEOUT") or "5"}
    first = not serving(c, deployment)
    # The last second before the release phase: the continuous backups restore to it
    # (docs/backups.md), the database as it was before this release's migrations.
    before = "" if first else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    taken = ""
    if not first:
        new = app_image(deployment, release)
        plan = swarm_manage(c, deployment, "showmigrations --plan", image=new, quiet=True)
        if any(line.startswith("[ ]") for line in plan.splitlines()):
            taken = swarm_backups.snapshot(c, deployment, f"before-{release}")
        swarm_manage(c, deployment, migrate, image=new, env=lock)
    stack_deploy(c, deployment, release, tags)
    # After the rolling update: the release before may still have logged in as the superuser.
    swarm_backups.backup_job(c, deployment, LOCK_SUPERUSER)
    if first:
        swarm_manage(c, deployment, migrate, env=lock)
    swarm_manage(c, deployment, "check --deploy --fail-level WARNING")
    state = last_json_line(swarm_manage(c, deployment, "release_state"))
    entry = {
        "name": release,
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "user": getpass.getuser(),
        "images": {"app": app_image(deployment, release), **images},
        "migrations": json.loads(state),
        "snapshot": taken,
        "before": before,
    }
    add = f"release_record add {shlex.quote(json.dumps(entry))}"
    recorded = swarm_manage(c, deployment, add, "release_record list")
    known = [json.loads(line) for line in recorded.splitlines() if line.startswith("{")]
    # This engine built them: it keeps the newest releases' images. The registry keeps them all.
    parts = ("app", "proxy", "front") if deployment.domain else ("app", "proxy")
    keep = int(deployment.settings.get("RELEASES_KEPT") or 5)
    prune(c, deployment, known, keep, parts)
    swarm_backups.prune_snapshots(c, deployment, [entry["snapshot"] for entry in known[keep:] if entry.get("snapshot")])
    port = deployment.settings.get("PROXY_PORT") or 8000
    where = deployment.url() if deployment.domain else f"port {port} of each node"
    say(f"Release {release} of {deployment.name} serves on the swarm on {deployment.where}: {where}")


def rollback_swarm(c, deployment: Deployment, target: str = "", *, yes: bool = False) -> None:
    """An older release's images rolled out again (health-gated, start-first), then its schema
    back when every newer migration can be reversed; what that drops named, asked about and
    snapshotted first."""
    current = serving(c, deployment)
    if not current:
        raise Exit(f"No release serves on the swarm of {deployment.where}: `inv deploy --swarm` first.", 1)
    known = records(c, deployment)
    entry = rollback_target(known, current, target, f"the swarm of {deployment.where}", "inv releases --swarm")
    target = entry["name"]
    left = next((known_entry for known_entry in known if known_entry["name"] == current), {})
    state = shlex.quote(json.dumps(entry["migrations"]))
    newer = app_image(deployment, current)
    try:
        preview = swarm_manage(c, deployment, f"release_rollback {state} --drops", image=newer, quiet=True)
    except Exit:
        preview = None
    dropped = drops(preview)
    if dropped:
        ask_to_drop(dropped, current, yes=yes)
    say(f"Back to release {target} (serving: {current})")
    images = entry["images"]
    stack_deploy(c, deployment, target, {name: tag for name, tag in images.items() if name.endswith("_TAG")})
    if dropped:
        # Once the older code serves: it writes none of what goes.
        taken = swarm_backups.snapshot(c, deployment, f"before-rollback-{current}")
        say(f"What the rollback drops stays in snapshot {taken}: `inv restore --swarm --dump {taken}` brings it back.")
    try:
        swarm_manage(c, deployment, f"release_rollback {state}", image=newer)
    except Exit:
        if left.get("snapshot"):
            restore = f"inv restore --swarm --dump {left['snapshot']}"
        elif left.get("before"):
            restore = f'inv restore --swarm --to "{left["before"]}"'
        else:
            restore = "`inv backups --swarm` shows the window"
        say(kept_hint(current, restore))
    say(f"Release {target} serves on the swarm on {deployment.where}")
