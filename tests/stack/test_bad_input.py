"""Bad input through the proxy: each gets a clear answer, never a trace, and nothing is stored
half-way."""

import http.client
import socket

import pytest
import requests

from tests.stack.probes import (
    add_entry,
    attachment_url,
    cookie_header,
    form_token,
    logged_in,
    media_files,
    stored_titles,
)

pytestmark = [pytest.mark.stack, pytest.mark.faults]


def raw_request(stack, method: str, path: str, body=b"", headers=None) -> tuple[int, str]:
    """A request sent as written (requests would tidy the path (../) and the headers): the
    answer's status and text."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    connection.putrequest(method, path, skip_accept_encoding=True)
    for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    return response.status, response.read().decode("utf-8", "replace")


def test_upload_over_the_limit_gets_413_and_stores_nothing(stack):
    files_before = media_files(stack)
    too_big = b"x" * (2 * 1024 * 1024)  # the stack's limit is 1m
    response = add_entry(stack, "too big", files={"attachment": ("big.bin", too_big)})
    assert response.status_code == 413
    assert response.text == "Upload too large: the limit is 1m.\n"
    assert "too big" not in stored_titles(stack)
    assert media_files(stack) == files_before


def test_an_anonymous_post_reaches_django_which_decides(stack):
    # No CSRF token: Django's own refusal, not the proxy's.
    refused = requests.post(stack.url + "/", data={"title": "no token"}, timeout=30)
    assert refused.status_code == 403
    assert "CSRF verification failed" in refused.text
    # A body to a page no app has: Django's 404, the body read whole by the proxy on its way.
    status, _ = raw_request(stack, "POST", "/no-such-page/", b'{"event": "ping"}', {"Content-Type": "application/json"})
    assert status == 404
    assert "no token" not in stored_titles(stack)


def test_an_anonymous_post_to_a_form_for_users_gets_its_views_403_and_stores_nothing(stack):
    files_before = media_files(stack)
    session = requests.Session()
    response = session.post(
        stack.url + "/",
        data={"title": "anonymous", "csrfmiddlewaretoken": form_token(session, stack)},
        files={"attachment": ("anonymous.bin", b"a" * 1000)},
        headers={"Referer": stack.url + "/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 403
    assert response.text == "Log in to write.\n"
    assert "anonymous" not in stored_titles(stack)
    assert media_files(stack) == files_before


def test_upload_cut_off_midway_stores_nothing(stack):
    """nginx reads the whole body before the app sees any of it: a client that disconnects
    half-way leaves neither an entry nor a file."""
    files_before = media_files(stack)
    session = logged_in(stack)
    token = form_token(session, stack)
    body = (
        f'--b\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n{token}\r\n'
        '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\ncut off\r\n'
        '--b\r\nContent-Disposition: form-data; name="attachment"; filename="cut.bin"\r\n\r\n'
    ).encode() + b"y" * 100_000
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {len(body) * 2}\r\n"
        f"Cookie: {cookie_header(session)}\r\nReferer: {stack.url}/\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as client:
        client.sendall(head + body)
        client.shutdown(socket.SHUT_WR)  # half the promised body, then the client is gone
        while client.recv(65536):
            pass
    assert "cut off" not in stored_titles(stack)
    assert media_files(stack) == files_before


def test_a_host_not_in_allowed_hosts_gets_400(stack):
    response = stack.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "Bad Request" in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../etc/passwd",
        "/media/../../etc/passwd",
        "/static/..%2f..%2fetc%2fpasswd",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/..%2F..%2Fapp%2Fconfig%2Fsettings.py",
        "/static/../../../../proc/self/environ",
    ],
)
def test_path_traversal_under_static_and_media_gets_404(stack, path):
    status, text = raw_request(stack, "GET", path)
    assert status == 404
    assert "root:" not in text
    assert "SECRET" not in text


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"title=no+boundary"),
        ("multipart/form-data; boundary=" + "b" * 300, b"--bbb\r\n"),
        ("multipart/form-data; boundary=xyz", b"not multipart at all"),
    ],
    ids=["no boundary", "invalid boundary", "body without parts"],
)
def test_malformed_multipart_gets_400_and_stores_nothing(stack, content_type, body):
    session = logged_in(stack)
    token = form_token(session, stack)
    titles_before = stored_titles(stack)
    status, text = raw_request(
        stack,
        "POST",
        "/",
        body,
        headers={
            "Content-Type": content_type,
            # The token in the header, so the form is judged, not the CSRF check.
            "X-CSRFToken": token,
            "Cookie": cookie_header(session),
            "Referer": stack.url + "/",
        },
    )
    assert status == 400
    assert "Traceback" not in text
    assert stored_titles(stack) == titles_before


def test_over_long_title_gets_a_validation_message_and_stores_nothing(stack):
    title = "t" * 201
    response = add_entry(stack, title)
    assert response.status_code == 400
    assert "Ensure this value has at most 200 characters (it has 201)." in response.text
    assert title not in stored_titles(stack)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<html><body><script>document.title = document.cookie</script></body></html>"),
        ("page.shtml", b"<script>document.title = document.cookie</script>"),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'),
        ("feed.xml", b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(document.domain)</x:script>'),
    ],
)
def test_an_uploaded_page_of_any_type_is_only_downloaded_and_runs_no_script(stack, name, content):
    assert add_entry(stack, f"with {name}", files={"attachment": (name, content)}).status_code == 302
    response = stack.get(attachment_url(stack, name))
    assert response.status_code == 200
    assert response.content == content
    policy = response.headers["Content-Security-Policy"]
    # sandbox without allow-scripts: no script runs, and the page gets an opaque origin,
    # not the site's; default-src 'none': it loads nothing either.
    assert "sandbox" in policy
    assert "allow-scripts" not in policy
    assert "default-src 'none'" in policy
    # The browser saves the file instead of opening it as a page of the site.
    assert response.headers["Content-Disposition"] == "attachment"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
