"""How every Django test of this repository runs (tests/app and the apps' own tests under
services/app; pyproject.toml loads this plugin with `-p`): which database, a fast password hasher,
background tasks run at once,
uploads in a folder of each test's own, templates without a collected static manifest.

The database: DATABASE_URL if set (the stack's db service, where `inv test` runs them); else
a throwaway PostgreSQL server from the local binaries; else the embedded SQLite default. The
pytest header says which.

The server's URL goes into DATABASE_URL before pytest-django loads the settings, which read it as
they read any DATABASE_URL: a hook of a plugin, as a conftest is loaded only after the settings."""

import os
import subprocess

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections

from tests.throwaway_postgres import ThrowawayPostgres, find_binaries

note_key = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    if not early_config.pluginmanager.hasplugin("django"):
        return  # a run without Django (`-p no:django`)
    early_config.stash[note_key] = choose_database(early_config)


def choose_database(config: pytest.Config) -> str:
    """Sets DATABASE_URL to the throwaway server's when there is none and the server starts;
    returns where the database comes from, for the header."""
    if os.environ.get("DATABASE_URL"):
        return "from DATABASE_URL"
    bindir = find_binaries()
    if bindir is None:
        return "no DATABASE_URL and no PostgreSQL binaries (initdb, pg_ctl) found"
    try:
        server = ThrowawayPostgres(bindir).start()
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return f"the throwaway PostgreSQL did not start ({detail.strip()[:200]})"

    def stop() -> None:
        connections.close_all()
        server.stop()

    config.add_cleanup(stop)
    os.environ["DATABASE_URL"] = server.url
    return f"a throwaway server from {bindir}"


def pytest_report_header(config: pytest.Config) -> str | None:
    if note_key not in config.stash:
        return None
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"database: SQLite ({db['NAME']}), {config.stash[note_key]}"
    return f"database: PostgreSQL at {db['HOST']}:{db['PORT'] or 5432}, {config.stash[note_key]}"


class DjangoTestDefaults:
    """Fixtures for every Django test, the project's own included."""

    @pytest.fixture(autouse=True)
    def media_root(self, settings, tmp_path):
        """Every test writes uploads into a folder of its own."""
        settings.MEDIA_ROOT = tmp_path / "media"
        return settings.MEDIA_ROOT

    @pytest.fixture(autouse=True)
    def immediate_tasks(self, settings):
        """Background tasks run at once, inside the test, as Celery's "eager" mode has them: a test
        sees what its task did (its mail in mail.outbox) with no worker."""
        settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    @pytest.fixture(autouse=True)
    def plain_static_storage(self, settings):
        """Templates render without a collectstatic manifest (the hashed storage needs one)."""
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }

    @pytest.fixture
    def upload(self):
        """A file as a form would upload it: upload(name, content, content_type)."""

        def make(name="notes.txt", content=b"hello attachment\n", content_type="text/plain"):
            return SimpleUploadedFile(name, content, content_type=content_type)

        return make


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """With Django (not `-p no:django`): the fixtures above, and a fast password hasher, as
    cookiecutter-django's test settings have: a test run needs no protection from guessing, and
    every login a test makes then costs microseconds instead of the production hasher's
    deliberate fraction of a second."""
    if config.pluginmanager.hasplugin("django"):
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        config.pluginmanager.register(DjangoTestDefaults(), "django-test-defaults")
