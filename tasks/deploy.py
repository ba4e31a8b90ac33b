"""A deployment, on this machine, over ssh or on a swarm: deploy, releases, rollback, backup,
restore."""

from pathlib import Path

from invoke import Exit, task

from workspace import backups as continuous
from workspace import dumps, swarm_backups, swarm_releases
from workspace import releases as release
from workspace import status as site_status
from workspace.deployment import DEPLOY_ENV, Deployment
from workspace.shell import confirm

DEPLOY_HELP = {
    "host": "the engine to deploy to: ssh://user@server (DOCKER_HOST) or a Docker context name",
    "env_file": "the deployment's settings (default: .env.deploy)",
    "override": "a compose file layered on top, for this site's own changes (the one inv deploy got)",
}


def deployment_of(env_file: str, host: str, override: str) -> Deployment:
    return Deployment(env_file, host, (str(Path(override).resolve()),) if override else ())


@task(
    help={
        "swarm": "deploy to a Docker Swarm with `docker stack deploy`",
        "allow_unsafe_migrations": "apply migrations the serving release cannot survive (plan the downtime)",
        **DEPLOY_HELP,
    }
)
def deploy(c, swarm=False, host="", env_file=str(DEPLOY_ENV), override="", allow_unsafe_migrations=False):
    """Ship a new release: build, migrate before it serves, switch without dropping a request.

    The release is named after the commit; `inv releases` lists them, `inv rollback` goes back."""
    deployment = deployment_of(env_file, host, override)
    deployment.announce()
    if swarm:
        swarm_releases.deploy_swarm(c, deployment, allow_unsafe=allow_unsafe_migrations)
    else:
        release.deploy(c, deployment, allow_unsafe=allow_unsafe_migrations)


@task(help={"swarm": "the releases of the swarm's stack", **DEPLOY_HELP})
def releases(c, swarm=False, host="", env_file=str(DEPLOY_ENV), override=""):
    """List the deployment's releases, newest first, and mark the one serving."""
    deployment = deployment_of(env_file, host, override)
    if swarm:
        release.show(swarm_releases.records(c, deployment), swarm_releases.serving(c, deployment))
    else:
        release.listing(c, deployment)


@task(help={"swarm": "the swarm's stack", **DEPLOY_HELP})
def status(c, swarm=False, host="", env_file=str(DEPLOY_ENV), override=""):
    """Show a deployment's state on one screen; exit 1 when something needs attention.

    Each service's containers and health, the serving release, the backups' freshness, the TLS
    front's certificate and the volumes' disk use; then what needs attention, if anything does
    (for a cron job or a monitor)."""
    deployment = deployment_of(env_file, host, override)
    deployment.announce()
    site_status.status(c, deployment, swarm=swarm)


@task(
    help={
        "to": "the release to go back to, by name (default: the one before the serving one)",
        "yes": "do not ask before dropping what the newer release's migrations added",
        "swarm": "on the swarm's stack",
        **DEPLOY_HELP,
    },
)
def rollback(c, to="", yes=False, swarm=False, host="", env_file=str(DEPLOY_ENV), override=""):
    """Serve an older release again, switched without dropping a request; its schema back too
    when every newer migration can be reversed (else it says which snapshot to restore).

    What reversing them drops (tables, columns, with their rows) is named and asked about first,
    and snapshotted before it goes."""
    deployment = deployment_of(env_file, host, override)
    if swarm:
        swarm_releases.rollback_swarm(c, deployment, to, yes=yes)
    else:
        release.rollback(c, deployment, to, yes=yes)


@task(
    help={
        "verify": "the restore drill: restore the latest backup into a throwaway database and check it",
        "dump": "a portable copy instead: pg_dump and the uploads, into a folder of backups/ here",
        "swarm": "of the swarm's stack",
        **DEPLOY_HELP,
    }
)
def backup(c, verify=False, dump=False, swarm=False, host="", env_file=str(DEPLOY_ENV), override=""):
    """Take a base backup of the deployed database now (they also run on their own, daily).

    --verify restores the latest into a throwaway database and checks it (row counts, Django's
    checks); --dump writes a pg_dump and the uploads into backups/ on this machine."""
    if dump and swarm:
        raise Exit("--dump copies a one-host deployment: a swarm's backups are continuous (inv backups --swarm).", 1)
    deployment = deployment_of(env_file, host, override)
    if dump:
        dumps.backup(deployment)
    elif verify:
        (swarm_backups if swarm else continuous).verify(c, deployment)
    else:
        (swarm_backups if swarm else continuous).base_backup(c, deployment)


@task(help={"swarm": "of the swarm's stack", **DEPLOY_HELP})
def backups(c, swarm=False, host="", env_file=str(DEPLOY_ENV), override=""):
    """List the deployment's base backups, the window you can restore to, and how fresh they are."""
    (swarm_backups if swarm else continuous).listing(c, deployment_of(env_file, host, override))


@task(
    help={
        "dump": "a folder of inv backup --dump or of a release before its migrations; on a swarm, a snapshot's name",
        "latest": "the database back to the last second archived",
        "to": 'the database back to this moment: "YYYY-MM-DD HH:MM:SS", in UTC',
        "yes": "do not ask first",
        "swarm": "the swarm's stack (--latest, --to, or --dump before-RELEASE)",
        **DEPLOY_HELP,
    },
)
def restore(c, dump="", latest=False, to="", yes=False, swarm=False, host="", env_file=str(DEPLOY_ENV), override=""):
    """Bring the deployed database back: to a second (--to), to the last one (--latest), or from
    a dump folder (--dump, with its uploads). The app stops meanwhile and starts again after."""
    if sum(map(bool, (dump, latest, to))) != 1:
        raise Exit('Say what to restore: --latest, --to "YYYY-MM-DD HH:MM:SS" (UTC), or --dump FOLDER.', 1)
    if dump and not swarm:
        dumps.check_backup(Path(dump))
    if to:
        continuous.parse_time(to)
    deployment = deployment_of(env_file, host, override)
    if not yes:
        question = (
            f"Replace the database{' and media files' if dump and not swarm else ''} of {deployment.name} "
            f"on {deployment.where}?"
        )
        confirm(question, "Nothing restored. Add --yes to restore without asking.")
    if dump and swarm:
        swarm_backups.restore_snapshot(c, deployment, dump)
    elif dump:
        dumps.restore(c, deployment, Path(dump))
    else:
        (swarm_backups if swarm else continuous).restore(c, deployment, to)
