"""The development stack: up, down, build, logs, ps."""

from invoke import Exit, task

from workspace.compose import Project, compose, engine_answers, explain_failure, inside_stack
from workspace.django_commands import django, host_settings
from workspace.shell import confirm, say


@task
def up(c):
    """Start the stack (app, db, proxy) and wait until it is healthy; without Docker, a host run."""
    if not engine_answers() and not inside_stack():
        env = {**host_settings(), "DEBUG": "true"}
        django(c, "migrate --noinput", env=env)
        say("Django's development server on http://127.0.0.1:8000 (Ctrl-C stops it)")
        django(c, "runserver 127.0.0.1:8000", env=env)
        return
    try:
        hint = "Fix the cause named above, then `inv up` again; `inv logs -s SERVICE` shows more."
        compose(c, "up --detach --build --wait", hint=hint)
    except Exit:
        explain_failure(c)
        raise
    settings = Project().settings()
    port = settings.get("PROXY_PORT") or "8000"
    say(f"The stack is up: http://127.0.0.1:{port}/ (admin: http://127.0.0.1:{port}/admin/)")
    say(f"The mail it sends: http://127.0.0.1:{settings.get('MAIL_PORT') or '8025'}/ (Mailpit)")


@task
def build(c):
    """Build the app and proxy images of the development stack."""
    compose(c, "build", hint="Read the build output above; `inv build` again after fixing it.")


@task(help={"volumes": "also delete the database and the uploaded files", "yes": "do not ask first"})
def down(c, volumes=False, yes=False):
    """Stop the stack; data is kept unless --volumes."""
    if volumes and not yes:
        confirm("Delete the database and all uploaded files?", "Nothing deleted. Add --yes to delete without asking.")
    compose(c, "down --remove-orphans" + (" --volumes" if volumes else ""))


@task(help={"follow": "keep printing new lines", "service": "app, db or proxy (default: all)"})
def logs(c, service="", follow=False):
    """Show the stack's logs."""
    compose(c, f"logs --tail 200 {'--follow ' if follow else ''}{service}")


@task
def ps(c):
    """List the stack's containers and their health."""
    compose(c, "ps --all")
