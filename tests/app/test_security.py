"""The app's part of the protections in docs/security.md: an account locked after repeated failed
logins (django-axes) and unlocked by an admin; the proxy's question before it reads a body; the
pages' Content-Security-Policy; only a file a row names, and a private one to whom its row
allows; HSTS as chosen."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.test import Client

from journal.models import Entry
from tests.app.conftest import reload_urls

pytestmark = pytest.mark.django_db

APP = Path(__file__).resolve().parents[2] / "services" / "app"
PASSWORD = "the-right-password-1"


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password=PASSWORD)


def log_in(client, username="alice", password=PASSWORD, path="/login/"):
    return client.post(path, {"username": username, "password": password})


def test_an_account_is_locked_after_ten_failed_logins_even_with_the_right_password(client, user):
    for _ in range(9):
        assert log_in(client, password="wrong").status_code == 200
    assert log_in(client, password="wrong").status_code == 429
    refused = log_in(client)
    assert refused.status_code == 429
    assert "locked" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lock_is_the_accounts_not_the_addresss_and_other_users_log_in(client, user, django_user_model):
    django_user_model.objects.create_user("bob", password=PASSWORD)
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(10):
        log_in(client, password="wrong")
    assert log_in(elsewhere).status_code == 429, "the same account from another address"
    assert log_in(client, "bob").status_code == 302


def test_an_admin_unlocks_an_account_and_a_login_starts_the_count_again(client, admin_client, user):
    for _ in range(10):
        log_in(client, password="wrong")
    attempt = apps.get_model("axes", "AccessAttempt").objects.get(username="alice")
    changelist = admin_client.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200
    assert "alice" in changelist.content.decode()
    deleted = admin_client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert log_in(client).status_code == 302
    client.logout()
    for _ in range(9):
        log_in(client, password="wrong")
    assert log_in(client).status_code == 302, "the nine failures before a login count no more"


def test_the_admin_login_counts_too(client, user):
    for _ in range(10):
        log_in(client, password="wrong", path="/admin/login/")
    assert log_in(client).status_code == 429


def test_the_proxy_learns_whether_a_session_is_a_logged_in_users(client, user):
    assert client.get("/_session").status_code == 403
    client.force_login(user)
    response = client.get("/_session")
    assert response.status_code == 204
    assert "no-cache" in response["Cache-Control"]


def test_pages_send_a_content_security_policy_without_inline_script_or_style(client, admin_client, settings):
    # Enforced, as with DEBUG off: the settings choose at start, and `inv test` runs where it is on.
    settings.CONTENT_SECURITY_POLICY, settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.PAGE_POLICY, None
    for page in (client.get("/"), client.get("/login/"), admin_client.get("/admin/")):
        policy = page["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        html = page.content.decode()
        assert "<style" not in html
        assert "<script>" not in html


@pytest.fixture
def bucket(settings):
    """Uploads in a bucket (MEDIA_STORAGE=s3), with the URLconf's media route. Signing a URL is a
    computation: no store is asked."""
    settings.MEDIA_STORAGE = "s3"
    settings.AWS_STORAGE_BUCKET_NAME = "media"
    settings.AWS_S3_ENDPOINT_URL = "http://store.test:8333"
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_ACCESS_KEY_ID = "key"
    settings.AWS_SECRET_ACCESS_KEY = "secret"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "ops.storage.ObjectStorage"}}
    reload_urls()
    yield
    settings.MEDIA_STORAGE = "volume"
    reload_urls()


def entry_with(name: str) -> Entry:
    """An entry of the test app whose attachment is the object NAME (never written: the store is
    not asked)."""
    entry = Entry.objects.create(title=name)
    Entry.objects.filter(pk=entry.pk).update(attachment=name)
    return entry


@pytest.mark.parametrize("key", ["attachments/plain.png", "attachments/a b%20c?d#e+f.png"])
def test_an_attachment_is_sent_to_the_proxy_with_its_key_encoded_once(client, bucket, key):
    entry_with(key)
    link = default_storage.url(key)
    response = client.get(link)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/_bucket"
    signed = urlsplit(response["X-Bucket-Url"])
    assert signed.netloc.endswith("store.test:8333")
    assert "X-Amz-Signature=" in signed.query
    # The key exactly once, as the store wants it: %-encoded, nothing raw that nginx would split.
    assert signed.path.endswith(link.removeprefix("/media"))
    assert not set(" #?") & set(signed.path)


@pytest.mark.parametrize(
    ("key", "named"),
    [("attachments/orphan.png", False), (".restoring/attachments/staged.png", False), ("notes/x.png", True)],
    ids=["no row names it", "a restore's staging copy", "named by a row, in any folder"],
)
def test_only_a_file_a_row_names_is_served_from_the_bucket(client, bucket, key, named):
    if named:
        entry_with(key)
    response = client.get(f"/media/{key}")
    assert response.status_code == (200 if named else 404)
    assert ("X-Accel-Redirect" in response) is named


PRIVATE = "private/files/0123abcd.pdf"


@pytest.fixture(params=["volume", "bucket"])
def storage(request):
    """Uploads on the volume (the default) or in a bucket."""
    if request.param == "bucket":
        request.getfixturevalue("bucket")
    return request.param


def test_a_private_file_of_a_model_without_a_rule_sends_a_visitor_to_log_in_and_goes_to_a_user(
    client, user, storage, monkeypatch
):
    monkeypatch.delattr(Entry, "may_download")
    entry_with(PRIVATE)
    refused = client.get(f"/media/{PRIVATE}")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/login/?next=/media/private/")
    client.force_login(user)
    served = client.get(f"/media/{PRIVATE}")
    assert served.status_code == 200
    expected = "/_bucket" if storage == "bucket" else "/_private/files/0123abcd.pdf"
    assert served["X-Accel-Redirect"] == expected


def test_a_private_file_follows_its_models_rule(client, user, django_user_model, storage, monkeypatch):
    entry_with(PRIVATE)
    monkeypatch.setattr(Entry, "may_download", lambda row, who: who.username == "alice")
    client.force_login(django_user_model.objects.create_user("mallory"))
    assert client.get(f"/media/{PRIVATE}").status_code == 403
    client.force_login(user)
    assert client.get(f"/media/{PRIVATE}").status_code == 200


def test_a_private_name_no_row_holds_is_a_404_even_to_a_user(client, user, storage):
    client.force_login(user)
    response = client.get(f"/media/{PRIVATE}")
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


def settings_of(*names: str, **env) -> str:
    """The settings NAMES (the HSTS ones by default) and check --deploy's HSTS warnings, in a fresh
    interpreter with ENV."""
    names = names or ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        f"print(*(bool(getattr(s, n)) if 'POLICY' in n else getattr(s, n) for n in {names!r}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "HTTPS"))}
    environment = {**base, "DJANGO_SETTINGS_MODULE": "config.settings", "ALLOWED_HOSTS": "example.com", **env}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=APP, env=environment, capture_output=True, text=True, timeout=60, check=False)

    values = run(sys.executable, "-c", code).stdout.strip()
    check = run(sys.executable, "manage.py", "check", "--deploy", "--tag", "security")
    hsts_warnings = [w for w in ("W004", "W005", "W021") if w in check.stdout + check.stderr]
    return f"{values} {hsts_warnings}"


def test_hsts_is_a_year_without_subdomains_or_preload_unless_asked_and_check_deploy_agrees():
    assert settings_of(HTTPS="true") == "31536000 False False []"
    asked = settings_of(HTTPS="true", SECURE_HSTS_INCLUDE_SUBDOMAINS="true", SECURE_HSTS_PRELOAD="true")
    assert asked == "31536000 True True []"
    assert settings_of(HTTPS="true", SECURE_HSTS_SECONDS="300") == "300 False False []"


def test_with_debug_on_the_pages_policy_only_reports_for_djangos_debug_pages():
    names = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
    assert settings_of(*names, DEBUG="true").startswith("False True ")
    assert settings_of(*names, DEBUG="false", SECRET_KEY="s" * 50).startswith("True False ")
