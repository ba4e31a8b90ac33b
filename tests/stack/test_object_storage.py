"""Uploads in a bucket (MEDIA_STORAGE=s3), SeaweedFS on the stack's network as the S3 store: the
deployment stack, checked through the proxy as a user sees it. The same guarantees as the media
volume: same bytes on the same URL, never a page of the site, a private bucket, 413 over the
limit, a clean 503 while the store is away and recovery once it is back, backup and restore."""

import secrets
import shutil
import subprocess
import time

import pytest

from tests.stack.probes import add_entry, attachment_url, check_private_file, media_files, store, stored_titles
from tests.stack.support import Stack
from tests.support import first_group
from workspace.compose import DEPLOY_FILES

pytestmark = pytest.mark.stack

FILES = (*DEPLOY_FILES, "compose/compose.seaweedfs.yaml")
PNG = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(300_000)
SMALL_PNG = PNG[:20_000]
MEDIA_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
# Run in the app container: the bucket's object keys, one a line (KEYS), or the bucket made.
KEYS = "from django.core.files.storage import default_storage as s; print(*(o.key for o in s.bucket.objects.all()))"
MAKE_BUCKET = "from django.core.files.storage import default_storage as s; s.bucket.create()"


def in_app(stack: Stack, code: str, *, check=True) -> subprocess.CompletedProcess:
    return stack.compose("exec", "-T", "app", "python", "manage.py", "shell", "-c", code, check=check)


def objects(stack: Stack) -> set[str]:
    return set(in_app(stack, KEYS).stdout.split())


@pytest.fixture(scope="module")
def stack(built_images, stack_tmp):
    """The deploy files (a read-only root filesystem, the app's deploy settings) with plain http
    in front, uploads in the bucket `media`, made once the store answers."""
    running = Stack(
        stack_tmp,
        files=FILES,
        HTTPS="false",
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="media",
        AWS_S3_ENDPOINT_URL="http://seaweedfs:8333",
        AWS_S3_REGION_NAME="us-east-1",
        AWS_ACCESS_KEY_ID=secrets.token_hex(10),
        AWS_SECRET_ACCESS_KEY=secrets.token_hex(20),
    )
    running.env["COMPOSE_PROJECT_NAME"] = running.project
    running.write_env()
    try:
        running.up()
        running.manage("migrate", "--noinput")
        deadline = time.monotonic() + 60
        while in_app(running, MAKE_BUCKET, check=False).returncode:
            assert time.monotonic() < deadline, "the store did not answer within 60s"
            time.sleep(1)
        yield running
    finally:
        running.down()


def test_an_upload_is_served_back_through_the_proxy_from_the_bucket_byte_for_byte(stack):
    assert add_entry(stack, "photo", files={"attachment": ("photo.png", PNG)}).status_code == 302
    url = attachment_url(stack, "photo.png")  # a random name: 32 hex digits
    response = stack.get(url)
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert MEDIA_HEADERS.items() <= response.headers.items()
    assert "Content-Disposition" not in response.headers  # an image opens in the browser's viewer
    head = stack.get(url, headers={"Range": "bytes=0-7"})
    assert head.status_code == 206
    assert head.content == PNG[:8]
    assert url.removeprefix("/media/") in objects(stack)
    assert media_files(stack) == 0, "nothing lands in the volume"


def test_an_html_upload_is_only_downloaded_in_a_sandbox(stack):
    page = b"<script>alert(document.cookie)</script>"
    assert add_entry(stack, "page", files={"attachment": ("page.html", page)}).status_code == 302
    response = stack.get(attachment_url(stack, "page.html"))
    assert response.status_code == 200
    assert response.content == page
    assert response.headers["Content-Disposition"] == "attachment"
    assert MEDIA_HEADERS.items() <= response.headers.items()


def test_a_missing_file_is_a_plain_404_and_the_bucket_refuses_anonymous_requests(stack):
    response = stack.get(f"/media/attachments/{secrets.token_hex(16)}.png")
    assert response.status_code == 404
    assert "<Error>" not in response.text, "the store's own error page"
    assert response.headers["Content-Security-Policy"] == MEDIA_HEADERS["Content-Security-Policy"]
    key = next(iter(objects(stack)))
    anonymous = f"import urllib.request as u; u.urlopen('http://seaweedfs:8333/media/{key}')"
    refused = stack.compose("exec", "-T", "app", "python", "-c", anonymous, check=False)
    assert "HTTP Error 403" in refused.stderr


def test_any_key_a_store_can_hold_is_served_space_percent_question_mark_and_hash_included(stack):
    key = "attachments/a b%20c?d#e+f ü.png"
    link = store(stack, key, SMALL_PNG)
    assert link == "/media/attachments/a%20b%2520c%3Fd%23e%2Bf%20%C3%BC.png"
    response = stack.get(link)
    assert response.status_code == 200, response.text[:500]
    assert response.content == SMALL_PNG
    assert response.headers["Content-Type"] == "image/png"


@pytest.mark.parametrize("key", ["attachments/orphan.png", ".restoring/attachments/staged.png"])
def test_only_a_file_a_row_names_is_served_from_the_bucket(stack, key):
    link = store(stack, key, SMALL_PNG, orphan=True)
    try:
        assert key in objects(stack)
        response = stack.get(link)
        assert response.status_code == 404
        assert response.content != SMALL_PNG
        assert response.headers["Content-Security-Policy"] == MEDIA_HEADERS["Content-Security-Policy"]
    finally:
        in_app(stack, f"from django.core.files.storage import default_storage as s; s.delete({key!r})")


def test_a_private_file_in_the_bucket_is_refused_to_a_visitor_and_another_user_and_served_to_its_owner(stack):
    check_private_file(stack, SMALL_PNG)


def test_upload_over_the_limit_gets_413_and_stores_nothing(stack):
    before = objects(stack)
    response = add_entry(stack, "too big", files={"attachment": ("big.png", b"x" * (2 * 1024 * 1024))})
    assert response.status_code == 413
    assert "too big" not in stored_titles(stack)
    assert objects(stack) == before


def test_while_the_store_is_down_uploads_get_503_and_store_nothing_then_it_recovers(stack):
    assert add_entry(stack, "before", files={"attachment": ("before.png", PNG)}).status_code == 302
    url = attachment_url(stack, "before.png")
    before = objects(stack)
    stack.compose("stop", "seaweedfs")
    try:
        started = time.monotonic()
        response = add_entry(stack, "while down", files={"attachment": ("down.png", PNG)})
        assert response.status_code == 503, response.text[:500]
        assert response.text.startswith("Service temporarily unavailable: the file storage")
        assert time.monotonic() - started < 15, "the upload is not held while the store is away"
        assert "while down" not in stored_titles(stack)
        served = stack.get(url)
        assert served.status_code == 503
        assert "Temporarily unavailable" in served.text
        assert stack.get("/").status_code == 200, "the pages do not need the store"
    finally:
        stack.compose("start", "seaweedfs")
    deadline = time.monotonic() + 60
    while stack.get(url).status_code != 200:
        assert time.monotonic() < deadline, "the file was not served again within 60s of the store's return"
        time.sleep(0.5)
    print(f"store back: its files served again {time.monotonic() - deadline + 60:.1f}s after its start")
    assert objects(stack) == before, "the failed upload left no object"
    assert add_entry(stack, "after", files={"attachment": ("after.png", PNG)}).status_code == 302
    assert stack.get(attachment_url(stack, "after.png")).content == PNG


def test_backup_then_restore_brings_the_bucket_back_keeps_later_uploads_and_a_broken_archive_restores_nothing(stack):
    assert add_entry(stack, "kept", files={"attachment": ("kept.png", PNG)}).status_code == 302
    url = attachment_url(stack, "kept.png")
    backup = stack.inv("backup", "--dump")
    assert backup.returncode == 0, backup.stdout[-3000:] + backup.stderr[-3000:]
    folder = stack.directory / first_group(r"Backed up \S+ to (backups/\S+)/", backup.stdout)
    try:
        kept = objects(stack)
        # Lost after the backup: an object deleted, one added.
        in_app(stack, f"from django.core.files.storage import default_storage as s; s.delete({url[7:]!r})")
        assert add_entry(stack, "later", files={"attachment": ("later.png", b"later")}).status_code == 302
        later = attachment_url(stack, "later.png")
        assert stack.get(url).status_code == 404

        broken = folder.with_name(folder.name + "-broken")
        shutil.copytree(folder, broken)
        archive = (folder / "media.tar").read_bytes()
        (broken / "media.tar").write_bytes(archive[: len(archive) // 2])
        try:
            failed = stack.inv("restore", "--dump", str(broken), "--yes")
        finally:
            shutil.rmtree(broken)
        assert failed.returncode == 1, failed.stderr[-2000:]
        assert "nothing restored" in failed.stderr, failed.stderr[-2000:]
        assert stack.get(url).status_code == 404, "nothing was restored"
        assert len(objects(stack)) == len(kept), "nothing was restored"

        restore = stack.inv("restore", "--dump", str(folder), "--yes")
        assert restore.returncode == 0, restore.stdout[-3000:] + restore.stderr[-3000:]
        # Every object of the backup back; the later upload kept, though no row names it now.
        assert kept < objects(stack)
        assert stack.get(url).content == PNG
        assert "later" not in stored_titles(stack)
        assert later.removeprefix("/media/") in objects(stack)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_missing_bucket_setting_stops_the_app_and_the_deploy_in_one_line_naming_it(stack):
    check = ("python", "manage.py", "check")
    started = stack.compose("run", "--rm", "--no-deps", "-e", "AWS_S3_REGION_NAME=", "app", *check, check=False)
    assert started.returncode == 1
    assert (
        started.stderr.strip()
        .splitlines()[-1]
        .startswith("Configuration error: AWS_S3_REGION_NAME is not set (MEDIA_STORAGE=s3).")
    )
    settings = stack.env_file.read_text()
    try:
        stack.env_file.write_text(settings.replace("AWS_STORAGE_BUCKET_NAME=media\n", ""))
        refused = stack.inv("deploy")
    finally:
        stack.env_file.write_text(settings)
    lines = (refused.stdout + refused.stderr).strip().splitlines()
    assert refused.returncode == 1, lines
    assert len(lines) == 1, lines
    assert "AWS_STORAGE_BUCKET_NAME is not set, and MEDIA_STORAGE=s3 needs it" in lines[0]
