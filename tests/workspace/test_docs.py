"""The README and docs/ say only what exists: every `inv` command they show names a task with
options it has (invoke itself says which: `--list`, `--help TASK`), every relative link leads to a
file and, with an anchor, to one of its headings, and the settings page names every variable of
the example env files. No Docker engine needed."""

import functools
import json
import re
import shlex
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`(inv [^`]+)`")
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
ENV_NAME = re.compile(r"^#?\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
# Between two commands of one shell line.
SEPARATORS = {"&&", "||", ";", "|", "&"}
# invoke's own options a page may show before a task: `inv --list`, `inv --help TASK`.
CORE_OPTIONS = {"--list", "-l", "--help", "-h"}


def invoke(*args: str) -> str:
    """invoke's answer from the repository root, as `inv ARGS` prints it."""
    answer = subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert answer.returncode == 0, f"inv {' '.join(args)} failed:\n{answer.stdout}{answer.stderr}"
    return answer.stdout


@functools.cache
def tasks() -> frozenset[str]:
    """Every task's name and alias, as `inv --list` knows them (dotted in a sub-collection)."""

    def names(collection: dict, prefix: str = "") -> set[str]:
        found = {prefix + name for task in collection["tasks"] for name in (task["name"], *task["aliases"])}
        for child in collection["collections"]:
            found |= names(child, f"{prefix}{child['name']}.")
        return found

    return frozenset(names(json.loads(invoke("--list", "--list-format=json"))))


@functools.cache
def options(task: str) -> frozenset[str]:
    """A task's options, short and long, as `inv --help TASK` lists them."""
    listed = invoke("--help", task).partition("Options:")[2]
    found = {"--help"}
    for line in listed.splitlines():
        # "  -e STRING, --env-file=STRING   the deployment's settings": the part before the help.
        flags = line.strip().split("  ")[0]
        found |= set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", flags)) if flags.startswith("-") else set()
    return frozenset(found)


def shell_words(line: str) -> list[str]:
    """A line as the shell splits it, comments dropped and operators apart."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: a line of prose, or of another language
        return line.split()


def inv_commands(words: list[str]) -> list[list[str]]:
    """The `inv` commands among WORDS, each as its words after `inv`, up to the end of its command
    and without the words after `--` (those go to the command the task wraps)."""
    commands: list[list[str]] = []
    command: list[str] | None = None
    for word in [*words, ";"]:
        if word in SEPARATORS:
            if command is not None:
                commands.append(command)
            command = None
        elif command is None:
            command = [] if word in ("inv", "invoke") else None
        else:
            command.append(word)
    return [command[: command.index("--")] if "--" in command else command for command in commands]


def shown_commands(page: Path) -> list[tuple[str, list[str]]]:
    """(the line, its words after `inv`) of every `inv` command in PAGE's code: its fenced blocks,
    and inline code that starts with `inv `, where `[...]` marks what is optional."""
    text = page.read_text()
    lines = [line for block in FENCED.findall(text) for line in block.splitlines()]
    lines += [span.replace("[", " ").replace("]", " ") for span in INLINE.findall(FENCED.sub("", text))]
    return [(line, command) for line in lines for command in inv_commands(shell_words(line))]


def wrong_in(command: list[str]) -> str:
    """What is wrong with `inv COMMAND`, or ""."""
    words = [word.partition("=")[0] if word.startswith("--") else word for word in command]
    if not words:
        return "no task"
    if words[0].startswith("-"):
        if words[0] not in CORE_OPTIONS:
            return f"{words[0]} is none of invoke's own options shown here ({', '.join(sorted(CORE_OPTIONS))})"
        # A word in capitals stands for any task: inv --help TASK.
        task = next((word for word in words[1:] if not word.startswith("-")), None)
        return "" if task is None or task.isupper() or task in tasks() else f"no task {task}"
    task, *rest = words
    if task not in tasks():
        return f"no task {task} (inv --list: {', '.join(sorted(tasks()))})"
    unknown = [word for word in rest if word.startswith("-") and word not in options(task)]
    return f"inv {task} has no {', '.join(unknown)} (inv --help {task})" if unknown else ""


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_inv_command_shown_names_a_task_and_its_options(page):
    shown = shown_commands(page)
    wrong = [f"{line.strip()}: {problem}" for line, command in shown if (problem := wrong_in(command))]
    assert not wrong, "\n".join(wrong)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    kept = "".join(char for char in text if char in " -_" or unicodedata.category(char)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor in PAGE, a repeated one numbered as GitHub numbers it."""
    found: set[str] = set()
    for heading in HEADING.findall(FENCED.sub("", page.read_text())):
        anchor, number = slug(heading), 0
        while (anchor if not number else f"{anchor}-{number}") in found:
            number += 1
        found.add(anchor if not number else f"{anchor}-{number}")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page):
    broken = []
    for target in LINK.findall(CODE.sub("", FENCED.sub("", page.read_text()))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not this repository's
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no {path}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("example", [".env.example", ".env.deploy.example"])
def test_the_settings_page_names_every_variable_of_the_example_env_files(example):
    variables = set(ENV_NAME.findall((ROOT / example).read_text()))
    named = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", (ROOT / "docs" / "settings.md").read_text()))
    assert variables, f"no variable found in {example}"
    assert not variables - named, f"docs/settings.md does not name {sorted(variables - named)} of {example}"


def test_the_quick_start_is_one_line_the_first_code_block_under_its_heading():
    section = (ROOT / "README.md").read_text().partition("\n## Quick start\n")[2].partition("\n## ")[0]
    blocks = FENCED.findall(section)
    assert blocks, "README.md: no code block under ## Quick start"
    assert len(blocks[0].strip().splitlines()) == 1, blocks[0]
    assert blocks[0].strip().endswith("inv up"), blocks[0]


def test_the_command_check_reads_what_a_page_shows():
    """The reading above, on lines like the pages': comments, operators, words after `--`."""
    assert inv_commands(shell_words('inv manage shell -- -c "print(1)"  # a comment')) == [["manage", "shell"]]
    assert inv_commands(shell_words(". .venv/bin/activate && pip install x && inv up")) == [["up"]]
    assert inv_commands(shell_words("UWSGI_THREADS=2 inv bench --parts serving")) == [["bench", "--parts", "serving"]]
    assert inv_commands(shell_words("devcontainer exec --workspace-folder . inv test")) == [["test"]]
    assert inv_commands(shell_words("docker compose ps  # not inv up")) == []
    assert slug("What happens when…") == "what-happens-when"
    assert slug("HTTPS: Caddy in front") == "https-caddy-in-front"
    assert slug("Uploads in a bucket, served by nginx") == "uploads-in-a-bucket-served-by-nginx"
