"""Error reports (ops.reports, SENTRY_DSN): sent by the real SDK to a collector in this process,
with the release, the environment and the request's id; a DSN that is none stops start-up with
one line."""

import json
import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer

import pytest

from ops import logs, reports
from tests.app.test_settings import APP, start
from tests.error_collector import Collector

REQUEST_ID = "0123456789abcdef0123456789abcdef"

# Run by the project's settings with SENTRY_DSN set: an error logged while a request is served,
# then sent before the interpreter ends.
LOG_AN_ERROR = f"""
import logging, sentry_sdk
from ops import logs
logs.current.set({{"request_id": "{REQUEST_ID}", "method": "POST", "path": "/pay/"}})
try:
    raise RuntimeError("the payment failed")
except RuntimeError:
    logging.getLogger("shop").exception("could not pay")
sentry_sdk.flush()
"""


@pytest.fixture
def collector():
    """A collector on a loopback port: its DSN, and the envelopes it got."""
    envelopes: list[str] = []

    class Kept(Collector):
        def received(self, envelope: str) -> None:
            envelopes.append(envelope)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Kept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1", envelopes
    server.shutdown()


def test_an_error_logged_in_a_request_is_reported_with_the_release_environment_and_request_id(collector):
    dsn, envelopes = collector
    # The project's own settings (manage.py's default), deployed: DEBUG off.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DEBUG="false", SECRET_KEY="s" * 50, ALLOWED_HOSTS="example.com", SENTRY_DSN=dsn)
    env.update(RELEASE="a1b2c3d", SENTRY_ENVIRONMENT="staging")
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", LOG_AN_ERROR],
        cwd=APP,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Each envelope: its header, then an item's header and payload, a line each.
    events = [json.loads(envelope.splitlines()[2]) for envelope in envelopes if '"type":"event"' in envelope]
    assert len(events) == 1, envelopes
    event = events[0]
    assert (event["release"], event["environment"]) == ("a1b2c3d", "staging")
    assert event["tags"]["request_id"] == REQUEST_ID
    assert event["exception"]["values"][-1]["value"] == "the payment failed"
    assert event["logentry"]["message"] == "could not pay"


def test_a_report_outside_a_request_has_no_request_id():
    assert reports.with_request_id({"message": "x"}, {}) == {"message": "x"}


def test_a_report_in_a_request_is_tagged_with_its_id():
    token = logs.current.set({"request_id": REQUEST_ID, "method": "GET", "path": "/"})
    try:
        event = reports.with_request_id({"tags": {"a": "b"}}, {})
    finally:
        logs.current.reset(token)
    assert event["tags"] == {"a": "b", "request_id": REQUEST_ID}


def test_a_dsn_that_is_none_stops_start_up_with_one_line():
    result = start(SECRET_KEY="s" * 50, ALLOWED_HOSTS="example.com", SENTRY_DSN="https://sentry.example.com/1")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Configuration error: SENTRY_DSN is not a DSN (Missing public key): it looks like https://KEY@HOST/PROJECT."
    )
