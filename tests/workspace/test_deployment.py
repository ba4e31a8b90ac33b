"""A deployment's settings and checks (workspace/deployment.py, workspace/settings.py), and the
commands of a one-host deploy, without an engine."""

import os

import pytest
from invoke import Exit

from tests.workspace.conftest import GOOD, commands, mock_context
from workspace.deployment import Deployment, deploy_one_host


def refusal(env_file) -> str:
    with pytest.raises(Exit) as refused:
        Deployment(env_file)
    return str(refused.value.message)


def test_a_good_env_file_deploys_to_this_machine(deploy_env):
    deployment = Deployment(deploy_env(*GOOD))
    assert deployment.where == "this machine"
    assert deployment.engine == {}
    assert deployment.url() == "http://127.0.0.1:8000/"


def test_the_readmes_commented_domain_is_read_as_the_domain(deploy_env):
    env_file = deploy_env(
        GOOD[0], "ALLOWED_HOSTS=example.com", *GOOD[2:], "DOMAIN=example.com   # also in ALLOWED_HOSTS"
    )
    deployment = Deployment(env_file)
    assert deployment.domain == "example.com"
    assert deployment.url() == "https://example.com/"
    assert "compose/compose.https.yaml" in deployment.files


def test_the_examples_secret_with_a_comment_is_refused(deploy_env):
    message = refusal(deploy_env("SECRET_KEY=example-secret-key-set-your-own  # TODO", *GOOD[1:]))
    assert "SECRET_KEY is the example's value: set your own" in message
    assert len(message.splitlines()) == 1


def test_a_commented_bucket_setting_is_the_bucket_and_needs_its_keys(deploy_env):
    message = refusal(deploy_env(*GOOD, "MEDIA_STORAGE=s3 # uploads in the bucket"))
    assert "AWS_STORAGE_BUCKET_NAME is not set, and MEDIA_STORAGE=s3 needs it" in message
    bucket = ("AWS_STORAGE_BUCKET_NAME=b", "AWS_S3_REGION_NAME=r", "AWS_ACCESS_KEY_ID=k", "AWS_SECRET_ACCESS_KEY=s")
    assert Deployment(deploy_env(*GOOD, "MEDIA_STORAGE=s3 # uploads in the bucket", *bucket)).media_storage == "s3"


def test_a_misspelt_name_is_named_with_the_nearest_known_one(deploy_env):
    message = refusal(deploy_env(*GOOD, "SECRET_KY=oops"))
    assert message.endswith("SECRET_KY is not a setting: did you mean SECRET_KEY? (see .env.deploy.example).")
    assert len(message.splitlines()) == 1


def test_the_variables_a_sites_own_compose_file_reads_are_settings_too(deploy_env, tmp_path):
    override = tmp_path / "compose.site.yaml"
    override.write_text("services:\n  app:\n    environment:\n      PAYMENTS_URL: ${PAYMENTS_URL:-}\n")
    env_file = deploy_env(*GOOD, "PAYMENTS_URL=https://payments.example.com/v1")
    assert "PAYMENTS_URL is not a setting" in refusal(env_file)
    deployment = Deployment(env_file, extra_files=(str(override),))
    assert deployment.settings["PAYMENTS_URL"] == "https://payments.example.com/v1"
    assert deployment.files[-1] == str(override)


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("DEBUG=true", "DEBUG is on"),
        ("DOMAIN=https://example.com", "is not a host name"),
        ("DOMAIN=other.example.org", "ALLOWED_HOSTS does not include DOMAIN"),
        ("ACME_EMAIL=me@example.com", "ACME_EMAIL: it is set, but DOMAIN is not"),
        ("DOMAIN=example.com:443", "DOMAIN=example.com:443 is not a host name"),
        ("ACME_CA=http://ca.example.com/dir", "ACME_CA: it is set, but DOMAIN is not"),
        ("PROXY_PORT=eighty", "PROXY_PORT: it is 'eighty': a whole number"),
        ("MEDIA_STORAGE=bucket", "MEDIA_STORAGE: it is 'bucket': one of volume, s3"),
    ],
)
def test_a_wrong_value_is_refused_in_one_line_naming_it(deploy_env, line, named):
    message = refusal(deploy_env(*GOOD, line))
    assert named in message
    assert len(message.splitlines()) == 1


def test_a_malformed_acme_email_is_refused_with_a_domain(deploy_env):
    env_file = deploy_env(*GOOD[:1], "ALLOWED_HOSTS=example.com", GOOD[2], "DOMAIN=example.com", "ACME_EMAIL=nobody")
    assert "ACME_EMAIL=nobody is not an email address" in refusal(env_file)


def test_a_missing_secret_is_refused(deploy_env):
    assert "POSTGRES_PASSWORD is not set, and a deployment needs it" in refusal(deploy_env(*GOOD[:2]))


def test_the_shell_wins_and_is_named_before_the_deploy(deploy_env, monkeypatch, capsys, engine):
    monkeypatch.setenv("PROXY_PORT", "8123")
    deployment = Deployment(deploy_env(*GOOD, "PROXY_PORT=8000"))
    deployment.announce()
    assert deployment.settings["PROXY_PORT"] == "8123"
    said = capsys.readouterr().out
    assert said.startswith("==> From the shell, not ")
    assert said.endswith(".env.deploy: PROXY_PORT\n")


def test_another_host_is_this_runs_engine_only(deploy_env, monkeypatch, engine):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    deployment = Deployment(deploy_env(*GOOD), host="ssh://deploy@server")
    assert deployment.project().environment()["DOCKER_HOST"] == "ssh://deploy@server"
    context = Deployment(deploy_env(*GOOD), host="production").project().environment()
    assert context["DOCKER_CONTEXT"] == "production"
    assert "DOCKER_HOST" not in os.environ


def test_a_one_host_deploy_builds_starts_migrates_and_checks_in_that_order(deploy_env, engine):
    c = mock_context()
    deploy_one_host(c, Deployment(deploy_env(*GOOD)))
    ran = [command.split(" --env-file ")[1] for command in commands(c)]
    assert [command.split(" ", 1)[1] for command in ran] == [
        "build",
        "up --detach --wait --remove-orphans",
        "exec -T app python manage.py migrate --noinput",
        "exec -T app python manage.py check --deploy --fail-level WARNING",
    ]
    assert all("-f compose/compose.yaml -f compose/compose.deploy.yaml" in command for command in commands(c))


def test_a_restore_run_again_serves_the_release_it_stopped_not_latest(deploy_env, engine):
    """A restore that failed half-way left the app stopped: no release runs, and the one stopped
    last (the restore stopped it after a failed release's containers stopped) serves again."""
    inspected = (
        "2026-12-06T10:00:00.1Z site-app:failed-release\n"
        "2026-12-06T11:30:00.5Z site-app:serving-release\n"
        "2026-12-06T11:30:00.4Z site-app:serving-release\n"
    )
    c = mock_context({"ps -q --status running app": "", "ps -q --all app": "a b c", "State.FinishedAt": inspected})
    deployment = Deployment(deploy_env(*GOOD))
    assert deployment.serving(c, stopped=True) == "serving-release"
    assert deployment.serving(mock_context({"ps -q --status running app": ""})) == ""
