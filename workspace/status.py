"""`inv status` on one host: the deployment's services and their health, the serving release, the
backups' freshness (the app's own verdict, as /status/backups gives it) and the volumes' disk use,
on one screen; what needs attention listed last, and a non-zero exit when anything does, for a
cron job or a monitor."""

import json

from invoke import Exit

from workspace.backups import age
from workspace.compose import listed_containers
from workspace.deployment import Deployment
from workspace.shell import say

# The app's report of the backups (services/app/ops/backups.py), as /status/backups makes it.
BACKUP_REPORT = "import json; from ops import backups; print(json.dumps(backups.report()))"


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


def volume_lines(name: str, volumes: list[dict]) -> list[str]:
    """The deployment's volumes and their size (`docker system df -v`'s Volumes)."""
    mine = []
    for volume in volumes:
        labels = dict(label.split("=", 1) for label in volume.get("Labels", "").split(",") if "=" in label)
        if labels.get("com.docker.compose.project") == name:
            mine.append((labels.get("com.docker.compose.volume", volume.get("Name", "")), volume["Size"]))
    return ["Volumes: " + (", ".join(f"{volume} {size}" for volume, size in sorted(mine)) or "none")]


def quiet(c, deployment: Deployment, args: str):
    """`docker compose ARGS` on the deployment, its output kept for the screen, failing quietly."""
    return deployment.compose(c, args, hide=True, echo=False, pty=False, check=False)


def status(c, deployment: Deployment) -> None:
    """The screen, then Exit(1) naming what needs attention, if anything does."""
    expected = quiet(c, deployment, "config --services").stdout.split()
    listed = quiet(c, deployment, "ps --all --format json").stdout
    lines, problems = service_problems(expected, listed_containers(listed))
    say(f"{deployment.name} on {deployment.where}")
    print("\n".join(lines))
    release = deployment.serving(c)
    print(f"Release: {release or 'none serving'}")
    if not release:
        problems.append("release: none serves (`inv deploy`)")
    answer = quiet(c, deployment, f"exec -T app python manage.py shell -c '{BACKUP_REPORT}'")
    report = json.loads(answer.stdout.strip().splitlines()[-1]) if answer.ok and answer.stdout.strip() else None
    backup_lines, backup_found = backup_problems(report)
    print("\n".join(backup_lines))
    problems += backup_found
    df = deployment.docker(c, "system df -v --format json", hide=True, warn=True, pty=False)
    print("\n".join(volume_lines(deployment.name, json.loads(df.stdout)["Volumes"] if df.ok else [])))
    if problems:
        print("Needs attention:")
        print("\n".join(f"  - {problem}" for problem in problems))
        raise Exit(f"{len(problems)} thing(s) need attention on {deployment.where}: see above.", 1)
    say("All well.")
