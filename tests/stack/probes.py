"""What the stack tests look at: container state, logs, the stored rows, and the reference site's
pages as its users and other sites use them."""

import json
import re
import subprocess
import time
import uuid

import requests

from tests.stack.support import Stack, admin_session
from tests.support import first_group
from workspace.compose import ROOT


def inspect(stack: Stack, service: str) -> dict:
    """`docker inspect` of the service's container."""
    output = subprocess.run(
        ["docker", "inspect", stack.container(service)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output)[0]


def containers(stack: Stack, service: str) -> list[dict]:
    """`docker inspect` of each of the service's containers (its replicas)."""
    ids = stack.compose("ps", "-q", service).stdout.split()
    output = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout
    return json.loads(output)


def from_inside(stack: Stack, service: str, code: str, *args: str) -> str:
    """Runs Python CODE with ARGS in the network namespace of the service's container, as a
    process that got into that container would (the app's image brings the Python); its output."""
    target = containers(stack, service)[0]["Id"]
    image = containers(stack, "app")[0]["Image"]
    command = ["docker", "run", "--rm", "--network", f"container:{target}", "--entrypoint", "python", image]
    result = subprocess.run([*command, "-c", code, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


# For from_inside: which of the addresses (arguments) take a TCP connection on uWSGI's port.
CONNECTS_TO_UWSGI = """
import json, socket, sys
def connects(address):
    try:
        socket.create_connection((address, 9000), timeout=3).close()
        return True
    except OSError:
        return False
print(json.dumps({address: connects(address) for address in sys.argv[1:]}))
"""


def app_addresses(stack: Stack) -> list[str]:
    """Every address of every app container, in every network it is in."""
    return [
        network["IPAddress"]
        for app in containers(stack, "app")
        for network in app["NetworkSettings"]["Networks"].values()
    ]


def wait_until_healthy(stack: Stack, service: str, timeout=60) -> float:
    """Waits for the service's healthcheck to pass; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if inspect(stack, service)["State"].get("Health", {}).get("Status") == "healthy":
            return time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"{service} was not healthy within {timeout}s")


def logs(stack: Stack, service: str) -> list[str]:
    """The service's log lines, without compose's prefix."""
    output = stack.compose("logs", "--no-log-prefix", "--no-color", service).stdout
    # Compose starts each line with a clear-line escape, even with --no-color.
    output = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", output)
    return [line for line in output.splitlines() if line.strip()]


def lines_naming(stack: Stack, request_id: str, services=("proxy", "app"), timeout=15) -> dict[str, list[str]]:
    """Each service's log lines that name the request id, once every service has one (the proxy
    writes its lines up to a second late)."""
    deadline = time.monotonic() + timeout
    while True:
        found = {service: [line for line in logs(stack, service) if request_id in line] for service in services}
        if all(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def stored_titles(stack: Stack) -> set[str]:
    """The titles of the test app's entries in the database, read with psql in the db container."""
    query = "SELECT title FROM journal_entry"
    output = stack.compose("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-At", "-c", query).stdout
    return set(output.splitlines())


def media_files(stack: Stack) -> int:
    """How many uploaded files the media volume holds."""
    return int(stack.compose("exec", "-T", "app", "sh", "-c", "find /vol/web/media -type f | wc -l").stdout)


def logged_in(stack: Stack) -> requests.Session:
    """The session of the stack's test user, a superuser logged in through the login form; made
    on first use. Only a logged-in user writes in the test app."""
    if stack.user_session is None:
        stack.user_session = admin_session(stack)
    return stack.user_session


def cookie_header(session: requests.Session) -> str:
    """The session's cookies as a Cookie header, for requests sent by hand."""
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


def form_token(session: requests.Session, stack: Stack) -> str:
    """Opens the test app's form, so the session holds the CSRF cookie; returns the form's token."""
    page = session.get(stack.url + "/", timeout=30)
    page.raise_for_status()
    return first_group(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)


def attachment_url(stack: Stack, name: str) -> str:
    """The /media/ link the test app's list shows for an attachment uploaded as `name`."""
    page = stack.get("/").text
    return first_group(rf'href="(/media/attachments/[0-9a-f]{{32}}\.\w+)">{re.escape(name)}<', page)


def add_entry(stack: Stack, title: str, files=None, session: requests.Session | None = None) -> requests.Response:
    """Submits the test app's form as a logged-in user would (the stack's test user unless a
    session is given); a stored entry answers 302."""
    session = session or logged_in(stack)
    return session.post(
        stack.url + "/",
        data={"title": title, "csrfmiddlewaretoken": form_token(session, stack)},
        files=files,
        headers={"Referer": stack.url + "/"},
        allow_redirects=False,
        timeout=30,
    )


# Run in the app container: stores CONTENT (hex) under the exact key KEY with the site's storage (the
# volume or the bucket), named by an entry of the test app (OWNER's, if given) unless ORPHAN;
# prints the file's link.
STORE = (
    "import os; from django.core.files.base import ContentFile; from journal.models import Entry; "
    "from django.contrib.auth.models import User; "
    "from django.core.files.storage import default_storage as s; "
    "key = s.save(os.environ['KEY'], ContentFile(bytes.fromhex(os.environ['CONTENT']))); "
    "owner = User.objects.filter(username=os.environ['OWNER']).first(); "
    "os.environ['ORPHAN'] or Entry.objects.create(title=key, attachment=key, owner=owner); print(s.url(key))"
)


def store(stack: Stack, key: str, content: bytes, *, orphan=False, owner="") -> str:
    env = {"KEY": key, "CONTENT": content.hex(), "ORPHAN": "1" if orphan else "", "OWNER": owner}
    return stack.manage("shell", "-c", STORE, env=env).split()[-1]


def check_private_file(stack: Stack, content: bytes) -> None:
    """A private upload (ops/uploads.py): a visitor is sent to log in, the entry's owner gets the
    bytes, which no shared cache may keep, and another user none (the entry's may_download); the
    same name, with no row naming it, is a 404 even to the owner."""
    owner = logged_in(stack)
    link = store(stack, "private/files/0123abcd.png", content, owner="admin")
    visitor = stack.get(link, allow_redirects=False)
    assert visitor.status_code == 302, visitor.text[:500]
    assert visitor.headers["Location"].startswith("/login/?next=/media/private/")
    assert content not in visitor.content
    served = owner.get(stack.url + link, timeout=30)
    assert served.status_code == 200, served.text[:500]
    assert served.content == content
    assert served.headers["Cache-Control"] == "private, no-store"
    assert served.headers["Content-Security-Policy"].endswith("sandbox")
    # Another user, staff too: the entry's may_download says no.
    other = admin_session(stack, username=f"other{uuid.uuid4().hex[:6]}").get(stack.url + link, timeout=30)
    assert other.status_code == 403, other.text[:500]
    assert content not in other.content
    unnamed = store(stack, "private/files/4567cdef.png", content, orphan=True)
    assert owner.get(stack.url + unnamed, timeout=30).status_code == 404


# The reference site's API token, read from the app that checks it.
API_TOKEN = first_group(r'(?m)^API_TOKEN = "([^"]+)"', (ROOT / "tests/site/journal/visitors.py").read_text())


def check_visitor_views(session: requests.Session, url: str, origin: str = "") -> None:
    """The views of tests/site/journal/visitors.py, under URL, as visitors and other sites use
    them, none logged in: each gets Django's own answer through the stack. ORIGIN: the site's
    origin as the browser sees it (for the Referer of a form over HTTPS), else URL's."""
    origin = origin or url
    page = session.get(f"{url}contact/", timeout=30)
    assert page.status_code == 200, page.text[:1000]
    token = first_group(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    form = {"email": "visitor@example.com", "message": "Hello", "csrfmiddlewaretoken": token}
    sent = session.post(f"{url}contact/", data=form, headers={"Referer": f"{origin}contact/"}, timeout=30)
    assert sent.status_code == 200, sent.text[:1000]
    assert sent.text == "Thank you for your message.\n"

    hook = session.post(f"{url}webhook/", json={"event": "payment.succeeded"}, timeout=30)
    assert hook.status_code == 200, hook.text[:1000]
    assert hook.json() == {"received": "payment.succeeded"}

    note = {"text": "from another site"}
    api = session.post(f"{url}api/notes/", json=note, headers={"Authorization": f"Token {API_TOKEN}"}, timeout=30)
    assert api.status_code == 201, api.text[:1000]
    assert api.json() == {"created": note}
    refused = session.post(f"{url}api/notes/", json=note, headers={"Authorization": "Token wrong"}, timeout=30)
    assert refused.status_code == 401, refused.text[:1000]

    page = session.get(f"{url}password-reset/", timeout=30)
    assert page.status_code == 200, page.text[:1000]
    token = first_group(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    # An address no user has: Django answers as for any, and sends no mail.
    form = {"email": "nobody@example.com", "csrfmiddlewaretoken": token}
    reset = session.post(
        f"{url}password-reset/",
        data=form,
        headers={"Referer": f"{origin}password-reset/"},
        allow_redirects=False,
        timeout=30,
    )
    assert reset.status_code == 302, reset.text[:1000]
    assert reset.headers["Location"].endswith("/password-reset/sent/")
