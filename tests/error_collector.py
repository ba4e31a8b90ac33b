"""A stand-in for Sentry: takes a site's error reports at its envelope endpoint, as a Sentry server
does (SENTRY_DSN=http://KEY@HOST:9000/1), and prints each one's envelope, unpacked, as one JSON
string a line, so that the container's log holds every report it got. Run with the project's
Python image: `python -c "<this file>"`."""

import gzip
import json
import sys
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Collector(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding:
            self.send_error(415, f"cannot read {encoding}")
            return
        self.received(body.decode())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def received(self, envelope: str) -> None:
        print(json.dumps(envelope), flush=True)  # noqa: T201 - the container's log is its record


if __name__ == "__main__":
    server = ThreadingHTTPServer(("", 9000), Collector)
    # On stderr, apart from the envelopes: a test waits for it before it sends a report.
    print("collector listening", file=sys.stderr, flush=True)  # noqa: T201
    server.serve_forever()
