import importlib

import pytest
from django.conf import settings
from django.db import connection
from django.urls import clear_url_caches

import config.urls
import ops.urls
from tests.support import free_port


def reload_urls():
    """The URLconf built again from the settings of now: the media and DEBUG routes are chosen
    when it is imported."""
    clear_url_caches()
    importlib.reload(ops.urls)
    importlib.reload(config.urls)
    importlib.reload(importlib.import_module(settings.ROOT_URLCONF))


@pytest.fixture
def debug_on(settings, media_root):
    """DEBUG on, with the URLconf rebuilt, since it adds the static and media routes at import."""
    settings.DEBUG = True
    reload_urls()
    yield
    settings.DEBUG = False
    reload_urls()


@pytest.fixture
def unreachable_database(django_db_blocker):
    """The default connection pointed at a closed port, as if the database server were down.
    Restored afterwards."""
    if connection.vendor == "sqlite":
        pytest.skip("needs a database server (the run uses SQLite)")
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=free_port())
    with django_db_blocker.unblock():
        yield connection
        connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)
