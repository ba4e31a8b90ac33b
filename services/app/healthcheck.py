"""Container healthcheck: GET /healthz from uWSGI over the uwsgi protocol.

uWSGI only listens for nginx's uwsgi protocol, so this speaks it directly
(standard library only) rather than opening an extra HTTP port.
Exit status 0 when the app answers 200, 1 otherwise.
"""

import os
import socket
import struct
import sys

ADDRESS = ("127.0.0.1", 9000)
PATH = "/healthz"
TIMEOUT = 5


def host_header():
    """A host the app accepts: the first plain entry of ALLOWED_HOSTS."""
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = entry.strip()
        if host and host != "*":
            # ".example.com" allows any subdomain.
            return "www" + host if host.startswith(".") else host
    return "localhost"


def uwsgi_request(variables):
    """A uwsgi packet: 4-byte header, then length-prefixed keys and values."""
    body = b""
    for key, value in variables.items():
        for item in (key.encode(), value.encode()):
            body += struct.pack("<H", len(item)) + item
    return struct.pack("<BHB", 0, len(body), 0) + body


def main():
    host = host_header()
    packet = uwsgi_request(
        {
            "REQUEST_METHOD": "GET",
            "REQUEST_URI": PATH,
            "PATH_INFO": PATH,
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": host,
            "SERVER_PORT": str(ADDRESS[1]),
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": host,
            "HTTP_USER_AGENT": "healthcheck",
        }
    )
    try:
        with socket.create_connection(ADDRESS, timeout=TIMEOUT) as conn:
            conn.sendall(packet)
            response = b""
            while b"\r\n" not in response:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                response += chunk
    except OSError as error:
        print(f"unhealthy: {error}")
        return 1
    status_line = response.split(b"\r\n", 1)[0].decode("latin-1")
    print(status_line or "unhealthy: empty response")
    return 0 if status_line.split(" ")[1:2] == ["200"] else 1


if __name__ == "__main__":
    sys.exit(main())
