import socket
import threading
import time

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db import connection

from tests.support import free_port


def test_returns_at_once_on_a_live_database(db, capsys):
    started = time.monotonic()
    call_command("wait_for_db", "--timeout", "5")
    assert time.monotonic() - started < 1
    assert "is ready" in capsys.readouterr().out


def test_gives_up_after_the_timeout_naming_the_host_and_the_error(unreachable_database, capsys):
    started = time.monotonic()
    with pytest.raises(CommandError) as error:
        call_command("wait_for_db", "--timeout", "1", "--interval", "0.2")
    took = time.monotonic() - started
    assert 0.8 <= took < 5
    message = str(error.value)
    host = unreachable_database.settings_dict["HOST"] or unreachable_database.settings_dict["NAME"]
    assert f"database at {host} did not answer within 1s" in message
    assert "last error:" in message
    assert "Waiting for the database" in capsys.readouterr().out


def test_exits_non_zero_with_one_line_from_the_command_line(unreachable_database):
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "wait_for_db", "--timeout", "0.5", "--interval", "0.1"])
    assert exited.value.code == 1


def _forward(listener, target):
    """Accept connections on `listener` and pipe each to the real database."""

    def pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        upstream = socket.create_connection(target)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


def test_retries_through_errors_until_the_database_comes_up(django_db_blocker, capsys):
    """The database's port opens only after a second: the command keeps trying, then succeeds."""
    if connection.vendor == "sqlite":
        pytest.skip("needs a database server to come up late")
    saved = dict(connection.settings_dict)
    target = (saved["HOST"], int(saved["PORT"] or 5432))
    port = free_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def open_late():
        time.sleep(1.2)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        _forward(listener, target)

    threading.Thread(target=open_late, daemon=True).start()
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=port)
    try:
        with django_db_blocker.unblock():
            call_command("wait_for_db", "--timeout", "15", "--interval", "0.3")
    finally:
        connection.close()
        connection.settings_dict.update(saved)
        listener.close()
    out = capsys.readouterr().out
    assert "Waiting for the database at 127.0.0.1 (try 1)" in out
    assert "is ready" in out.splitlines()[-1]


def test_stops_at_once_when_the_server_refuses_naming_the_cause(django_db_blocker):
    """A database that does not exist will not appear by waiting: one line says so, at once."""
    if connection.vendor == "sqlite":
        pytest.skip("needs a database server to refuse")
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(NAME="no_such_database")
    started = time.monotonic()
    try:
        with django_db_blocker.unblock(), pytest.raises(CommandError) as error:
            call_command("wait_for_db", "--timeout", "30", "--interval", "0.2")
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert message.startswith(f"database at {saved['HOST']} refused the connection:")
    assert 'database "no_such_database" does not exist' in message
    assert "\n" not in message
