"""`inv remove-example`: the project without the example names no todo, and Django's checks pass."""

import os
import shutil
import subprocess
import sys

import pytest

from workspace.compose import ROOT
from workspace.example import ExampleError, remove_example
from workspace.reference_site import make_reference_site

IGNORED = shutil.ignore_patterns("__pycache__", "var", "media", "staticfiles", ".env")


@pytest.fixture
def project(tmp_path):
    """The project's services/ and compose/ folders, as a clone has them."""
    for folder in ("services", "compose"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=IGNORED)
    return tmp_path


def manage(root, *args: str) -> subprocess.CompletedProcess:
    """manage.py ARGS in the project at ROOT, with its own settings, DEBUG on (no secrets needed)."""
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "config.settings"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root / "services" / "app",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def mentions_of_todo(root) -> list[str]:
    """What `grep -ril todo services/ compose/` lists, file names too."""
    paths = [path for folder in ("services", "compose") for path in (root / folder).rglob("*") if path.is_file()]
    return [str(p.relative_to(root)) for p in paths if "todo" in p.name.lower() or b"todo" in p.read_bytes().lower()]


needs_the_example = pytest.mark.skipif(
    not (ROOT / "services" / "app" / "todos").is_dir(), reason="the project's example is removed already"
)


@needs_the_example
def test_without_the_example_no_file_of_services_or_compose_names_a_todo_and_django_checks_pass(project):
    assert mentions_of_todo(project), "the example is there to remove"
    changes = remove_example(project)
    assert changes[0] == "deleted services/app/todos/"
    assert mentions_of_todo(project) == []
    checked = manage(project, "check", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stderr
    # No migration is missing: the project's models are the platform's alone.
    made = manage(project, "makemigrations", "--check", "--dry-run")
    assert made.returncode == 0, made.stdout + made.stderr


@needs_the_example
def test_a_second_removal_says_there_is_none_and_a_changed_file_stops_it_before_any_change(project):
    settings = project / "services" / "app" / "config" / "settings.py"
    settings.write_text(settings.read_text().replace('    "todos",\n', '    "todos",  # mine\n'))
    before = {path: path.read_bytes() for path in project.rglob("*") if path.is_file()}
    with pytest.raises(ExampleError) as refused:
        remove_example(project)
    assert str(refused.value).startswith("services/app/config/settings.py has changed: remove the example")
    assert {path: path.read_bytes() for path in project.rglob("*") if path.is_file()} == before
    settings.write_text(settings.read_text().replace('    "todos",  # mine\n', '    "todos",\n'))
    remove_example(project)
    with pytest.raises(ExampleError) as again:
        remove_example(project)
    assert str(again.value) == "There is no example to remove: services/app/todos/ does not exist."


def test_the_reference_site_is_the_project_as_cloned_without_the_example_with_its_app_at_the_root(tmp_path):
    site = make_reference_site(tmp_path / "site")
    app = site / "services" / "app"
    assert not (app / "todos").exists()
    assert (app / "journal" / "models.py").is_file()
    assert not (site / ".env").exists(), "nothing git ignores"
    routes = (
        "from django.urls import resolve; "
        "print(*(resolve(path).url_name for path in ('/', '/contact/', '/webhook/', '/healthz')))"
    )
    answer = manage(site, "shell", "--verbosity", "0", "-c", routes)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["entries", "contact", "webhook", "healthz"]
