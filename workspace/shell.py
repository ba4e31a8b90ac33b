"""How a task runs a command, written once: echoed first, and stopped with one line and a hint
when it fails; and how it talks to the user (progress lines, questions, short paths)."""

import shlex
import sys
from pathlib import Path

from invoke import Exit
from invoke.exceptions import CommandTimedOut

ROOT = Path(__file__).resolve().parents[1]
TTY = sys.stdin.isatty()


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(c, command: str, hint: str | None = None, *, check: bool = True, **kwargs):
    """Echo COMMAND, run it, and stop with `hint` (if given) when it fails; with check=False,
    return the failed result instead."""
    kwargs.setdefault("pty", TTY)
    kwargs.setdefault("echo", True)
    hint = f"\nHint: {hint}" if hint else ""
    try:
        result = c.run(command, warn=True, **kwargs)
    except CommandTimedOut as timed_out:
        raise Exit(f"Timed out after {timed_out.timeout}s: {command}{hint}", 1) from None
    if result.failed and check:
        raise Exit(f"Failed (exit {result.exited}): {command}{hint}", 1)
    return result


def confirm(question: str, refused: str) -> None:
    """Ask QUESTION; anything but 'yes' (or no terminal to ask on) stops with REFUSED."""
    answer = input(f"{question} Type 'yes': ") if TTY else ""
    if answer.strip() != "yes":
        raise Exit(refused, 1)


def short_path(path: Path) -> str:
    """A path as short as it can be said: relative to the repository when it is inside."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def typed_words(*parts: str) -> str:
    """Words for a wrapped command: the given ones, then those typed after `--`, quoted as typed."""
    # invoke's own `c.remainder` joins them with spaces, which loses the quoting of `-c "a b"`.
    typed = shlex.join(sys.argv[sys.argv.index("--") + 1 :]) if "--" in sys.argv else ""
    return " ".join(part for part in (*parts, typed) if part)
