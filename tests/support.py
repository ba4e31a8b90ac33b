"""Helpers for every test of the repository: the Django tests' and the stack's."""

import re
import socket


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_group(pattern: str, text: str) -> str:
    """The first group of PATTERN's first match in TEXT; the test fails showing TEXT when none matches."""
    match = re.search(pattern, text)
    assert match, f"nothing matches {pattern!r} in:\n{text[:2000]}"
    return match.group(1)
