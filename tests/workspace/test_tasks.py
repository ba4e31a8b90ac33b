"""What the tasks run (tasks/, workspace/django_commands.py), checked as commands with invoke's
MockContext: no engine, no containers."""

import os
import sys

import pytest
from invoke import Exit

import workspace.compose
from tasks import app, checks
from tests.workspace.conftest import commands, mock_context
from workspace import django_commands


@pytest.fixture
def dev_stack_running(engine, monkeypatch):
    """The development stack up, as the tasks see it (whether or not this checkout has a .env)."""
    monkeypatch.delenv("WORKSPACE_IN_STACK", raising=False)
    monkeypatch.setattr(django_commands, "engine_answers", lambda env=None: True)
    monkeypatch.setattr(django_commands, "running_services", lambda c: {"app", "db", "proxy"})
    monkeypatch.setattr(workspace.compose, "ensure_env_file", lambda: None)
    return mock_context()


def test_words_after_the_double_dash_reach_pytest_once_as_root_too(dev_stack_running, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["inv", "test", "--", "services/app/todos/tests/test_views.py", "-vv"])
    monkeypatch.setattr(os, "getuid", lambda: 0)
    checks.test(dev_stack_running)
    pytest_run = next(command for command in commands(dev_stack_running) if "pytest" in command)
    assert pytest_run.endswith("app python -m pytest -p no:cacheprovider services/app/todos/tests/test_views.py -vv")


def test_inside_the_stack_psql_is_django_dbshell_with_the_settings_password(monkeypatch):
    monkeypatch.setenv("WORKSPACE_IN_STACK", "1")
    c = mock_context()
    app.psql(c)
    assert commands(c)[-1].endswith("manage.py dbshell")


def test_startapp_in_a_checkout_the_containers_cannot_write_says_so_in_one_line(
    dev_stack_running, monkeypatch, tmp_path
):
    checkout = tmp_path / "app"
    checkout.mkdir(mode=0o755)
    monkeypatch.setattr(django_commands, "APP_DIR", checkout)
    monkeypatch.setenv("APP_UID", "54321")
    with pytest.raises(Exit) as refused:
        app.startapp(dev_stack_running, "blog")
    message = str(refused.value.message)
    assert "the containers write as uid 54321" in message
    assert "chown -R 54321:54321 ." in message
    assert len(message.splitlines()) == 1
    assert not [command for command in commands(dev_stack_running) if "startapp" in command]


def test_startapp_in_a_checkout_the_containers_own_runs_in_the_app_container(dev_stack_running, monkeypatch):
    monkeypatch.setenv("APP_UID", str(django_commands.APP_DIR.stat().st_uid))
    app.startapp(dev_stack_running, "blog")
    assert commands(dev_stack_running)[-1].endswith("app python manage.py startapp blog")
