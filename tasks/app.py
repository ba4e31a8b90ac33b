"""The Django project's commands, run where workspace/django_commands.py says: manage, startapp, migrate,
makemigrations, superuser, shell, queue, psql; and remove-example."""

import os

from invoke import Exit, task

from workspace import example
from workspace.compose import Project, compose, inside_stack
from workspace.django_commands import django, require_writable_checkout
from workspace.shell import TTY, say, typed_words


@task(positional=["command"], help={"command": "the manage.py command (help lists them); its own words follow --"})
def manage(c, command):
    """Run manage.py: inv manage check, inv manage startapp -- blog, inv manage shell -- -c "print(1)"."""
    django(c, typed_words(command))


@task(help={"name": "the new app's name, a Python identifier: blog"})
def startapp(c, name):
    """Create an app in services/app, owned by you, and add it to LOCAL_APPS in the settings."""
    if not name.isidentifier():
        raise Exit(f"{name!r} cannot be an app name: use letters, digits and underscores (blog, shop_orders).", 1)
    require_writable_checkout()
    django(c, f"startapp {name}")


@task
def migrate(c):
    """Apply the database migrations."""
    django(c, "migrate --noinput")


@task
def makemigrations(c):
    """Create migrations for model changes; more words after --: inv makemigrations -- blog."""
    require_writable_checkout()
    django(c, typed_words("makemigrations"))


@task
def superuser(c):
    """Create a superuser: asks, or takes DJANGO_SUPERUSER_USERNAME/_EMAIL/_PASSWORD without asking."""
    names = ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD")
    given = {name: os.environ[name] for name in names if os.environ.get(name)}
    if "DJANGO_SUPERUSER_USERNAME" in given and "DJANGO_SUPERUSER_PASSWORD" in given:
        given.setdefault("DJANGO_SUPERUSER_EMAIL", "")
        django(c, "createsuperuser --noinput", env=given)
    elif TTY:
        django(c, "createsuperuser")
    else:
        raise Exit("No terminal to ask on: set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD.", 1)


@task
def shell(c):
    """Open Django's shell."""
    django(c, "shell")


@task(help={"retry": "enqueue the failed task with this id again"})
def queue(c, retry=0):
    """Show the background tasks: how many wait, run, failed and are done, by task; the failed ones."""
    django(c, f"queue --retry {retry}" if retry else "queue")


@task
def psql(c):
    """Open psql on the stack's database."""
    if inside_stack():
        # The settings' database, password included.
        django(c, "dbshell")
        return
    settings = Project().settings()
    tty = "" if TTY else "-T"
    compose(c, f"exec {tty} db psql -U {settings.get('POSTGRES_USER', 'app')} {settings.get('POSTGRES_DB', 'app')}")


@task
def remove_example(c):
    """Remove the example app (services/app/todos): its folder, its line in LOCAL_APPS, its route."""
    try:
        changes = example.remove_example()
    except example.ExampleError as refused:
        raise Exit(str(refused), 1) from None
    for change in changes:
        say(change)
    say("A database that had the example keeps its table, todos_todo (docs/developing.md).")
