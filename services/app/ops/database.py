"""The database check the healthcheck and wait_for_db share, and the one-line error text the
logs and messages use for a database (or storage) error."""

from django.db import connection as default_connection


def check(connection=default_connection):
    """Run a real query (not merely open a port); raises DatabaseError while the database is away."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def first_line(exc):
    """The error's first line (its type's name when it has no text): one log line, no trace."""
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]
