"""Run by Copier in a project it has just written (copier.yml's task): gives the project its
name, takes the example out unless kept, puts the project's own README in place, and removes
itself. It runs again on each `copier update`, on each version the update compares.

The standard library only: it runs with Copier's Python."""

import importlib
import shutil
import sys
from pathlib import Path

# The workspace's own name, as the template's files hold it.
NAME = "Django Compose Workspace"
SLUG = "django-compose-workspace"
SKIPPED = {".git", ".venv", "node_modules", ".copier"}
# Copier's record names the template's source, which may hold the workspace's own name.
ANSWERS = ".copier-answers.yml"


def text_files(root: Path):
    for path in root.rglob("*"):
        parts = path.relative_to(root).parts
        if path.is_file() and not path.is_symlink() and not SKIPPED & set(parts) and parts != (ANSWERS,):
            try:
                yield path, path.read_text()
            except UnicodeDecodeError:
                continue


def main(name: str, slug: str, example_app: str) -> None:
    root = Path.cwd()
    if (name, slug) != (NAME, SLUG):
        for path, text in text_files(root):
            if NAME in text or SLUG in text:
                path.write_text(text.replace(NAME, name).replace(SLUG, slug))
    if example_app.lower() != "true":
        # The project's own removal (inv remove-example), from the files just written.
        sys.path.insert(0, str(root))
        importlib.import_module("workspace.example").remove_example(root)
    (root / ".copier" / "README.md").replace(root / "README.md")
    shutil.rmtree(root / ".copier")


if __name__ == "__main__":
    main(*sys.argv[1:4])
