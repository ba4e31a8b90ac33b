"""A deployment, on this machine, over ssh or on a swarm: deploy, releases, rollback, backup,
restore."""

from pathlib import Path

from invoke import task

from workspace import backup as backups
from workspace import releases as release
from workspace import swarm as swarm_releases
from workspace.deployment import DEPLOY_ENV, Deployment
from workspace.shell import confirm

DEPLOY_HELP = {
    "host": "the engine to deploy to: ssh://user@server (DOCKER_HOST) or a Docker context name",
    "env_file": "the deployment's settings (default: .env.deploy)",
}


@task(
    help={
        "swarm": "deploy to a Docker Swarm with `docker stack deploy`",
        "override": "a compose file layered on top, for this site's own changes",
        "allow_unsafe_migrations": "apply migrations the serving release cannot survive (plan the downtime)",
        **DEPLOY_HELP,
    }
)
def deploy(c, swarm=False, host="", env_file=str(DEPLOY_ENV), override="", allow_unsafe_migrations=False):
    """Ship a new release: build, migrate before it serves, switch without dropping a request.

    The release is named after the commit; `inv releases` lists them, `inv rollback` goes back."""
    extra = (str(Path(override).resolve()),) if override else ()
    deployment = Deployment(env_file, host, extra)
    deployment.announce()
    if swarm:
        swarm_releases.deploy_swarm(c, deployment, allow_unsafe=allow_unsafe_migrations)
    else:
        release.deploy(c, deployment, allow_unsafe=allow_unsafe_migrations)


@task(help={"swarm": "the releases of the swarm's stack", **DEPLOY_HELP})
def releases(c, swarm=False, host="", env_file=str(DEPLOY_ENV)):
    """List the deployment's releases, newest first, and mark the one serving."""
    deployment = Deployment(env_file, host)
    if swarm:
        release.show(swarm_releases.records(c, deployment), swarm_releases.serving(c, deployment))
    else:
        release.listing(c, deployment)


@task(
    positional=["name"],
    help={
        "name": "the release to go back to (default: the one before the serving one)",
        "swarm": "on the swarm's stack",
        **DEPLOY_HELP,
    },
)
def rollback(c, name="", swarm=False, host="", env_file=str(DEPLOY_ENV)):
    """Serve an older release again, switched without dropping a request; its schema back too
    when every newer migration can be reversed (else it says which snapshot to restore)."""
    deployment = Deployment(env_file, host)
    if swarm:
        swarm_releases.rollback_swarm(c, deployment, name)
    else:
        release.rollback(c, deployment, name)


@task(help=DEPLOY_HELP)
def backup(c, host="", env_file=str(DEPLOY_ENV)):
    """Back up the deployed stack: its database (pg_dump, custom format) and media files, into backups/."""
    backups.backup(Deployment(env_file, host))


@task(help={"path": "a folder made by inv backup", "yes": "do not ask first", **DEPLOY_HELP})
def restore(c, path, yes=False, host="", env_file=str(DEPLOY_ENV)):
    """Put a backup's database and media files back into the deployed stack, replacing theirs."""
    folder = Path(path)
    backups.check_backup(folder)
    deployment = Deployment(env_file, host)
    if not yes:
        question = f"Replace the database and media files of {deployment.name} on {deployment.where}?"
        confirm(question, "Nothing restored. Add --yes to restore without asking.")
    backups.restore(c, deployment, folder)
