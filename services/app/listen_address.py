"""Prints uWSGI's options for the proxy over TCP (app replicas): a `--socket ADDRESS:9000` for each
IPv4 address of this container, but loopback and its address in the database's network. uWSGI
obeys any client that can connect (UWSGI_FILE and its like load code): the database's network must
not be one.

The database's network is the one whose subnet holds the database's address (DATABASE_URL's
host). A database elsewhere, reached through a gateway, has no network here: then every address.
Docker's DNS cannot say which address is in the proxy's network instead: a swarm answers for a
service's name only once its task is healthy, and uWSGI must listen before that.
"""

import fcntl
import ipaddress
import os
import socket
import struct
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

PORT = 9000
# Linux's ioctl requests for an interface's IPv4 address and netmask.
SIOCGIFADDR, SIOCGIFNETMASK = 0x8915, 0x891B


def interfaces() -> Iterator[tuple[str, ipaddress.IPv4Network]]:
    """(address, network) of each interface with an IPv4 address, loopback left out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode())
            try:
                address = socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)[20:24])
                mask = socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFNETMASK, request)[20:24])
            except OSError:
                continue  # no IPv4 address
            network = ipaddress.IPv4Network(f"{address}/{mask}", strict=False)
            if not network.is_loopback:
                yield address, network


def database_addresses() -> set[ipaddress.IPv4Address]:
    host = urlsplit(os.environ.get("DATABASE_URL", "")).hostname
    if not host:
        return set()
    try:
        return {ipaddress.IPv4Address(info[4][0]) for info in socket.getaddrinfo(host, PORT, socket.AF_INET)}
    except socket.gaierror:
        return set()


def main() -> int:
    database = database_addresses()
    listen = [address for address, network in interfaces() if not any(db in network for db in database)]
    if not listen:
        sys.stderr.write("Configuration error: this container has no address outside the database's network.\n")
        return 1
    sys.stdout.write(" ".join(f"--socket {address}:{PORT}" for address in listen) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
