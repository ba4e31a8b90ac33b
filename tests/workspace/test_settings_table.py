"""The one table of deployment settings (workspace/settings.py) against what names settings
elsewhere: the example env file, the compose files, the docs."""

import re

from workspace.compose import ROOT
from workspace.settings import BY_NAME, SECRETS, interpolated, markdown

# Set by the tasks themselves, never by a user: the image tags of a deploy, the release's name,
# the names of its secrets, the bench's template.
SET_BY_TASKS = {
    "IMAGE_TAG",
    "PROXY_TAG",
    "FRONT_TAG",
    "RELEASE",
    "BENCH_PROXY_TEMPLATE",
    *(f"{setting.name}_SECRET_NAME" for setting in SECRETS),
}
DEPLOY_COMPOSE = (
    "compose.yaml",
    "compose.deploy.yaml",
    "compose.https.yaml",
    "compose.swarm.yaml",
    "compose.swarm-s3.yaml",
    "compose.swarm-backup-s3.yaml",
    "compose.swarm-email-url.yaml",
    "compose.swarm-anymail.yaml",
    "compose.backup.yaml",
    "compose.backup-s3.yaml",
)


def named_in_example() -> set[str]:
    text = (ROOT / ".env.deploy.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def compose_reads(name: str) -> set[str]:
    return interpolated((ROOT / "compose" / name).read_text())


def test_every_setting_of_the_example_is_in_the_table():
    assert named_in_example() - set(BY_NAME) == set()


def test_every_variable_the_deployments_compose_files_read_is_in_the_table_or_set_by_the_tasks():
    read = set().union(*(compose_reads(name) for name in DEPLOY_COMPOSE))
    assert read - set(BY_NAME) - SET_BY_TASKS == set()


def test_every_secret_of_the_table_has_its_docker_secret_in_the_swarm_files():
    files = (
        "compose.swarm.yaml",
        "compose.swarm-s3.yaml",
        "compose.swarm-backup-s3.yaml",
        "compose.swarm-email-url.yaml",
        "compose.swarm-anymail.yaml",
    )
    swarm = set().union(*(compose_reads(name) for name in files))
    expected = {f"{setting.name}_SECRET_NAME" for setting in SECRETS}
    assert expected == {name for name in swarm if name.endswith("_SECRET_NAME")}


def test_the_settings_page_shows_the_table_as_it_is():
    assert markdown() in (ROOT / "docs" / "settings.md").read_text()
