"""The swarm's translation, secrets and one-off jobs (workspace/swarm.py) and its releases
(workspace/swarm_releases.py), without an engine."""

import json
import re
import shlex

from invoke import MockContext, Result

from tests.workspace.conftest import GOOD, calls, commands, mock_context
from workspace.deployment import Deployment
from workspace.swarm import create_secrets, manage_job, registry_of, secret_names, swarm_files, swarm_stack
from workspace.swarm_releases import deploy_swarm, rollback_swarm

BUCKET = ("MEDIA_STORAGE=s3", "AWS_STORAGE_BUCKET_NAME=b", "AWS_S3_REGION_NAME=r")
KEYS = ("AWS_ACCESS_KEY_ID=key-id", "AWS_SECRET_ACCESS_KEY=key-secret")


def test_the_stack_file_leaves_out_what_docker_stack_deploy_refuses():
    model = {
        "name": "site",
        "x-service": {},
        "services": {
            "app": {"build": {"context": "."}, "depends_on": {"db": {}}, "group_add": ["10001"], "init": None},
            "proxy": {
                "ports": [{"target": 8080, "published": "8000", "host_ip": "127.0.0.1"}],
                "deploy": {"resources": {"limits": {"cpus": 0.5}}},
            },
        },
    }
    stack = swarm_stack(model)
    assert set(stack) == {"services"}
    assert stack["services"]["app"] == {}
    assert stack["services"]["proxy"]["ports"] == [{"target": 8080, "published": 8000}]
    assert stack["services"]["proxy"]["deploy"]["resources"]["limits"]["cpus"] == "0.5"


def test_each_secret_setting_becomes_a_docker_secret_named_by_its_values(deploy_env):
    names = secret_names(Deployment(deploy_env(*GOOD)))
    assert set(names) == {"SECRET_KEY_SECRET_NAME", "POSTGRES_PASSWORD_SECRET_NAME", "BACKUP_KEY_SECRET_NAME"}
    assert names["SECRET_KEY_SECRET_NAME"].startswith("django-compose-workspace-deploy_secret_key_")
    changed = secret_names(Deployment(deploy_env(GOOD[0] + "-changed", *GOOD[1:])))
    assert changed["SECRET_KEY_SECRET_NAME"] != names["SECRET_KEY_SECRET_NAME"]
    # No value is in a name.
    assert not any(value.split("=", 1)[1] in json.dumps(names) for value in GOOD)


def test_the_buckets_keys_are_secrets_too(deploy_env):
    names = secret_names(Deployment(deploy_env(*GOOD, *BUCKET, *KEYS)))
    assert {"AWS_ACCESS_KEY_ID_SECRET_NAME", "AWS_SECRET_ACCESS_KEY_SECRET_NAME"} <= set(names)


def test_a_missing_secret_is_created_from_stdin_on_the_deployments_engine(deploy_env):
    c = mock_context(failing=("docker secret inspect",))
    create_secrets(c, Deployment(deploy_env(*GOOD), host="ssh://root@node0"))
    created = [call for call in calls(c) if call.args[0].startswith("docker secret create")]
    assert [call.kwargs["in_stream"].getvalue() for call in created] == [
        "a-long-random-key-of-this-site-only",
        "a-password-of-this-site",
        "a-backup-key-of-this-site",
    ]
    assert all(call.kwargs["env"] == {"DOCKER_HOST": "ssh://root@node0"} for call in calls(c))


def test_an_existing_secret_is_not_created_again(deploy_env):
    c = mock_context()
    create_secrets(c, Deployment(deploy_env(*GOOD)))
    assert not [command for command in commands(c) if command.startswith("docker secret create")]


def test_registry_is_what_docker_takes_for_one():
    assert registry_of("registry.example.com/site") == "registry.example.com"
    assert registry_of("10.0.0.5:5000/site") == "10.0.0.5:5000"
    assert registry_of("localhost/site") == "localhost"
    assert registry_of("site") == ""
    assert registry_of("team/site") == ""


def test_a_manage_job_runs_with_the_app_services_networks_secrets_and_image():
    spec = {
        "ContainerSpec": {"Image": "site-app:1", "Secrets": [{"SecretName": "s1", "File": {"Name": "secret_key"}}]},
        "Networks": [{"Target": "net1"}],
    }
    job = manage_job(spec, "site_manage", "site", "site.env", "migrate --noinput", "check --deploy")
    assert "--network net1" in job
    assert "--secret source=s1,target=secret_key" in job
    assert "--label com.docker.stack.namespace=site" in job
    assert job.endswith("site-app:1 sh -c 'python manage.py migrate --noinput && python manage.py check --deploy'")


def test_a_swarm_release_migrates_with_its_image_before_the_update_then_checks_and_records(deploy_env, engine):
    model = {"services": {"app": {"image": "a"}, "proxy": {"image": "p"}}}
    template = {"ContainerSpec": {"Image": "site-app:old", "Env": ["A=1"]}, "Networks": []}
    c = mock_context(
        {
            "config --format json": json.dumps(model),
            "{{json .Spec.TaskTemplate}}": json.dumps(template),
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}": "django-compose-workspace-app:old@sha256:1",
            "service ps": "Complete 1 second ago: ",
            "service logs": '{"core": "0003_attachment_index"}\n2026-12-03 09:01:00,463 INFO axes.apps: AXES: BEGIN\n',
        }
    )
    deploy_swarm(c, Deployment(deploy_env(*GOOD)))
    ran = commands(c)
    migrate = next(i for i, command in enumerate(ran) if "manage.py release_migrate" in command)
    update = next(i for i, command in enumerate(ran) if "stack deploy" in command)
    check = next(i for i, command in enumerate(ran) if "manage.py check --deploy" in command)
    recorded = next(i for i, command in enumerate(ran) if "manage.py release_record add" in command)
    assert migrate < update < check < recorded
    assert " django-compose-workspace-app:" in ran[migrate], "the new release's image migrates"
    assert "django-compose-workspace-app:old" not in ran[migrate]
    assert not any(" push " in command for command in ran), "no registry named: nothing is pushed"
    assert "compose/compose.swarm.yaml" in next(command for command in ran if "config --format json" in command)
    # The build needs none of the secrets' names; it builds the database's image (pgBackRest).
    build = next(command for command in ran if command.endswith(" build"))
    assert "compose.swarm.yaml" not in build
    assert "compose.backup.yaml" in build


def test_with_a_registry_a_release_records_its_images_by_digest_and_the_moment_before_it(deploy_env, engine):
    model = {"services": {"app": {"image": "a"}, "proxy": {"image": "p"}}}
    template = {"ContainerSpec": {"Image": "site-app:old", "Env": ["A=1"]}, "Networks": []}
    prefix = "registry.example.com/site"
    c = mock_context(
        {
            "config --format json": json.dumps(model),
            "{{json .Spec.TaskTemplate}}": json.dumps(template),
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}": f"{prefix}-app:old@sha256:1",
            "{{json .RepoDigests}}": json.dumps([f"{prefix}-app@sha256:aa", f"{prefix}-proxy@sha256:bb"]),
            "service ps": "Complete 1 second ago: ",
            "service logs": '{"core": "0003_attachment_index"}\n',
        }
    )
    deploy_swarm(c, Deployment(deploy_env(*GOOD, f"IMAGE_PREFIX={prefix}")))
    ran = commands(c)
    assert any(" push app proxy db" in command for command in ran)
    recorded = next(command for command in ran if "manage.py release_record add" in command)
    words = shlex.split(recorded)
    script = shlex.split(words[words.index("-c") + 1])
    record = json.loads(script[script.index("add") + 1])
    assert record["images"]["IMAGE_TAG"].endswith("@sha256:aa")
    assert record["images"]["PROXY_TAG"].startswith("content-")
    assert record["images"]["PROXY_TAG"].endswith("@sha256:bb")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", record["before"])


def test_a_swarm_release_prunes_the_images_and_snapshots_of_the_releases_past_the_kept_ones(deploy_env, engine):
    model = {"services": {"app": {"image": "a"}, "proxy": {"image": "p"}}}
    template = {"ContainerSpec": {"Image": "site-app:old", "Env": ["A=1"]}, "Networks": []}
    listed = "".join(
        json.dumps({"name": name, "migrations": {}, "snapshot": f"before-{name}"}) + "\n"
        for name in ("new", "old", "older")
    )
    c = mock_context(
        {
            "config --format json": json.dumps(model),
            "{{json .Spec.TaskTemplate}}": json.dumps(template),
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}": "django-compose-workspace-app:old@sha256:1",
            "service ps": "Complete 1 second ago: ",
            "service logs": listed,
        }
    )
    deploy_swarm(c, Deployment(deploy_env(*GOOD, "RELEASES_KEPT=2")))
    removed = [command for command in commands(c) if " image rm " in command]
    assert len(removed) == 1
    assert removed[0].endswith("image rm django-compose-workspace-app:older django-compose-workspace-proxy:older")
    # And its snapshot, on the database's node.
    assert next(command for command in commands(c) if "rm -f /backups/snapshots/" in command).endswith(
        "rm -f /backups/snapshots/before-older.dump'"
    )


def test_a_swarm_release_with_pending_migrations_snapshots_the_database_beside_it_first(deploy_env, engine):
    model = {"services": {"app": {"image": "a"}, "proxy": {"image": "p"}}}
    template = {"ContainerSpec": {"Image": "site-app:old", "Env": ["A=1"]}, "Networks": []}
    c = mock_context(
        {
            "config --format json": json.dumps(model),
            "{{json .Spec.TaskTemplate}}": json.dumps(template),
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}": "django-compose-workspace-app:old@sha256:1",
            "service ps": "Complete 1 second ago: ",
            "service logs": '[X]  core.0003_attachment_index\n[ ]  core.0004_note\n{"core": "0004_note"}\n',
        }
    )
    deploy_swarm(c, Deployment(deploy_env(*GOOD)))
    ran = commands(c)
    steps = [
        next(i for i, command in enumerate(ran) if marker in command)
        for marker in ("manage.py showmigrations --plan", "pg_dump --format=custom", "manage.py release_migrate")
    ]
    assert steps == sorted(steps)
    recorded = shlex.split(shlex.split(next(command for command in ran if "release_record add" in command))[-1])
    record = json.loads(recorded[recorded.index("add") + 1])
    assert record["snapshot"] == f"before-{record['name']}"
    assert f"/backups/snapshots/before-{record['name']}.dump" in ran[steps[1]]


def test_a_swarm_rollback_over_an_irreversible_migration_names_the_snapshots_restore(deploy_env, engine, capsys):
    model = {"services": {"app": {"image": "a"}, "proxy": {"image": "p"}}}
    template = {"ContainerSpec": {"Image": "site-app:new", "Env": ["A=1"]}, "Networks": []}
    known = [
        {"name": "new", "images": {"IMAGE_TAG": "new"}, "migrations": {}, "snapshot": "before-new", "before": "x"},
        {"name": "old", "images": {"IMAGE_TAG": "old"}, "migrations": {}, "snapshot": "", "before": ""},
    ]
    outputs = {
        "config --format json": json.dumps(model),
        "{{json .Spec.TaskTemplate}}": json.dumps(template),
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}": "django-compose-workspace-app:new@sha256:1",
    }
    preview = {"drops": [], "kept": ["core.0004_mark cannot be reversed (RunPython without reverse_code)"]}
    # The records' job and the preview complete, the reversing one fails.
    done, failed = Result("Complete 1 second ago: "), Result("Failed 1 second ago: ")
    results: dict = {re.compile(".*service ps"): [done, done, failed]}
    logs = ["".join(json.dumps(entry) + "\n" for entry in known), json.dumps(preview) + "\n", "Kept: ...\n"]
    results[re.compile(".*service logs")] = [Result(out) for out in logs]
    results |= {re.compile(".*" + re.escape(pattern)): Result(out) for pattern, out in outputs.items()}
    c = MockContext(run={**results, re.compile(".*"): Result("")})
    rollback_swarm(c, Deployment(deploy_env(*GOOD)))
    said = capsys.readouterr().out
    # No --yes: a restore discards every write since, and its own question says so.
    assert "losing every write since new was deployed: inv restore --swarm --dump before-new\n" in said
    assert "drops" not in said


def test_the_mails_settings_are_secrets_on_a_swarm_and_their_files_join_the_stack_when_set(deploy_env):
    plain = Deployment(deploy_env(*GOOD))
    assert not [path for path in swarm_files(plain) if "email" in path or "anymail" in path]
    mail = ("EMAIL_URL=smtp+tls://site:pw-84kq@smtp.example.com:587", "ANYMAIL=POSTMARK_SERVER_TOKEN=tok-9c2")
    deployment = Deployment(deploy_env(*GOOD, *mail))
    assert {"EMAIL_URL_SECRET_NAME", "ANYMAIL_SECRET_NAME"} <= set(secret_names(deployment))
    files = swarm_files(deployment)
    assert {"compose/compose.swarm-email-url.yaml", "compose/compose.swarm-anymail.yaml"} <= set(files)
