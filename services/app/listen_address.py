"""Prints this container's address in one of its networks: the one where NAME, an alias the
container has in that network alone, leads (compose.yaml gives the app `uwsgi` in the proxy's
network). start.sh makes uWSGI listen there, and not on the container's other addresses.

NAME leads to every container that has it (the replicas of the app): the address that is this
container's own is the one it can bind. Docker's DNS may answer a second after the start, so it
is asked for a while; then a clear line, and exit status 1.
"""

# ruff: noqa: INP001 - a script start.sh runs by its path, not a module of a package

import socket
import sys
import time

WAIT = 30


def own_address(name: str) -> str | None:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)}
    except socket.gaierror:
        return None
    for address in sorted(addresses):
        with socket.socket() as probe:
            try:
                probe.bind((address, 0))
            except OSError:
                continue  # another container's
            return address
    return None


def main(name: str) -> int:
    deadline = time.monotonic() + WAIT
    while (address := own_address(name)) is None:
        if time.monotonic() > deadline:
            sys.stderr.write(f"Configuration error: no address of this container is named {name} (compose.yaml).\n")
            return 1
        time.sleep(0.5)
    sys.stdout.write(f"{address}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
