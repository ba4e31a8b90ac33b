"""A deployment, on this machine, over ssh or on a swarm: deploy, backup, restore."""

from pathlib import Path

from invoke import task

from workspace import backup as backups
from workspace.deployment import DEPLOY_ENV, Deployment, deploy_one_host
from workspace.shell import confirm
from workspace.swarm import deploy_swarm

DEPLOY_HELP = {
    "host": "the engine to deploy to: ssh://user@server (DOCKER_HOST) or a Docker context name",
    "env_file": "the deployment's settings (default: .env.deploy)",
}


@task(
    help={
        "swarm": "deploy to a Docker Swarm with `docker stack deploy`",
        "override": "a compose file layered on top, for this site's own changes",
        **DEPLOY_HELP,
    }
)
def deploy(c, swarm=False, host="", env_file=str(DEPLOY_ENV), override=""):
    """Build and start the production stack from .env.deploy, migrate once, run check --deploy."""
    extra = (str(Path(override).resolve()),) if override else ()
    deployment = Deployment(env_file, host, extra)
    deployment.announce()
    (deploy_swarm if swarm else deploy_one_host)(c, deployment)


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
