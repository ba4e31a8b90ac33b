"""Requests as a site's users send them while a deploy, an update or a failure goes on: readers
and logged-in writers, each answer recorded with its times (the release and swarm tests)."""

import itertools
import threading
import time
import uuid

import requests

from tests.stack.support import BEHIND_TLS
from tests.support import first_group

REQUEST_TIMEOUT = 10


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, headers=BEHIND_TLS, timeout=REQUEST_TIMEOUT, **kwargs)


class Browser:
    """A user's requests through the front: HTTPS as far as Django knows, plain http to the node
    here, so the cookies (Secure) are sent by hand."""

    def __init__(self):
        self.cookies = {}

    def send(self, method: str, url: str, path: str, **kwargs) -> requests.Response:
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        headers = {**BEHIND_TLS, "Cookie": cookie, "Referer": url.replace("http:", "https:") + path}
        response = requests.request(
            method, url + path, headers=headers, allow_redirects=False, timeout=REQUEST_TIMEOUT, **kwargs
        )
        self.cookies.update(response.cookies.get_dict())
        return response

    def form_token(self, url: str, path: str) -> str:
        page = self.send("GET", url, path)
        return first_group(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)

    def log_in(self, url: str, username: str, password: str) -> None:
        form = {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": self.form_token(url, "/admin/login/"),
        }
        assert self.send("POST", url, "/admin/login/", data=form).status_code == 302, "the login failed"


class Traffic(threading.Thread):
    """Sends requests to the given nodes in turn, one after the other, until stopped, and records
    each answer: (status or error name, started, finished). Pages (the admin's login page), or
    with a logged-in browser, writes (entries added through the test app's form)."""

    def __init__(self, urls: list[str], writer: Browser | None = None, then: str = ""):
        super().__init__(daemon=True)
        # then="note": each write also enqueues a task that stores "TITLE: noted" (the test app's).
        self.urls, self.writer, self.then = urls, writer, then
        self.answers: list[tuple[int | str, float, float]] = []
        self.written: list[str] = []  # titles of the writes answered with the redirect
        self.written_at: list[float] = []  # and when each answer came (time.time())
        self.stopping = threading.Event()
        self.token = writer.form_token(urls[0], "/") if writer else ""

    def request(self, session: requests.Session, url: str, n: int) -> int | str:
        if not self.writer:
            return session.get(url + "/admin/login/", headers=BEHIND_TLS, timeout=REQUEST_TIMEOUT).status_code
        title = f"write {uuid.uuid4().hex[:8]} {n}"
        form = {"title": title, "csrfmiddlewaretoken": self.token, "then": self.then}
        response = self.writer.send("POST", url, "/", data=form)
        if response.status_code == 302:
            self.written.append(title)
            self.written_at.append(time.time())
        return response.status_code

    def run(self):
        session = requests.Session()
        for n, url in zip(itertools.count(), itertools.cycle(self.urls), strict=False):
            if self.stopping.is_set():
                return
            started = time.monotonic()
            try:
                answer = self.request(session, url, n)
            except requests.RequestException as error:
                answer = type(error).__name__
            self.answers.append((answer, started, time.monotonic()))
            # Steady traffic, not a load test (the bench measures load): a client sends several
            # requests a second, so a gap of a few tenths of a second fails one of them.
            time.sleep(0.1)

    def stop(self):
        self.stopping.set()
        self.join(timeout=REQUEST_TIMEOUT + 5)

    def longest_failure(self, ok) -> float:
        """Seconds from the start of the first to the end of the last of consecutive failed answers."""
        longest, first = 0.0, None
        for answer, started, finished in self.answers:
            if answer == ok:
                first = None
                continue
            first = started if first is None else first
            longest = max(longest, finished - first)
        return longest
