import pytest
from django.core.management import call_command

from journal.models import Entry


def test_collectstatic_puts_the_admin_css_into_static_root_with_hashed_names(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    css = settings.STATIC_ROOT / "admin" / "css"
    assert (css / "base.css").is_file()
    assert list(css.glob("base.*.css")), "the hashed copy is missing"
    assert (settings.STATIC_ROOT / "staticfiles.json").is_file()


@pytest.mark.django_db
def test_with_debug_on_django_serves_media_and_static(client, debug_on, upload):
    entry = Entry.objects.create(title="t", attachment=upload("a.txt", b"attached bytes"))
    response = client.get(entry.attachment.url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"attached bytes"
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).strip()
    assert client.get("/static/favicon.ico").status_code == 200


@pytest.mark.django_db
def test_with_debug_off_django_serves_neither(client, upload):
    entry = Entry.objects.create(title="t", attachment=upload("a.txt", b"attached bytes"))
    assert client.get(entry.attachment.url).status_code == 404
    assert client.get("/static/admin/css/base.css").status_code == 404
