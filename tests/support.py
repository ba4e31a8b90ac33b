"""Helpers for every test of the repository: the Django tests' and the stack's."""

import os
import re
import secrets
import socket


def free_port() -> int:
    """A loopback port nothing listens on now. In a parallel run (pytest-xdist), each worker
    takes ports of its own (port modulo the workers' count), so that two never pick the same
    one between choosing it and a stack's publishing it. Drawn here, not by bind(0): Linux gives
    bind(0) odd ports only."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    while True:
        port = (20_000 // workers + secrets.randbelow(40_000 // workers)) * workers + worker
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def first_group(pattern: str, text: str) -> str:
    """The first group of PATTERN's first match in TEXT; the test fails showing TEXT when none matches."""
    match = re.search(pattern, text)
    assert match, f"nothing matches {pattern!r} in:\n{text[:2000]}"
    return match.group(1)
