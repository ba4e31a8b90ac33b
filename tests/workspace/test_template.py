"""The workspace as a Copier template (copier.yml): the defaults render the workspace itself, a
project of its own gets its name and no example, and `copier update` takes a later version of the
workspace while keeping the project's own changes."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from copier import run_copy, run_update

from tests.workspace.test_example import manage, mentions_of_todo
from workspace.compose import ROOT

# What only the template has, and what only a project made from it has.
TEMPLATE_ONLY = {"copier.yml", ".copier-answers.yml.jinja", "tests/workspace/test_template.py"}
PROJECT_ONLY = {".copier-answers.yml"}


def git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    done = subprocess.run(["git", *args], cwd=folder, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def files(folder: Path) -> set[str]:
    """The paths a template or project holds, as git sees them (what is not ignored)."""
    listed = git(folder, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    # A link counts, whether or not its target exists (compose/.env, to a .env not yet made).
    return {name for name in listed.split("\0") if name and os.path.lexists(folder / name)}


def copy(destination: Path, source: Path = ROOT, **answers) -> Path:
    """A project from the template at SOURCE: the workspace as it is here, changes not yet
    committed included (Copier's HEAD), else the template's latest tag."""
    ref = "HEAD" if source == ROOT else None
    run_copy(str(source), destination, data=answers, vcs_ref=ref, defaults=True, unsafe=True, quiet=True)
    return destination


def test_the_defaults_render_the_workspace_itself_but_its_readme(tmp_path):
    project = copy(tmp_path / "project")
    git(project, "init", "--quiet")
    expected = {name for name in files(ROOT) if not name.startswith(".copier/")} - TEMPLATE_ONLY
    assert files(project) == expected | PROJECT_ONLY
    links = {name for name in expected if (ROOT / name).is_symlink()}
    assert links == {"compose/.env"}
    assert all((project / name).readlink() == (ROOT / name).readlink() for name in links)
    differ = [name for name in expected - links if (project / name).read_bytes() != (ROOT / name).read_bytes()]
    assert differ == ["README.md"]
    assert (project / "README.md").read_text().startswith("# Django Compose Workspace\n")


def test_a_project_of_its_own_has_its_name_everywhere_and_without_the_example_no_todo(tmp_path):
    project = copy(tmp_path / "project", project_name="Acme Shop", example_app=False)
    # The README alone says where the project came from.
    texts = {path: path.read_bytes() for path in project.rglob("*") if path.is_file() and path.name != "README.md"}
    assert not [path for path, text in texts.items() if b"ompose-workspace" in text or b"ompose Workspace" in text]
    assert "name: acme-shop\n" in (project / "compose" / "compose.yaml").read_text()
    assert "COMPOSE_PROJECT_NAME=acme-shop\n" in (project / ".env.example").read_text()
    assert "· Acme Shop</title>" in (project / "services" / "app" / "templates" / "base.html").read_text()
    assert (project / "README.md").read_text().startswith("# Acme Shop\n")
    assert "remove-example" not in (project / "README.md").read_text()
    assert mentions_of_todo(project) == []
    assert not (project / ".copier").exists()
    checked = manage(project, "check", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stderr
    made = manage(project, "makemigrations", "--check", "--dry-run")
    assert made.returncode == 0, made.stdout + made.stderr


@pytest.mark.parametrize("name", ["", " -- "])
def test_a_name_without_a_letter_or_digit_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="Use a letter or a digit"):
        copy(tmp_path / "project", project_name=name)


def test_an_update_applies_the_workspaces_change_and_keeps_the_projects_own(tmp_path):
    # The workspace at two versions, a git repository tagged: the template's own files and those
    # the test changes (Copier takes seconds a hundred files; the defaults' test renders them all).
    template = tmp_path / "workspace"
    kept = ("copier.yml", ".copier", "workspace/", "services/app/config/", "services/app/todos/", "compose/")
    for name in (name for name in files(ROOT) if name.startswith(kept)):
        (template / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, template / name, follow_symlinks=False)
    git(template, "init", "--quiet")
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "--message", "1.0")
    git(template, "tag", "1.0")
    git(template, "gc", "--quiet")  # Copier walks the clone's .git too: packed, it is a few files
    project = copy(tmp_path / "project", template, project_name="Acme Shop", example_app=False)
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "made from the workspace")

    # The project's own change, and the workspace's, in the same file and in another.
    settings = Path("services/app/config/settings.py")
    (project / settings).write_text((project / settings).read_text() + "\nSHOP_CURRENCY = 'EUR'\n")
    git(project, "commit", "--quiet", "--all", "--message", "mine")
    (template / settings).write_text("# The workspace's fix.\n" + (template / settings).read_text())
    (template / "compose" / "compose.yaml").write_text(
        (template / "compose" / "compose.yaml")
        .read_text()
        .replace("name: django-compose-workspace", "name: django-compose-workspace\n# fixed")
    )
    git(template, "commit", "--quiet", "--all", "--message", "1.1")
    git(template, "tag", "1.1")
    git(template, "gc", "--quiet")

    run_update(project, defaults=True, overwrite=True, unsafe=True, quiet=True)

    text = (project / settings).read_text()
    assert text.startswith("# The workspace's fix.\n"), "the workspace's change is applied"
    assert text.endswith("\nSHOP_CURRENCY = 'EUR'\n"), "the project's own change is kept"
    assert '"todos"' not in text
    assert "name: acme-shop\n# fixed\n" in (project / "compose" / "compose.yaml").read_text()
    assert "_commit: '1.1'" in (project / ".copier-answers.yml").read_text()
    assert not (project / "services" / "app" / "todos").exists()
    assert not (project / ".copier").exists()
    assert "<<<<<<<" not in text
