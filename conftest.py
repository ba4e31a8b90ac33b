"""Pytest's hooks for the whole repository (tests/ and the apps' own tests under services/app):
which database the Django tests use. DATABASE_URL if set (the stack's db service, where `inv test`
runs them); else a throwaway PostgreSQL server from the local binaries; else the embedded SQLite
default. The pytest header says which."""

import contextlib
import os
import subprocess

import environ
from django.conf import settings
from django.db import connections

from tests.throwaway_postgres import ThrowawayPostgres, find_binaries

_server: ThrowawayPostgres | None = None
_database = ""


def _describe(db: dict) -> str:
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite ({db['NAME']})"
    return f"PostgreSQL at {db['HOST']}:{db['PORT'] or 5432}"


def pytest_configure(config):
    global _server, _database
    if not config.pluginmanager.hasplugin("django"):
        return  # a run without Django (`-p no:django`): the stack suite
    if os.environ.get("DATABASE_URL"):
        _database = f"{_describe(settings.DATABASES['default'])}, from DATABASE_URL"
        return
    bindir = find_binaries()
    if bindir is None:
        _database = "SQLite: no DATABASE_URL and no PostgreSQL binaries (initdb, pg_ctl) found"
        return
    try:
        _server = ThrowawayPostgres(bindir).start()
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        _database = f"SQLite: the throwaway PostgreSQL did not start ({detail.strip()[:200]})"
        return
    # Settings are loaded but no query has run: point the default alias at the server, and
    # drop the connection handler's cached view of the old settings.
    server = environ.Env.db_url_config(_server.url)
    settings.DATABASES["default"] = {**settings.DATABASES["default"], **server}
    settings.DATABASES["default"].pop("OPTIONS", None)
    connections.__dict__.pop("settings", None)
    with contextlib.suppress(AttributeError):  # no connection object made yet
        del connections["default"]
    _database = f"{_describe(settings.DATABASES['default'])}, a throwaway server from {bindir}"


def pytest_unconfigure(config):
    if _server is not None:
        connections.close_all()
        _server.stop()


def pytest_report_header(config):
    if _database:
        return f"database: {_database}"
