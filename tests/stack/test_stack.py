"""The production-like base stack, checked through the proxy only, as a user would see it."""

import re
import uuid

import pytest

from tests.stack.probes import add_entry, attachment_url, check_private_file, lines_naming, logged_in
from tests.stack.support import csrf_post
from tests.support import first_group

pytestmark = pytest.mark.stack

ATTACHMENT = b"attachment bytes \x00\x01\x02 " * 1000


@pytest.fixture(scope="module")
def admin(stack):
    return logged_in(stack)


@pytest.fixture(scope="module")
def entry_with_attachment(stack, admin):
    """An entry of the test app added through the admin form; returns the attachment's URL from the change page."""
    response = csrf_post(
        admin,
        stack,
        "/admin/journal/entry/add/",
        data={"title": "Ship it", "description": "through the proxy"},
        files={"attachment": ("release notes.bin", ATTACHMENT, "application/octet-stream")},
    )
    assert response.status_code == 302, response.text[:2000]
    changelist = admin.get(stack.url + "/admin/journal/entry/", timeout=30).text
    change = first_group(r'href="(/admin/journal/entry/\d+/change/)"', changelist)
    page = admin.get(stack.url + change, timeout=30).text
    return first_group(r'href="(/media/attachments/[0-9a-f]{32}\.bin)"', page)


def test_one_request_id_is_in_the_answer_the_proxys_line_and_the_apps_line(stack):
    """The proxy's id for a request (X-Request-ID), in its access log line and in the app's line of
    that request. A client's own X-Request-ID is not believed: it is no front the proxy trusts."""
    path = f"/no-such-page-{uuid.uuid4().hex[:8]}/"
    answer = stack.get(path, headers={"X-Request-ID": "chosen-by-the-client"})
    assert answer.status_code == 404
    request_id = answer.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    lines = lines_naming(stack, request_id)
    assert any(f'"GET {path} HTTP/1.1" 404' in line for line in lines["proxy"]), lines
    assert any(f"Not Found: {path}" in line for line in lines["app"]), lines
    assert not lines_naming(stack, "chosen-by-the-client", timeout=0)["app"]


def test_healthz_is_ok_through_the_proxy(stack):
    response = stack.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_admin_login_page_loads_with_its_css_from_nginx(stack):
    page = stack.get("/admin/login/")
    assert page.status_code == 200
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text)
    assert css, "the admin links a hashed stylesheet (ManifestStaticFilesStorage)"
    response = stack.get(css.group(1), headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "body" in response.text


def test_responses_carry_security_headers_and_no_nginx_version(stack):
    response = stack.get("/admin/login/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] in {"DENY", "SAMEORIGIN"}
    assert "Referrer-Policy" in response.headers
    assert response.headers.get("Server", "nginx") == "nginx"


def test_superuser_adds_an_entry_with_an_attachment_that_nginx_serves_back(stack, entry_with_attachment):
    response = stack.get(entry_with_attachment)
    assert response.status_code == 200
    assert response.content == ATTACHMENT
    # Uploaded files never run as pages of the site.
    assert "sandbox" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("photo.png", "image/png"), ("scan.pdf", "application/pdf"), ("notes.txt", "text/plain")],
)
def test_images_pdfs_and_text_open_in_the_browser_sandboxed(stack, name, content_type):
    assert add_entry(stack, f"with {name}", files={"attachment": (name, b"content")}).status_code == 302
    response = stack.get(attachment_url(stack, name))
    assert response.headers["Content-Type"] == content_type
    assert "Content-Disposition" not in response.headers
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def test_a_private_file_on_the_volume_is_refused_to_a_visitor_and_another_user_and_served_to_its_owner(stack):
    check_private_file(stack, ATTACHMENT)


def test_the_favicon_is_a_static_file_served_by_nginx(stack):
    response = stack.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/x-icon"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.content.startswith(b"\x00\x00\x01\x00")  # an icon file


def test_django_builds_urls_with_the_host_and_port_the_client_used(stack):
    response = stack.get("/admin/", allow_redirects=False)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(("/admin/login/", f"{stack.url}/admin/login/"))


def test_the_runtime_image_has_no_debug_toolbar(stack):
    result = stack.compose("exec", "-T", "app", "python", "-c", "import debug_toolbar", check=False)
    assert result.returncode != 0
    assert "No module named 'debug_toolbar'" in result.stderr
    assert 'id="djDebug"' not in stack.get("/").text
