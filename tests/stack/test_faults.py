"""Faults of the running stack: the database goes away, the app crashes, the stack is stopped.
Checked through the proxy, as a user sees it: clean answers meanwhile, recovery without a manual
step, and nothing acknowledged is lost. A restart of the engine itself happens on a throwaway
host only (tests/stack/fleet/test_remote_deploy.py)."""

import http.client
import itertools
import os
import re
import signal
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.stack.probes import (
    add_entry,
    attachment_url,
    cookie_header,
    form_token,
    inspect,
    logged_in,
    logs,
    stored_titles,
    wait_until_healthy,
)

pytestmark = [pytest.mark.stack, pytest.mark.faults]

# Seconds a client waits for an answer: well past the app's 3s database connect timeout and
# nginx's 5s connect timeout, well short of uWSGI's 30s harakiri.
REQUEST_TIMEOUT = 10
ATTACHMENT = b"kept across restarts \x00\xff" * 500


class Writer(threading.Thread):
    """Adds entries through the / form at a steady rate, logged in, and records every answer."""

    def __init__(self, stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.session = logged_in(stack)
        self.token = form_token(self.session, stack)
        # (title, status or exception name, body, finished at)
        self.answers: list[tuple[str, int | str, str, float]] = []
        self.stopping = threading.Event()

    def run(self):
        for n in itertools.count():
            if self.stopping.is_set():
                return
            title = f"steady write {n}"
            try:
                response = self.session.post(
                    self.stack.url + "/",
                    data={"title": title, "csrfmiddlewaretoken": self.token},
                    headers={"Referer": self.stack.url + "/"},
                    allow_redirects=False,
                    timeout=REQUEST_TIMEOUT,
                )
                answer: tuple[int | str, str] = (response.status_code, response.text)
            except requests.RequestException as error:
                answer = (type(error).__name__, str(error))
            self.answers.append((title, *answer, time.monotonic()))
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join(timeout=REQUEST_TIMEOUT + 5)


def test_db_restart_under_load_answers_503_then_recovers_and_loses_no_acknowledged_write(stack):
    app_before = inspect(stack, "app")["State"]["StartedAt"]
    writer = Writer(stack)
    writer.start()
    try:
        time.sleep(1)
        stack.compose("stop", "db")
        time.sleep(2)  # an outage long enough to be seen, whatever the machine's speed
        stack.compose("start", "db")
        healthy_at = wait_until_healthy(stack, "db")
        deadline = healthy_at + 10
        while time.monotonic() < deadline and not any(a[1] == 302 and a[3] > healthy_at for a in writer.answers):
            time.sleep(0.1)
        time.sleep(1)
    finally:
        writer.stop()

    statuses = [status for _, status, _, _ in writer.answers]
    # 302: the entry was stored (the form redirects to the list); 503: the clean refusal.
    assert set(statuses) <= {302, 503}, f"unexpected answers (or a timeout past {REQUEST_TIMEOUT}s): {statuses}"
    assert 503 in statuses, "no write met the outage: the test proved nothing"
    for _, status, body, _ in writer.answers:
        if status == 503:
            assert "temporarily unavailable" in body, body
            assert "Traceback" not in body, body
    first_ok = min(finished for _, status, _, finished in writer.answers if status == 302 and finished > healthy_at)
    assert first_ok - healthy_at < 5, f"writes succeeded again {first_ok - healthy_at:.1f}s after db was healthy"
    assert inspect(stack, "app")["State"]["StartedAt"] == app_before, "the app was restarted"
    acknowledged = {title for title, status, _, _ in writer.answers if status == 302}
    assert acknowledged <= stored_titles(stack), "a write answered 302 is missing from the database"


def test_app_crash_gets_the_proxy_page_until_the_restart_policy_brings_it_back(stack):
    state = inspect(stack, "app")
    pid = state["State"]["Pid"]
    if not Path(f"/proc/{pid}").exists():
        pytest.skip("the engine runs on another machine: its processes cannot be killed from here")
    # A crash, not a stop: `docker kill` would count as stopped by hand, and the restart policy
    # would leave it stopped.
    try:
        os.kill(pid, signal.SIGKILL)
    except PermissionError:
        pytest.skip("killing the app's process needs root (or the app's uid)")
    deadline = time.monotonic() + 10
    while (response := requests.get(stack.url + "/", timeout=REQUEST_TIMEOUT)).status_code == 200:
        assert time.monotonic() < deadline, "the app still answered 10s after its main process was killed"
        time.sleep(0.02)
    assert response.status_code in {502, 503}
    assert "Temporarily unavailable" in response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert len(response.content) < 2048
    assert "Traceback" not in response.text

    wait_until_healthy(stack, "app")
    assert stack.get("/").status_code == 200
    assert inspect(stack, "app")["RestartCount"] == state["RestartCount"] + 1


def slow_upload(stack, title: str, chunks=10, pause=0.3) -> dict:
    """Starts POSTing the test app's form with a file in a thread, the body in chunks with pauses
    between them, logged in. Returns a dict with the thread, which adds the answer's status and body."""
    session = logged_in(stack)
    token = form_token(session, stack)
    boundary = uuid.uuid4().hex
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (("csrfmiddlewaretoken", token), ("title", title))
    )
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="attachment"; filename="slow.bin"\r\n\r\n'
    tail = f"\r\n--{boundary}--\r\n".encode()
    piece = ATTACHMENT[: len(ATTACHMENT) // chunks]

    def body():
        yield head.encode()
        for _ in range(chunks):
            time.sleep(pause)
            yield piece
        yield tail

    result: dict[str, Any] = {}

    def send():
        connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
        connection.request(
            "POST",
            "/",
            body=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head.encode()) + chunks * len(piece) + len(tail)),
                "Cookie": cookie_header(session),
                "Referer": stack.url + "/",
            },
        )
        response = connection.getresponse()
        result["status"], result["body"] = response.status, response.read().decode()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    result["thread"] = thread
    return result


def finished_at(stack, service) -> datetime:
    """When the service's container exited (the engine gives nanoseconds; Python takes micro)."""
    stamp = inspect(stack, service)["State"]["FinishedAt"]
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", stamp).replace("Z", "+00:00"))


def test_compose_stop_stops_each_service_by_its_signal_and_finishes_the_request_in_flight(stack):
    upload = slow_upload(stack, "uploaded while stopping")
    time.sleep(1)  # the upload is under way
    started = datetime.now(UTC)
    stack.compose("stop")
    upload["thread"].join(timeout=30)
    # Compose stops dependents first: the proxy and the worker side by side, then app, then db.
    ends = {service: finished_at(stack, service) for service in ("proxy", "worker", "app", "db")}
    spans = {
        "proxy": ends["proxy"] - started,
        "worker": ends["worker"] - started,
        "app": ends["app"] - max(ends["proxy"], ends["worker"]),
        "db": ends["db"] - ends["app"],
    }
    took = {service: round(span.total_seconds(), 1) for service, span in spans.items()}
    exits = {service: inspect(stack, service)["State"]["ExitCode"] for service in ends}
    stack.up()

    assert upload.get("status") == 302, f"the upload in flight got {upload.get('status')}: {upload.get('body')}"
    # 137 would be a SIGKILL after the grace period; 0 is a clean exit on the service's own signal.
    assert exits == {"proxy": 0, "worker": 0, "app": 0, "db": 0}
    # The proxy first waits for the rest of the upload (about 2s).
    assert took["proxy"] < 8, took
    assert took["worker"] < 8, took
    assert took["app"] < 5, took
    # PostgreSQL's last checkpoint takes seconds on a busy machine; its grace period is 30 s.
    assert took["db"] < 15, took
    assert "uploaded while stopping" in stack.get("/").text


def test_an_app_still_waiting_for_the_database_stops_at_once(stack):
    stack.compose("stop", "db")
    stack.compose("up", "--detach", "--no-deps", "--force-recreate", "app")
    deadline = time.monotonic() + 30
    while not any(line.startswith("Waiting for the database") for line in logs(stack, "app")):
        assert time.monotonic() < deadline, "the app did not start waiting for the database"
        time.sleep(0.2)
    started = time.monotonic()
    stack.compose("stop", "app")
    took = time.monotonic() - started
    exit_code = inspect(stack, "app")["State"]["ExitCode"]
    stack.up()

    assert took < 5, f"docker compose stop app took {took:.1f}s"
    assert exit_code != 137, "the app was killed after the grace period"


@pytest.fixture(scope="module")
def entry_with_attachment(stack):
    """An entry with a file, added through the / form; returns the file's /media/ URL."""
    response = add_entry(stack, "kept across restarts", files={"attachment": ("kept.bin", ATTACHMENT)})
    assert response.status_code == 302, response.text[:2000]
    return attachment_url(stack, "kept.bin")


def assert_entry_and_file_kept(stack, url):
    assert "kept across restarts" in stack.get("/").text
    assert stack.get(url).content == ATTACHMENT


def test_entries_and_media_survive_down_and_up(stack, entry_with_attachment):
    stack.compose("down", "--timeout", "10")
    stack.up()
    assert_entry_and_file_kept(stack, entry_with_attachment)
