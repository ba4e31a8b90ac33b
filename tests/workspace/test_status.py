"""What `inv status` reads from the engine's answers, and what it flags (workspace/status.py)."""

from workspace.status import backup_problems, service_problems, volume_lines

HEALTHY = {"State": "running", "Health": "healthy"}


def test_healthy_services_need_nothing_and_a_service_without_a_healthcheck_is_fine_running():
    containers = [
        {"Service": "app", "Name": "site-app-1", **HEALTHY},
        {"Service": "app", "Name": "site-app-2", **HEALTHY},
        {"Service": "backup", "Name": "site-backup-1", "State": "running", "Health": ""},
    ]
    lines, problems = service_problems(["app", "backup"], containers)
    assert problems == []
    assert len(lines) == 3
    assert "site-app-2" in lines[1]


def test_a_stopped_an_unhealthy_and_a_missing_service_are_each_named():
    containers = [
        {"Service": "app", "Name": "site-app-1", "State": "running", "Health": "unhealthy"},
        {"Service": "db", "Name": "site-db-1", "State": "exited", "Health": ""},
    ]
    _, problems = service_problems(["app", "db", "proxy"], containers)
    assert problems == [
        "app: site-app-1 is unhealthy",
        "db: site-db-1 is exited",
        "proxy: no container (`inv deploy` makes them)",
    ]


def test_stale_backups_are_named_with_the_apps_reasons():
    report = {
        "status": "backup stale",
        "problems": ["no base backup yet"],
        "last_backup_seconds_ago": None,
        "last_wal_archived_seconds_ago": 30,
    }
    lines, problems = backup_problems(report)
    assert lines == ["Backups: backup stale (last WAL archived 30 s ago)"]
    assert problems == ["backups: no base backup yet"]


def test_fresh_backups_need_nothing_and_an_app_that_does_not_answer_does():
    report = {"status": "ok", "problems": [], "last_backup_seconds_ago": 7200, "last_wal_archived_seconds_ago": 5}
    assert backup_problems(report) == (["Backups: ok (last base backup 2.0 h ago, last WAL archived 5 s ago)"], [])
    assert backup_problems(None)[1] == ["backups: unknown, the app did not answer"]


def test_only_the_deployments_own_volumes_are_listed():
    volumes = [
        {"Labels": "com.docker.compose.project=site,com.docker.compose.volume=media", "Size": "1.2MB"},
        {"Labels": "com.docker.compose.volume=db-data,com.docker.compose.project=site", "Size": "66MB"},
        {"Labels": "com.docker.compose.project=site-two,com.docker.compose.volume=media", "Size": "9GB"},
        {"Labels": "", "Size": "1kB"},
    ]
    assert volume_lines("site", volumes) == ["Volumes: db-data 66MB, media 1.2MB"]
