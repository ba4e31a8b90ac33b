"""The reference site: this project with the example removed and a small app of known content
added, as a user adds an app of their own. The stack tests prove the platform on it and the
bench measures it, so that what they show is the platform's, whatever the project's own apps are.

The app is tests/site/journal: a list of entries, each with a title and an optional upload, which
only logged-in users add. It is copied in, never imported."""

import shutil
import subprocess
from pathlib import Path

from invoke import Exit

from workspace.compose import ROOT
from workspace.example import EXAMPLE, remove_example

APP = "journal"
SOURCE = ROOT / "tests" / "site" / APP


def make_reference_site(target: Path) -> Path:
    """The reference site in TARGET, an empty or new folder: the project's files as a fresh clone
    has them, the example removed if it is there, the app added: its folder in
    services/app, its line in LOCAL_APPS, its route at "/"."""
    copy_project(target)
    app = target / "services" / "app"
    if (app / EXAMPLE).is_dir():
        remove_example(target)
    shutil.copytree(SOURCE, app / APP, ignore=shutil.ignore_patterns("__pycache__"))
    for name, start, line in (
        ("settings.py", "LOCAL_APPS = [\n", f'    "{APP}",\n'),
        ("urls.py", "urlpatterns = [\n", f'    path("", include("{APP}.urls")),\n'),
    ):
        path = app / "config" / name
        text = path.read_text()
        if start not in text:
            raise Exit(f"{path} has no line {start.strip()!r}: the reference site cannot add {APP} to it.", 1)
        path.write_text(text.replace(start, start + line, 1))
    return target


def copy_project(target: Path) -> None:
    """The project's files into TARGET, as a fresh clone has them: tracked and new, nothing git
    ignores (no .env, no data)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise Exit(
            f"git could not list the project's files ({detail.strip()[:200]}): run this in a git checkout.", 1
        ) from None
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).symlink_to(source.readlink())
        elif source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
