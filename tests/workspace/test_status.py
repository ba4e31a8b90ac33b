"""What `inv status` reads from the engine's answers, and what it flags (workspace/status.py)."""

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from workspace.status import (
    backup_problems,
    certificate_problems,
    service_problems,
    swarm_service_problems,
    task_problems,
    volume_lines,
)

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


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def certificate(name: str, days_left: float) -> str:
    """A PEM certificate for NAME that expires DAYS_LEFT days after NOW."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    made = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=60))
        .not_valid_after(NOW + timedelta(days=days_left))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return made.public_bytes(serialization.Encoding.PEM).decode()


def test_a_certificate_with_weeks_left_is_well():
    lines, problems = certificate_problems("example.com", certificate("example.com", 60.5), NOW)
    assert lines == ["Certificate: example.com, expires 2027-02-06 00:00 UTC (in 60 days)"]
    assert problems == []


def test_a_certificate_the_front_failed_to_renew_is_named_with_its_days_left():
    _, problems = certificate_problems("example.com", certificate("example.com", 5.5), NOW)
    assert problems == ["certificate: example.com expires in 5 days and was not renewed (the front's log)"]


def test_of_two_issuers_certificates_the_newest_counts_and_another_names_does_not():
    pem = certificate("example.com", 5) + certificate("example.com", 80) + certificate("other.example", 200)
    lines, problems = certificate_problems("example.com", pem, NOW)
    assert "(in 80 days)" in lines[0]
    assert problems == []


def test_no_certificate_yet_needs_attention():
    for pem in ("", certificate("other.example", 80)):
        lines, problems = certificate_problems("example.com", pem, NOW)
        assert lines == ["Certificate: none for example.com"]
        assert problems == [
            "certificate: the front holds none for example.com yet (`docker compose logs front` says why)"
        ]


def test_a_swarm_service_short_of_its_replicas_is_named_and_a_full_one_is_fine():
    services = [
        {"Name": "site_proxy", "Mode": "global", "Replicas": "3/3"},
        {"Name": "site_app", "Mode": "replicated", "Replicas": "2/3"},
    ]
    lines, problems = swarm_service_problems("site", services)
    assert lines == ["  app        replicated 2/3 running", "  proxy      global     3/3 running"]
    assert problems == ["app: 2 of 3 running (`docker service ps site_app` says why)"]


def test_a_swarm_without_the_stack_needs_attention():
    assert swarm_service_problems("site", []) == ([], ["site: no services (`inv deploy --swarm` makes them)"])


def test_a_swarm_stacks_volumes_are_found_by_its_namespace():
    volumes = [
        {"Name": "site_db-data", "Labels": "com.docker.stack.namespace=site", "Size": "66MB"},
        {"Name": "other_db-data", "Labels": "com.docker.stack.namespace=other", "Size": "1GB"},
    ]
    assert volume_lines("site", volumes) == ["Volumes: db-data 66MB"]


def test_a_quiet_queue_needs_nothing_and_failed_or_long_waiting_tasks_are_named():
    quiet = {"waiting": 2, "running": 1, "failed_last_day": 0, "oldest_waiting_seconds": 3}
    assert task_problems(quiet) == (["Tasks: 2 waiting, 1 running, 0 failed in the last day"], [])
    stuck = {"waiting": 40, "running": 0, "failed_last_day": 3, "oldest_waiting_seconds": 1800}
    _, problems = task_problems(stuck)
    assert problems == [
        (
            "tasks: 3 failed in the last day (`manage.py queue` lists them, `--retry ID` runs one again; "
            "the worker's log says why)"
        ),
        "tasks: one has waited 30 min for a worker (is the worker running?)",
    ]
    assert task_problems(None) == (["Tasks: unknown, the app did not answer"], [])
