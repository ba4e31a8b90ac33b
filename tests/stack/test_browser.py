"""A real browser on the production-like stack, through the proxy: headless Chromium (Debian's
chromium and chromium-driver) over WebDriver does what a person does, and its console stays empty."""

import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.stack.support import admin_session

pytestmark = pytest.mark.stack

# Debian's packages by default; CHROMIUM and CHROMEDRIVER name another Chrome build and its driver
# (GitHub's runners ship Google Chrome).
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
USERNAME, PASSWORD = "browser", "a-browser-test-password"
# Without the networking flags Chromium reaches out to hosts of its own (updates, sync).
FLAGS = (
    "--headless",
    "--no-sandbox",  # as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def png() -> bytes:
    """A 2x2 red PNG."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = zlib.compress(b"\x00\xff\x00\x00\xff\x00\x00" * 2)
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# A one-page PDF; its viewer rebuilds the missing cross-reference table.
PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""
# Would plant a cookie and a stored value on the site, and retitle the page, if it ever ran there.
PAGE = b"""<!doctype html><meta http-equiv="set-cookie" content="planted=meta">
<script>document.cookie = "planted=script; path=/"; localStorage.planted = "1"; document.title = "ran"</script>"""


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    """Where the browser saves the files it downloads."""
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory, downloads):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def user(stack):
    """A superuser to log in with, through the pages."""
    admin_session(stack, USERNAME, PASSWORD)


def console(browser) -> list[str]:
    """Every console message since the last call."""
    return [f"{entry['level']} {entry['message']}" for entry in browser.get_log("browser")]


@pytest.fixture
def page(browser, stack):
    """Opens a path of the stack, and checks after the test that the console stayed empty."""
    # A visitor again: no session, no cookie of an earlier test.
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    console(browser)

    def visit(path):
        browser.get(stack.url + path)

    yield visit
    # Also what arrives after a page loaded (the favicon).
    browser.get("about:blank")
    assert console(browser) == []


# What chromedriver now and then answers, instead of "stale element", for a node of a page that has
# gone (SeleniumHQ/selenium#15401 and #12221).
GONE_NODE = ("does not belong to the document", "No node with given id found")


def gone(element):
    """Selenium's staleness_of, which also takes chromedriver's other answers for a stale element."""

    def check(_) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if not any(words in str(error.msg) for words in GONE_NODE):
                raise
            return True
        return False

    return check


def click(browser, element):
    """Clicks a link or button and waits for the page it opens."""
    element.click()
    WebDriverWait(browser, 10).until(gone(element))


def submit(browser, button: str):
    click(browser, browser.find_element(By.XPATH, f"//button[text()='{button}']"))


def log_in(browser, page):
    page("/login/")
    browser.find_element(By.NAME, "username").send_keys(USERNAME)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    submit(browser, "Log in")
    assert browser.find_element(By.TAG_NAME, "header").text.endswith(f"{USERNAME} Log out")


def add_entry(browser, title, attachment):
    browser.find_element(By.NAME, "title").send_keys(title)
    browser.find_element(By.NAME, "attachment").send_keys(str(attachment))
    submit(browser, "Add")


def test_a_visitor_reads_the_list_but_cannot_add_an_entry(browser, page, stack):
    page("/")
    assert browser.find_elements(By.NAME, "title") == []
    assert browser.find_element(By.XPATH, "//button[text()='Log in']")
    # The add form, forged in the page and sent with the visitor's CSRF token.
    body = browser.find_element(By.TAG_NAME, "body")
    browser.execute_script(
        """const form = document.createElement("form");
        form.method = "post";
        form.innerHTML = '<input name="title" value="anonymous">';
        form.append(document.querySelector("[name=csrfmiddlewaretoken]"));
        document.body.append(form);
        form.submit();"""
    )
    WebDriverWait(browser, 10).until(gone(body))
    assert browser.find_element(By.TAG_NAME, "body").text == "Log in to write."
    messages = console(browser)
    assert len(messages) == 1, messages
    assert "status of 403 (Forbidden)" in messages[0], messages
    page("/")
    assert "anonymous" not in browser.find_element(By.TAG_NAME, "ul").text


@pytest.mark.parametrize(
    ("name", "content", "shown"),
    [("photo.png", png(), "image/png"), ("notes.txt", b"plain notes\n", "text/plain"), ("scan.pdf", PDF, None)],
    ids=["image", "text", "pdf"],
)
def test_a_user_logs_in_adds_an_entry_with_an_attachment_and_opens_it(
    browser, page, user, tmp_path, name, content, shown
):
    (tmp_path / name).write_bytes(content)
    log_in(browser, page)
    add_entry(browser, f"entry with {name}", tmp_path / name)
    item = browser.find_element(By.XPATH, f"//li[span[text()='entry with {name}']]")
    click(browser, item.find_element(By.LINK_TEXT, name))
    assert browser.current_url.endswith(name[-4:])
    if shown:
        # In the browser's own viewer, on an opaque origin: not a page of the site, no cookies.
        assert browser.execute_script("return document.contentType") == shown
        assert browser.execute_script("return window.origin") == "null"
    else:
        # Chromium's own PDF viewer: its document keeps the site's origin, but the file's own
        # scripts (Acrobat JavaScript) run inside the viewer, with no access to the page.
        assert browser.execute_script("return document.contentType") == "application/pdf"


def test_an_uploaded_html_page_neither_runs_script_nor_sets_a_cookie_on_the_site(
    browser, page, user, tmp_path, stack, downloads
):
    (tmp_path / "page.html").write_bytes(PAGE)
    log_in(browser, page)
    add_entry(browser, "entry with a page", tmp_path / "page.html")
    cookies = {cookie["name"] for cookie in browser.get_cookies()}
    browser.find_element(By.LINK_TEXT, "page.html").click()
    # Saved as a file, never opened: the list stays open, untouched.
    WebDriverWait(browser, 10).until(lambda _: list(downloads.glob("*.html")))
    assert browser.current_url == stack.url + "/"
    assert browser.title == "Journal · Django Compose Workspace"
    assert {cookie["name"] for cookie in browser.get_cookies()} == cookies
    assert browser.execute_script("return localStorage.planted") is None


def test_the_admin_loads_with_its_styles(browser, page, user):
    log_in(browser, page)
    for path in ("/admin/", "/admin/journal/entry/"):
        page(path)
        sheets = browser.execute_script("return [...document.styleSheets].map(sheet => sheet.cssRules.length)")
        assert sheets, f"{path}: no stylesheet"
        assert all(sheets), f"{path}: a stylesheet did not load: {sheets}"
        header = browser.find_element(By.ID, "header").value_of_css_property("background-color")
        assert header not in {"rgba(0, 0, 0, 0)", "transparent"}
