"""What an attacker gets from the deployment stack (docs/security.md), from the internet or from
inside one container: guessing passwords (each client's tries are limited), exhausting the proxy
with request bodies (they wait on disk, a few per client; where the site asks,
PROXY_WRITES_NEED_LOGIN, a visitor's are refused unread), reaching uWSGI from the database's
container (it listens in the proxy's network only), claiming https (believed from a known front
only). The deploy files, two app replicas over TCP, published on loopback; the front the proxy
knows is at 127.0.0.1, in the proxy's own container (FORWARDED_ALLOW_IPS)."""

import contextlib
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.stack.probes import (
    CONNECTS_TO_UWSGI,
    app_addresses,
    containers,
    cookie_header,
    form_token,
    from_inside,
    logged_in,
)
from tests.stack.support import Stack
from workspace.compose import DEPLOY_FILES

pytestmark = pytest.mark.stack

BODY = 10 * 1024 * 1024  # the stack's CLIENT_MAX_BODY_SIZE
USER, PASSWORD = "honest", "an-honest-users-password"
# Run in an app container: logs in through the proxy as USER, as a browser elsewhere would (its
# own address); prints the answer's status (302: logged in).
LOG_IN = f"""
import http.cookiejar, re, urllib.error, urllib.parse, urllib.request
class Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args): return None
browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), Keep)
def send(data=None):
    request = urllib.request.Request("http://proxy:8080/login/", data=data, headers={{"Host": "localhost"}})
    try:
        return browser.open(request, timeout=30)
    except urllib.error.HTTPError as answer:
        return answer
token = re.search('name="csrfmiddlewaretoken" value="([^"]+)"', send().read().decode()).group(1)
fields = {{"username": "{USER}", "password": "{PASSWORD}", "csrfmiddlewaretoken": token}}
print(send(urllib.parse.urlencode(fields).encode()).status)
"""
# Run in an app container: the status of the test app's list, read through the proxy.
PAGE = """
import urllib.request
request = urllib.request.Request("http://proxy:8080/", headers={"Host": "localhost"})
print(urllib.request.urlopen(request, timeout=10).status)
"""


@pytest.fixture(scope="module")
def stack(built_images, stack_tmp):
    running = Stack(
        stack_tmp,
        files=DEPLOY_FILES,
        HTTPS="false",
        CLIENT_MAX_BODY_SIZE="10m",
        SECURE_HSTS_SECONDS="3600",
        FORWARDED_ALLOW_IPS="127.0.0.1",
    )
    running.env["COMPOSE_PROJECT_NAME"] = running.project
    running.write_env()
    try:
        running.up()
        running.manage("migrate", "--noinput")
        env = {"DJANGO_SUPERUSER_USERNAME": USER, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
        running.manage("createsuperuser", "--noinput", "--email", "honest@example.com", env=env)
        # The test user's session, before this address spends its tries at logging in.
        logged_in(running)
        yield running
    finally:
        running.down()


def through_loopback(stack: Stack, request: str) -> str:
    """Sends a raw HTTP request to the proxy from its own container: from 127.0.0.1, the front the
    stack's FORWARDED_ALLOW_IPS names. Returns the answer's headers and body."""
    script = f'exec 3<>/dev/tcp/127.0.0.1/8080; printf "{request}" >&3; cat <&3'
    return stack.compose("exec", "-T", "proxy", "bash", "-c", script).stdout


def proxy_log(stack: Stack) -> str:
    time.sleep(1.5)  # nginx writes its access log at least once a second
    return stack.compose("logs", "--no-log-prefix", "proxy").stdout


def test_the_31st_guess_in_a_minute_is_refused_and_an_honest_user_elsewhere_logs_in(stack):
    guesser = requests.Session()
    token = form_token(guesser, stack)
    started = time.monotonic()
    answers = []
    for number in range(31):
        # Another name each time: the per-account lockout (django-axes) stays out of this.
        data = {"username": f"guess{number}", "password": "wrong", "csrfmiddlewaretoken": token}
        answers.append(guesser.post(stack.url + "/login/", data=data, allow_redirects=False, timeout=30))
    took = time.monotonic() - started
    assert took < 60, f"31 guesses took {took:.0f}s: the test needs them within a minute"
    statuses = [answer.status_code for answer in answers]
    print(f"31 guesses in {took:.1f}s: {statuses}")
    # 20 at once, then one every 6 s: never 31 in a minute.
    assert statuses[:20] == [200] * 20, statuses
    assert set(statuses) == {200, 429}, statuses
    assert statuses[-1] == 429
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert stack.get("/login/").status_code == 200, "reading the form is not a try"
    assert from_inside(stack, "app", LOG_IN).split() == ["302"], "a user at another address logs in"


@contextlib.contextmanager
def proxy_setting(stack: Stack, **settings: str):
    """The proxy started again with these settings, and as it was afterwards."""
    saved = dict(stack.env)
    stack.env.update(settings)
    stack.write_env()
    try:
        stack.up("proxy")
        yield
    finally:
        stack.env = saved
        stack.write_env()
        stack.up("proxy")


def test_with_the_login_rule_a_visitors_upload_is_refused_before_its_body_is_read(stack):
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {BODY}\r\n\r\n"
    ).encode()
    with proxy_setting(stack, PROXY_WRITES_NEED_LOGIN="true"):
        with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as client:
            client.sendall(head)  # and not a byte of the body
            answer = client.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 403 "), answer
        assert answer.endswith("Log in first: only logged-in users may send data to this site.\n"), answer
        # A logged-in user's request goes on to the app.
        session = logged_in(stack)
        assert session.post(stack.url + "/no-such-page/", data=b"{}", timeout=30).status_code != 403


def proxy_memory(stack: Stack, name: str) -> str:
    """A file of the proxy's memory cgroup."""
    return stack.compose("exec", "-T", "proxy", "cat", f"/sys/fs/cgroup/memory/memory.{name}").stdout


def oom_kills(stack: Stack) -> int:
    """How often the kernel killed a process of the proxy for want of memory (its cgroup's count)."""
    return int(dict(line.split() for line in proxy_memory(stack, "oom_control").splitlines())["oom_kill"])


def stalled_uploads(stack: Stack, count: int, cookie: str) -> list[socket.socket]:
    """COUNT uploads of the largest size allowed, all sent at once, each held back before its last
    byte: what a slow client does. The connections stay open."""
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {BODY}\r\nCookie: {cookie}\r\n\r\n"
    ).encode()

    def upload(_) -> socket.socket:
        client = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
        # An upload refused while it was sending: the proxy said why, and closed.
        with contextlib.suppress(OSError):
            client.sendall(head + b"x" * (BODY - 1))
        return client

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(upload, range(count)))


@pytest.mark.parametrize("who", ["visitor", "user"])
def test_many_stalled_large_uploads_leave_the_proxy_up_and_serving_others(stack, who):
    cookie = cookie_header(logged_in(stack)) if who == "user" else ""
    kills = oom_kills(stack)
    uploads = stalled_uploads(stack, 20, cookie)
    try:
        # Another client, at another address, meanwhile.
        assert from_inside(stack, "app", PAGE).split() == ["200"]
        limit, peak = int(proxy_memory(stack, "limit_in_bytes")), int(proxy_memory(stack, "max_usage_in_bytes"))
        print(f"{who}: the proxy's memory peaked at {peak / 2**20:.0f} of {limit / 2**20:.0f} MiB")
        assert oom_kills(stack) == kills, "the kernel killed a process of the proxy: out of memory"
    finally:
        for upload in uploads:
            upload.close()
    assert containers(stack, "proxy")[0]["RestartCount"] == 0
    assert stack.get("/").status_code == 200


def test_uwsgi_is_reached_from_the_proxys_network_only_not_from_the_databases(stack):
    addresses = app_addresses(stack)
    from_db = json.loads(from_inside(stack, "db", CONNECTS_TO_UWSGI, *addresses))
    from_proxy = json.loads(from_inside(stack, "proxy", CONNECTS_TO_UWSGI, *addresses))
    assert not any(from_db.values()), f"the database's container reaches uWSGI: {from_db}"
    assert sum(from_proxy.values()) == len(containers(stack, "app")), f"the proxy reaches each replica: {from_proxy}"


def test_a_claim_of_https_is_believed_from_a_known_front_only(stack):
    claimed = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    # From the host: not a front the proxy knows. Django sends HSTS on https only.
    response = stack.get("/login/", headers=claimed)
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers
    # From the known front: believed, and the HSTS of the stack's settings.
    answer = through_loopback(
        stack,
        "GET /login/ HTTP/1.0\\r\\nHost: localhost\\r\\nX-Forwarded-Proto: https\\r\\n"
        "X-Forwarded-For: 203.0.113.8\\r\\n\\r\\n",
    )
    assert "Strict-Transport-Security: max-age=3600\n" in answer, answer[:2000]
    # The client's address is the front's word for it from the front only.
    log = proxy_log(stack)
    assert "203.0.113.8 - " in log
    assert "203.0.113.7 - " not in log


def test_pages_send_a_content_security_policy_and_a_permissions_policy(stack):
    response = stack.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "camera=()" in response.headers["Permissions-Policy"]
