"""The example app (services/app/todos, a todo list with attachments) and its removal: the
folder, its line in LOCAL_APPS and its route, nothing else. The platform (ops) needs none of it."""

import shutil
from pathlib import Path

# The standard library only: a new project's setup (.copier/setup.py) runs this with Copier's Python.
ROOT = Path(__file__).resolve().parent.parent

EXAMPLE = "todos"
# The example's lines in the project's settings and URLs, each block removed whole.
LINES = {
    "services/app/config/settings.py": (
        '    # The example: a todo list with attachments (docs/developing.md says how to remove it).\n    "todos",\n'
    ),
    "services/app/config/urls.py": (
        '    # The example (docs/developing.md says how to remove it).\n    path("", include("todos.urls")),\n'
    ),
}


class ExampleError(Exception):
    """The example is not there, or not as written: the message says what to do."""


def remove_example(root: Path = ROOT) -> list[str]:
    """Removes the example from the project at ROOT; returns what it changed. Changes nothing,
    and says what to do by hand, when a file no longer holds the example's lines as written."""
    folder = root / "services" / "app" / EXAMPLE
    if not folder.is_dir():
        raise ExampleError(f"There is no example to remove: {folder.relative_to(root)}/ does not exist.")
    texts = {name: (root / name).read_text() for name in LINES}
    for name, lines in LINES.items():
        if lines not in texts[name]:
            raise ExampleError(f"{name} has changed: remove the example's lines from it by hand ({lines.strip()!r}).")
    for name, lines in LINES.items():
        (root / name).write_text(texts[name].replace(lines, ""))
    shutil.rmtree(folder)
    return [f"deleted {folder.relative_to(root)}/", *(f"removed {EXAMPLE!r} from {name}" for name in LINES)]
