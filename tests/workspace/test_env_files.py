"""Env files read as compose reads them, and the shell wins over them, as in compose."""

import json
import shutil
import subprocess

import pytest

from workspace.compose import Project, read_env

# Lines as people write them: the README's own example, inline comments, export, quotes.
LINES = {
    "DOMAIN=example.com   # also in ALLOWED_HOSTS": ("DOMAIN", "example.com"),
    "export EXPORTED=bar": ("EXPORTED", "bar"),
    'QUOTED="a b" # c': ("QUOTED", "a b"),
    "SINGLE='x y'  # z": ("SINGLE", "x y"),
    'HASH_IN_QUOTES="a#b"': ("HASH_IN_QUOTES", "a#b"),
    "HASH_NO_SPACE=a#b": ("HASH_NO_SPACE", "a#b"),
    "EMPTY=": ("EMPTY", ""),
    "SECRET_KEY=example-secret-key-set-your-own  # TODO": ("SECRET_KEY", "example-secret-key-set-your-own"),
    "MEDIA_STORAGE=s3 # the bucket": ("MEDIA_STORAGE", "s3"),
    "  SPACED = value  ": ("SPACED", "value"),
}


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / "settings.env"
    path.write_text("# a comment\n\n" + "\n".join(LINES) + "\n")
    return path


@pytest.mark.parametrize(("line", "expected"), LINES.items(), ids=[name for name, _ in LINES.values()])
def test_a_line_reads_as_compose_documents_it(env_file, line, expected):
    name, value = expected
    assert read_env(env_file)[name] == value


def test_the_tasks_and_compose_read_every_line_alike(env_file, tmp_path):
    if (
        not shutil.which("docker")
        or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode
    ):
        pytest.skip("no docker compose CLI to compare with")
    names = [name for name, _ in LINES.values()]
    service = {"image": "scratch", "environment": {name: f"${{{name}-unset}}" for name in names}}
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(json.dumps({"services": {"probe": service}}))
    model = subprocess.run(
        ["docker", "compose", "-f", str(compose_file), "--env-file", str(env_file), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    environment = json.loads(model.stdout)["services"]["probe"]["environment"]
    assert {name: environment[name] for name in names} == {name: read_env(env_file)[name] for name in names}


def test_the_shell_wins_over_the_env_file(env_file, monkeypatch):
    monkeypatch.setenv("DOMAIN", "shell.example.com")
    project = Project(env_file=env_file)
    assert project.settings()["DOMAIN"] == "shell.example.com"
    assert project.environment()["DOMAIN"] == "shell.example.com"


def test_a_value_the_caller_gives_wins_over_the_shell(env_file, monkeypatch):
    monkeypatch.setenv("DOMAIN", "shell.example.com")
    assert (
        Project(env_file=env_file, overrides={"DOMAIN": "given.example.com"}).settings()["DOMAIN"]
        == "given.example.com"
    )


def test_the_host_users_ids_are_defaults_only(tmp_path, monkeypatch):
    monkeypatch.delenv("APP_UID", raising=False)
    path = tmp_path / "ids.env"
    path.write_text("APP_UID=4321\n")
    environment = Project(env_file=path).environment()
    # Compose reads the file's own value; the computed one is not passed over it.
    assert "APP_UID" not in environment
    assert "APP_GID" in environment
    assert Project(env_file=path).settings()["APP_UID"] == "4321"
