import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from ops.database import check, first_line

# The server answered and said no (wrong password, unknown database or user): waiting cannot
# change that, so the command stops at once and says why.
REFUSALS = ("password authentication failed", "does not exist", "no pg_hba.conf entry")


class Command(BaseCommand):
    help = "Wait until the database answers a real query (not merely an open port)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--timeout",
            type=float,
            default=settings.DB_WAIT_TIMEOUT,
            help="seconds to wait in all (default: DB_WAIT_TIMEOUT, else 60)",
        )
        parser.add_argument("--interval", type=float, default=1, help="seconds between tries (default 1)")
        parser.add_argument("--database", default="default", help="database alias (default 'default')")

    def handle(self, *args, timeout, interval, database, **options):
        connection = connections[database]
        host = connection.settings_dict.get("HOST") or connection.settings_dict.get("NAME")
        deadline = time.monotonic() + timeout
        tries = 0
        while True:
            tries += 1
            try:
                check(connection)
            except DatabaseError as exc:
                error = first_line(exc)
                connection.close()
                if any(refusal in error for refusal in REFUSALS):
                    raise CommandError(f"database at {host} refused the connection: {error}") from None
                if time.monotonic() + interval > deadline:
                    raise CommandError(
                        f"database at {host} did not answer within {timeout:g}s ({tries} tries); last error: {error}"
                    ) from None
                self.stdout.write(f"Waiting for the database at {host} (try {tries}): {error}")
                time.sleep(interval)
            else:
                self.stdout.write(self.style.SUCCESS(f"Database at {host} is ready."))
                return
