"""A swarm's backup tasks (workspace/swarm_backups.py), without an engine: the restore's order of
steps, each job beside the database with the backup service's mounts, and the data volume
writable only for the restore itself."""

import json
import time

import pytest
from invoke import Exit

from tests.workspace.conftest import GOOD, commands, info, mock_context
from workspace import swarm_backups
from workspace.deployment import Deployment

BACKUP_SERVICE = {
    "ContainerSpec": {
        "Image": "site-db:17@sha256:1",
        "Env": ["PGBACKREST_STANZA=main"],
        "User": "999:999",
        "Mounts": [
            {"Type": "volume", "Source": "site_db-data", "Target": "/var/lib/postgresql/data", "ReadOnly": True},
            {"Type": "volume", "Source": "site_backups", "Target": "/backups"},
        ],
        "Secrets": [{"SecretName": "site_backup_key_1", "File": {"Name": "/run/secrets/backup_key"}}],
        "Configs": [{"ConfigName": "site_ca", "File": {"Name": "/certs/ca.pem"}}],
        "Hosts": ["10.0.0.9 store"],
    },
    "Networks": [{"Target": "net-db"}],
    "Placement": {"Constraints": ["node.labels.db == true"]},
}


def test_a_swarm_restore_stops_the_writers_archives_restores_with_the_database_stopped_then_scales_back(
    deploy_env, engine
):
    archived = int(time.time()) - 5
    c = mock_context(
        {
            "{{json .Spec.TaskTemplate}}": json.dumps(BACKUP_SERVICE),
            "{{.Spec.Mode.Replicated.Replicas}}": "3",
            "service ps": "Complete 1 second ago: ",
            "service logs": json.dumps([info(archived - 3600)]) + f"\n{archived}|000000010000000000000009|0|\n",
        }
    )
    swarm_backups.restore(c, Deployment(deploy_env(*GOOD)), "")
    ran = commands(c)
    site = "django-compose-workspace-deploy"
    steps = [
        next(i for i, command in enumerate(ran) if marker in command)
        for marker in (
            f"service scale --detach=false {site}_app=0 {site}_worker=0 {site}_backup=0",
            "sh -c archive-now",
            f"service scale --detach=false {site}_db=0",
            "pgbackrest restore --delta",
            f"service scale --detach=false {site}_db=1",
            "pg_is_in_recovery",
            f"service scale --detach=false {site}_app=3 {site}_worker=3 {site}_backup=1",
        )
    ]
    assert steps == sorted(steps)
    jobs = [command for command in ran if "--mode replicated-job" in command]
    assert all("--constraint 'node.labels.db == true'" in job for job in jobs), "every job beside the database"
    assert all("--user 999:999" in job and "target=/run/secrets/backup_key" in job for job in jobs)
    assert all("--config source=site_ca,target=/certs/ca.pem" in job and "--host store:10.0.0.9" in job for job in jobs)
    data = "type=volume,target=/var/lib/postgresql/data,source=site_db-data"
    restoring = next(job for job in jobs if "pgbackrest restore" in job)
    assert f"--mount {data} " in restoring, "the restore writes the data volume"
    assert all(f"--mount {data},readonly" in job for job in jobs if job is not restoring)


def test_a_swarm_snapshot_restore_checks_the_name_then_loads_it_with_the_app_scaled_to_0_and_back(deploy_env, engine):
    c = mock_context(
        {
            "{{json .Spec.TaskTemplate}}": json.dumps(BACKUP_SERVICE),
            "{{.Spec.Mode.Replicated.Replicas}}": "3",
            "service ps": "Complete 1 second ago: ",
        }
    )
    swarm_backups.restore_snapshot(c, Deployment(deploy_env(*GOOD)), "before-3f2c9a1b7d4e")
    ran = commands(c)
    site = "django-compose-workspace-deploy"
    steps = [
        next(i for i, command in enumerate(ran) if marker in command)
        for marker in (
            "test -f /backups/snapshots/before-3f2c9a1b7d4e.dump",
            f"service scale --detach=false {site}_app=0 {site}_worker=0",
            "< /backups/snapshots/before-3f2c9a1b7d4e.dump",
            f"service scale --detach=false {site}_app=3 {site}_worker=3",
        )
    ]
    assert steps == sorted(steps)
    loading = ran[steps[2]]
    assert "pg_restore" in loading
    assert "--constraint 'node.labels.db == true'" in loading


def test_a_swarm_snapshot_name_that_is_not_one_is_refused_before_anything_runs(deploy_env, engine):
    c = mock_context()
    with pytest.raises(Exit, match="--dump backups/x; rm: on a swarm, the name of a release's snapshot"):
        swarm_backups.restore_snapshot(c, Deployment(deploy_env(*GOOD)), "backups/x; rm")
    assert commands(c) == []


def test_a_swarm_restore_run_again_after_a_failure_scales_the_app_back_to_its_setting_not_to_0(deploy_env, engine):
    """The failed run left the app and the worker at 0 replicas: the run again scales them back to
    APP_REPLICAS and WORKER_REPLICAS."""
    c = mock_context(
        {
            "{{json .Spec.TaskTemplate}}": json.dumps(BACKUP_SERVICE),
            "{{.Spec.Mode.Replicated.Replicas}}": "0",
            "service ps": "Complete 1 second ago: ",
        }
    )
    deployment = Deployment(deploy_env(*GOOD, "APP_REPLICAS=4", "WORKER_REPLICAS=2"))
    swarm_backups.restore_snapshot(c, deployment, "before-3f2c9a1b7d4e")
    site = "django-compose-workspace-deploy"
    assert commands(c)[-1].endswith(f"service scale --detach=false {site}_app=4 {site}_worker=2")
