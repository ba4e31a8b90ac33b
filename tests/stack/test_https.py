"""HTTPS without effort (`inv deploy` with DOMAIN set): the TLS front gets a certificate from a
real ACME server, Let's Encrypt's Pebble, on the stack's network (compose.pebble.yaml), where the
front answers to the domain. The client trusts Pebble's issuing root and nothing else; it
reaches the front on its loopback-published ports, with the domain's name for TLS and Host."""

import http.client
import ipaddress
import json
import re
import socket
import ssl
import subprocess
import time
import uuid

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.stack.probes import (
    CONNECTS_TO_UWSGI,
    app_addresses,
    check_visitor_views,
    from_inside,
    inspect,
    lines_naming,
    logs,
)
from tests.stack.support import Stack, remove_images
from tests.support import free_port
from workspace.compose import DEPLOY_FILES

pytestmark = pytest.mark.stack

DOMAIN = "site.test"
PEBBLE = "ghcr.io/letsencrypt/pebble:2.8.0"
HTTPS_FILES = (*DEPLOY_FILES, "compose/compose.https.yaml", "tests/stack/compose.pebble.yaml")


class Site:
    """The deployed stack behind its front, and Pebble's view of it."""

    def __init__(self, stack: Stack, root: str):
        self.stack, self.root = stack, root
        self.https_port = int(stack.env["FRONT_HTTPS_PORT"])
        self.http_port = int(stack.env["FRONT_HTTP_PORT"])

    def get(self, path: str, headers: dict | None = None) -> tuple[http.client.HTTPResponse, bytes, dict]:
        """GET https://DOMAIN/PATH, verified against Pebble's root only; the answer, its body and
        the server's certificate."""
        context = ssl.create_default_context(cadata=self.root)
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=10)
        connection = http.client.HTTPSConnection(DOMAIN, self.https_port, context=context, timeout=30)
        connection.sock = context.wrap_socket(raw, server_hostname=DOMAIN)
        certificate = connection.sock.getpeercert()
        assert certificate, "the front sent no certificate"
        connection.request("GET", path, headers={"Host": DOMAIN, **(headers or {})})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response, body, certificate

    def pebble_orders(self) -> int:
        """How many certificate orders Pebble has taken."""
        logs = self.stack.compose("logs", "--no-log-prefix", "pebble").stdout
        return logs.count("/order-plz")


def wait_for_certificate(site: Site, timeout=120) -> float:
    started = time.monotonic()
    while True:
        try:
            response, _, _ = site.get("/healthz")
            if response.status == 200:
                return time.monotonic() - started
        except (OSError, ssl.SSLError):
            pass
        if time.monotonic() - started > timeout:
            logs = site.stack.compose("logs", "--tail", "30", "front", "pebble").stdout
            raise AssertionError(f"no valid certificate within {timeout}s:\n{logs}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def site(built_images, stack_tmp):
    minica = stack_tmp / "pebble.minica.pem"
    minica.write_bytes(
        subprocess.run(
            ["docker", "run", "--rm", "--entrypoint", "cat", PEBBLE, "/test/certs/pebble.minica.pem"],
            capture_output=True,
            check=True,
        ).stdout
    )
    minica.chmod(0o644)
    stack = Stack(
        stack_tmp,
        files=HTTPS_FILES,
        ALLOWED_HOSTS=DOMAIN,
        CSRF_TRUSTED_ORIGINS=f"https://{DOMAIN}",
        DOMAIN=DOMAIN,
        ACME_EMAIL="admin@site.test",
        ACME_CA="https://pebble:14000/dir",
        FRONT_HOST_IP="127.0.0.1",
        FRONT_HTTP_PORT=str(free_port()),
        FRONT_HTTPS_PORT=str(free_port()),
        PEBBLE_MANAGEMENT_PORT=str(free_port()),
        PEBBLE_MINICA=str(minica),
        APP_REPLICAS="1",
    )
    stack.env.update(COMPOSE_PROJECT_NAME=stack.project, IMAGE_PREFIX=stack.project)
    stack.write_env()
    try:
        started = time.monotonic()
        result = stack.inv("deploy", "--override", "tests/stack/compose.pebble.yaml")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"https://{DOMAIN}/" in result.stdout.splitlines()[-1]
        management = f"https://127.0.0.1:{stack.env['PEBBLE_MANAGEMENT_PORT']}/roots/0"
        root = requests.get(management, verify=str(minica), timeout=30).text
        running = Site(stack, root)
        took = wait_for_certificate(running)
        print(f"first certificate: {took:.1f}s after the deploy, {time.monotonic() - started:.1f}s in all")
        yield running
    finally:
        stack.down()
        remove_images(stack)


def test_the_site_answers_with_a_certificate_for_the_domain_from_the_acme_ca(site):
    response, body, certificate = site.get("/")
    assert response.status == 200, body[:500]
    names = [value for kind, value in certificate["subjectAltName"] if kind == "DNS"]
    assert names == [DOMAIN]


def test_inv_status_shows_when_the_certificate_expires(site):
    shown = site.stack.inv("status", "--override", "tests/stack/compose.pebble.yaml").stdout
    expires = rf"^Certificate: {re.escape(DOMAIN)}, expires \d{{4}}-\d\d-\d\d \d\d:\d\d UTC \(in \d+ days\)$"
    assert re.search(expires, shown, re.MULTILINE), shown
    assert "certificate:" not in shown, shown


def test_the_fronts_request_id_replaces_a_clients_and_reaches_the_proxy_and_the_app(site):
    path = f"/no-such-page-{uuid.uuid4().hex[:8]}/"
    response, _, _ = site.get(path, headers={"X-Request-ID": "chosen-by-the-client"})
    assert response.status == 404
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", request_id), request_id
    lines = lines_naming(site.stack, request_id)
    assert any(path in line for line in lines["proxy"]), lines
    assert any(f"Not Found: {path}" in line for line in lines["app"]), lines


def test_plain_http_is_redirected_to_https(site):
    response = requests.get(
        f"http://127.0.0.1:{site.http_port}/login/", headers={"Host": DOMAIN}, allow_redirects=False, timeout=30
    )
    assert response.status_code in {301, 308}
    assert response.headers["Location"] == f"https://{DOMAIN}/login/"


def test_https_pages_send_hsts_for_a_year_without_subdomains_or_preload_and_secure_cookies(site):
    response, _, _ = site.get("/login/")
    assert response.status == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    cookies = response.headers.get_all("Set-Cookie")
    assert cookies
    assert all("Secure" in cookie for cookie in cookies), cookies


class FrontAdapter(HTTPAdapter):
    """Connects to the front's loopback port as to DOMAIN, trusting Pebble's root alone, as
    Site.get does."""

    def __init__(self, root: str):
        self.context = ssl.create_default_context(cadata=root)
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs.update(server_hostname=DOMAIN, assert_hostname=DOMAIN, ssl_context=self.context)
        super().init_poolmanager(*args, **kwargs)


def test_a_sites_own_forms_webhook_token_api_and_password_reset_reach_django_over_https(site):
    session = requests.Session()
    session.mount("https://", FrontAdapter(site.root))
    session.headers["Host"] = DOMAIN
    check_visitor_views(session, f"https://127.0.0.1:{site.https_port}/", origin=f"https://{DOMAIN}/")


def test_check_deploy_is_clean(site):
    output = site.stack.manage("check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues" in output


def test_the_proxy_is_published_nowhere_and_ignores_a_forged_forwarded_proto(site):
    proxy = site.stack.container("proxy")
    ports = subprocess.run(["docker", "port", proxy], capture_output=True, text=True, check=True).stdout
    assert ports.strip() == ""
    # From inside the stack's network, around the front: Django must not take it for https.
    forged = (
        "import urllib.request, urllib.error\n"
        "class Keep(urllib.request.HTTPRedirectHandler):\n"
        "    def redirect_request(self, *args): return None\n"
        "request = urllib.request.Request('http://proxy:8080/login/',"
        f" headers={{'Host': '{DOMAIN}', 'X-Forwarded-Proto': 'https'}})\n"
        "try:\n"
        "    print(urllib.request.build_opener(Keep).open(request, timeout=10).status)\n"
        "except urllib.error.HTTPError as error:\n"
        "    print(error.code, error.headers['Location'])\n"
    )
    answer = site.stack.compose("exec", "-T", "app", "python", "-c", forged).stdout.split()
    assert answer == ["301", f"https://{DOMAIN}/login/"], answer


def test_a_redeploy_reuses_the_stored_certificate(site):
    _, _, before = site.get("/healthz")
    orders = site.pebble_orders()
    assert orders >= 1, "Pebble logged no order: the test would prove nothing"
    started = time.monotonic()
    # Every container removed, the volumes kept: the redeploy starts a new front on them.
    site.stack.compose("down", "--timeout", "10")
    result = site.stack.inv("deploy", "--override", "tests/stack/compose.pebble.yaml")
    assert result.returncode == 0, result.stdout[-3000:]
    wait_for_certificate(site, timeout=60)
    print(f"redeploy with the stored certificate: {time.monotonic() - started:.1f}s")
    _, _, after = site.get("/healthz")
    assert after["serialNumber"] == before["serialNumber"]
    # Pebble was replaced too, and knows nothing of the first order: any order now is new.
    assert site.pebble_orders() == 0, "the redeploy ordered a new certificate"


def test_the_front_is_healthy(site):
    assert inspect(site.stack, "front")["State"]["Health"]["Status"] == "healthy"


def test_the_proxy_counts_clients_by_their_own_address_not_the_fronts(site):
    # A client's own X-Forwarded-For is the client's claim: the front replaces it.
    response, _, _ = site.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status == 200
    time.sleep(1.5)  # nginx writes its access log at least once a second
    line = [line for line in logs(site.stack, "proxy") if '"GET /healthz' in line][-1]
    client = line.split()[0]
    assert client not in {"unix:", "203.0.113.7"}, line
    assert ipaddress.ip_address(client), line


def test_neither_the_front_nor_the_database_reaches_uwsgi(site):
    addresses = app_addresses(site.stack)
    for service in ("front", "db"):
        reached = json.loads(from_inside(site.stack, service, CONNECTS_TO_UWSGI, *addresses))
        assert not any(reached.values()), f"{service} reaches uWSGI: {reached}"
    reached = json.loads(from_inside(site.stack, "proxy", CONNECTS_TO_UWSGI, *addresses))
    assert any(reached.values()), f"the proxy does not reach uWSGI: {reached}"
