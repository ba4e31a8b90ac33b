"""`inv status`, on one host or a swarm: the deployment's services and their health, the serving
release, the backups' freshness (the app's own verdict, as /status/backups gives it), the
background tasks (waiting, running, failed lately), the TLS front's certificate and the volumes'
disk use, on one screen; what needs attention listed last, and a non-zero exit when anything
does, for a cron job or a monitor."""

import json
import shlex
from datetime import UTC, datetime, timedelta

from cryptography import x509
from invoke import Exit

from workspace import swarm_releases
from workspace.backups import age
from workspace.compose import listed_containers
from workspace.deployment import Deployment
from workspace.shell import say
from workspace.swarm import swarm_manage

# The app's report of the backups (services/app/ops/backups.py), as /status/backups makes it, and
# of the background tasks' queue (ops/tasks.py): one Django start for both.
SITE_REPORT = (
    "import json; from ops import backups, tasks; "
    "print(json.dumps({'backups': backups.report(), 'tasks': tasks.report()}))"
)
# A task due this long ago and still waiting: no worker takes the queue.
WAITED_TOO_LONG = 600


def service_problems(expected: list[str], containers: list[dict]) -> tuple[list[str], list[str]]:
    """Lines for each service's containers (`docker compose ps --all --format json`, one object a
    container), and what needs attention: a service with no container, or one not running or not
    healthy."""
    lines, problems = [], []
    for service in expected:
        mine = [each for each in containers if each.get("Service") == service]
        if not mine:
            lines.append(f"  {service:10} no container")
            problems.append(f"{service}: no container (`inv deploy` makes them)")
            continue
        for each in mine:
            state, health = each.get("State", ""), each.get("Health", "")
            lines.append(f"  {service:10} {state:10} {health or '-':10} {each.get('Name', '')}")
            if state != "running":
                problems.append(f"{service}: {each.get('Name', '')} is {state}")
            elif health not in ("", "healthy"):
                problems.append(f"{service}: {each.get('Name', '')} is {health}")
    return lines, problems


def swarm_service_problems(stack: str, services: list[dict]) -> tuple[list[str], list[str]]:
    """Lines for each service of the swarm's stack (`docker service ls --format json`), and what
    needs attention: a service with fewer tasks running than it should have. A task whose
    service has a healthcheck counts as running only once healthy."""
    lines, problems = [], []
    for service in sorted(services, key=lambda each: each["Name"]):
        name = service["Name"].removeprefix(f"{stack}_")
        running, _, wanted = service.get("Replicas", "0/0").partition("/")
        lines.append(f"  {name:10} {service.get('Mode', ''):10} {running}/{wanted} running")
        if int(running) < int(wanted or 0):
            problems.append(f"{name}: {running} of {wanted} running (`docker service ps {service['Name']}` says why)")
    if not services:
        problems.append(f"{stack}: no services (`inv deploy --swarm` makes them)")
    return lines, problems


def task_problems(report: dict | None) -> tuple[list[str], list[str]]:
    """The background tasks' line, from the app's report; and what needs attention: tasks that
    failed in the last day, a task left waiting (no worker runs)."""
    if report is None:
        return ["Tasks: unknown, the app did not answer"], []
    line = (
        f"Tasks: {report['waiting']} waiting, {report['running']} running, "
        f"{report['failed_last_day']} failed in the last day"
    )
    problems = []
    if report["failed_last_day"]:
        problems.append(
            f"tasks: {report['failed_last_day']} failed in the last day (`manage.py queue` lists them, "
            "`--retry ID` runs one again; the worker's log says why)"
        )
    if (waited := report.get("oldest_waiting_seconds")) is not None and waited > WAITED_TOO_LONG:
        problems.append(f"tasks: one has waited {age(waited)} for a worker (is the worker running?)")
    return [line], problems


def backup_problems(report: dict | None) -> tuple[list[str], list[str]]:
    """The backups' line, from the app's report; and its problems ("backup stale"'s reasons)."""
    if report is None:
        return ["Backups: unknown, the app did not answer"], ["backups: unknown, the app did not answer"]
    ages = []
    if report.get("last_backup_seconds_ago") is not None:
        ages.append(f"last base backup {age(report['last_backup_seconds_ago'])} ago")
    if report.get("last_wal_archived_seconds_ago") is not None:
        ages.append(f"last WAL archived {age(report['last_wal_archived_seconds_ago'])} ago")
    line = f"Backups: {report['status']}" + (f" ({', '.join(ages)})" if ages else "")
    return [line], [f"backups: {problem}" for problem in report.get("problems", [])]


# The front renews a certificate when a third of its life is left (30 days of Let's Encrypt's 90):
# one this close to its end has failed to renew for weeks.
RENEWAL_OVERDUE = timedelta(days=14)


def certificate_problems(domain: str, pem: str, now: datetime) -> tuple[list[str], list[str]]:
    """The certificate's line, from the PEM files the front keeps for DOMAIN (one an issuer); and
    a problem when there is none, or the newest is about to expire."""
    found = [each for each in x509.load_pem_x509_certificates(pem.encode()) if names(each, domain)] if pem else []
    if not found:
        problem = f"certificate: the front holds none for {domain} yet (`docker compose logs front` says why)"
        return [f"Certificate: none for {domain}"], [problem]
    expires = max(each.not_valid_after_utc for each in found)
    left = expires - now
    line = f"Certificate: {domain}, expires {expires:%Y-%m-%d %H:%M} UTC (in {left.days} days)"
    if left < RENEWAL_OVERDUE:
        return [line], [f"certificate: {domain} expires in {left.days} days and was not renewed (the front's log)"]
    return [line], []


def names(certificate: x509.Certificate, domain: str) -> bool:
    try:
        alternatives = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return domain in alternatives.get_values_for_type(x509.DNSName)


def volume_lines(name: str, volumes: list[dict]) -> list[str]:
    """The deployment's volumes and their size (`docker system df -v`'s Volumes): a compose
    project's, or a swarm stack's on the engine asked."""
    mine = []
    for volume in volumes:
        labels = dict(label.split("=", 1) for label in volume.get("Labels", "").split(",") if "=" in label)
        if labels.get("com.docker.compose.project") == name:
            mine.append((labels.get("com.docker.compose.volume", volume.get("Name", "")), volume["Size"]))
        elif labels.get("com.docker.stack.namespace") == name:
            mine.append((volume.get("Name", "").removeprefix(f"{name}_"), volume["Size"]))
    return ["Volumes: " + (", ".join(f"{volume} {size}" for volume, size in sorted(mine)) or "none")]


def quiet(c, deployment: Deployment, args: str):
    """`docker compose ARGS` on the deployment, its output kept for the screen, failing quietly."""
    return deployment.compose(c, args, hide=True, echo=False, pty=False, check=False)


def status(c, deployment: Deployment, *, swarm: bool = False) -> None:
    """The screen, then Exit(1) naming what needs attention, if anything does."""
    say(f"{deployment.name} on {deployment.where}" + (", a swarm" if swarm else ""))
    if swarm:
        listing = f"service ls --filter {STACK_LABEL}={deployment.name} --format json"
        found = deployment.docker(c, listing, hide=True, echo=False, warn=True, pty=False)
        services = [json.loads(line) for line in found.stdout.splitlines() if line.strip()]
        lines, problems = swarm_service_problems(deployment.name, services)
        release = swarm_releases.serving(c, deployment)
    else:
        expected = quiet(c, deployment, "config --services").stdout.split()
        listed = quiet(c, deployment, "ps --all --format json").stdout
        lines, problems = service_problems(expected, listed_containers(listed))
        release = deployment.serving(c)
    print("\n".join(lines))
    print(f"Release: {release or 'none serving'}")
    if not release:
        problems.append(f"release: none serves (`inv deploy{' --swarm' if swarm else ''}`)")
    report = site_report(c, deployment, swarm=swarm) or {}
    for lines_of in (backup_problems(report.get("backups")), task_problems(report.get("tasks"))):
        print("\n".join(lines_of[0]))
        problems += lines_of[1]
    if deployment.domain:
        held = front_certificates(c, deployment, swarm=swarm)
        if held is None:
            print("Certificate: not seen here, the front runs on another node (FRONT_PLACEMENT)")
        else:
            certificate_lines, certificate_found = certificate_problems(deployment.domain, held, datetime.now(UTC))
            print("\n".join(certificate_lines))
            problems += certificate_found
    df = deployment.docker(c, "system df -v --format json", hide=True, echo=False, warn=True, pty=False)
    print("\n".join(volume_lines(deployment.name, json.loads(df.stdout)["Volumes"] if df.ok else [])))
    if problems:
        print("Needs attention:")
        print("\n".join(f"  - {problem}" for problem in problems))
        raise Exit(f"{len(problems)} thing(s) need attention on {deployment.where}: see above.", 1)
    say("All well.")


STACK_LABEL = "label=com.docker.stack.namespace"


def site_report(c, deployment: Deployment, *, swarm: bool) -> dict | None:
    """The app's report of the backups and of the tasks: in an app container, or on a swarm in a
    job of its own (the engine asked may run no replica). None when the app cannot tell."""
    command = f"shell -c {shlex.quote(SITE_REPORT)}"
    if swarm:
        try:
            output = swarm_manage(c, deployment, command, quiet=True)
        except Exit:
            return None
    else:
        answer = quiet(c, deployment, f"exec -T app python manage.py {command}")
        output = answer.stdout if answer.ok else ""
    found = [line for line in output.splitlines() if line.startswith("{")]
    return json.loads(found[-1]) if found else None


def front_certificates(c, deployment: Deployment, *, swarm: bool) -> str | None:
    """The certificates the TLS front keeps for the domain, as PEM ("" when it has none). Where
    Caddy keeps what it got by ACME: certificates/<issuer>/<name>/<name>.crt. On a swarm, the
    front's container on the engine asked (the manager, unless FRONT_PLACEMENT says otherwise):
    None when it runs elsewhere."""
    held = f"/data/caddy/certificates/*/{deployment.domain}/{deployment.domain}.crt"
    if not swarm:
        return quiet(c, deployment, f"exec -T front sh -c 'cat {held}'").stdout
    label = f"label=com.docker.swarm.service.name={deployment.name}_front"
    front = deployment.docker(c, f"ps -q --filter {label}", hide=True, echo=False, warn=True).stdout.split()
    if not front:
        return None
    held = deployment.docker(c, f"exec {front[0]} sh -c 'cat {held}'", hide=True, echo=False, warn=True, pty=False)
    return held.stdout if held.ok else ""
