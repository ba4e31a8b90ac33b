"""The app's start (manage.py prepare, start.sh): the database waited for, migrations, and with
DEBUG off the static files collected, the text ones compressed once."""

import gzip

import pytest
from django.core.management import call_command


@pytest.fixture
def static_root(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STATIC_ROOT.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    return settings.STATIC_ROOT


@pytest.mark.django_db
def test_collects_and_compresses_the_text_files_then_a_second_start_compresses_nothing_again(static_root):
    call_command("prepare", "--no-migrate", verbosity=0)
    css = static_root / "admin" / "css" / "base.css"
    packed = css.with_name("base.css.gz")
    assert gzip.decompress(packed.read_bytes()) == css.read_bytes()
    assert not list(static_root.rglob("*.png.gz")), "images are left as they are"
    assert not list(static_root.rglob("*.partial"))
    kept = packed.stat().st_ino

    call_command("prepare", "--no-migrate", verbosity=0)
    assert packed.stat().st_ino == kept, "an up-to-date copy was written again"


@pytest.mark.django_db
def test_a_changed_file_is_compressed_again(static_root):
    call_command("prepare", "--no-migrate", verbosity=0)
    css = static_root / "admin" / "css" / "base.css"
    css.write_text("body { color: red }\n")
    call_command("prepare", "--no-migrate", verbosity=0)
    # Newer than its compressed copy, which follows it.
    assert gzip.decompress(css.with_name("base.css.gz").read_bytes()) == css.read_bytes()


@pytest.mark.django_db
def test_with_debug_on_nothing_is_collected(static_root, settings):
    settings.DEBUG = True
    call_command("prepare", "--no-migrate", verbosity=0)
    assert list(static_root.iterdir()) == []


@pytest.mark.django_db
def test_it_migrates_unless_told_not_to(static_root, capsys):
    call_command("prepare", verbosity=1)
    assert "Operations to perform" in capsys.readouterr().out
    call_command("prepare", "--no-migrate", verbosity=1)
    assert "Operations to perform" not in capsys.readouterr().out
