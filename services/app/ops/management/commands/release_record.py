import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

# Kept in the site's own database, beside the schema the releases expect: a restore brings back
# the records of its time with it. Outside Django's migrations, so a rollback never touches it.
TABLE = """
CREATE TABLE IF NOT EXISTS workspace_release (
    name text PRIMARY KEY,
    recorded timestamptz NOT NULL DEFAULT now(),
    record jsonb NOT NULL
)
"""


class Command(BaseCommand):
    help = (
        "The site's releases (inv deploy records them): `add RECORD` stores a release's JSON record "
        "(its name, time, deployer, images and migration state), `list` prints them, newest first, "
        "a JSON line each."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["add", "list"])
        parser.add_argument("record", nargs="?", help="with add: the release's record, a JSON object with a name")

    def handle(self, *args, action, record=None, **options):
        with connection.cursor() as cursor:
            cursor.execute(TABLE)
            if action == "add":
                try:
                    name = json.loads(record or "")["name"]
                except (ValueError, KeyError, TypeError) as error:
                    raise CommandError("add takes a JSON object with a name: the release's record.") from error
                cursor.execute(
                    "INSERT INTO workspace_release (name, record) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET recorded = now(), record = EXCLUDED.record",
                    [name, record],
                )
                return
            cursor.execute("SELECT record FROM workspace_release ORDER BY recorded DESC")
            for (stored,) in cursor.fetchall():
                self.stdout.write(json.dumps(stored if isinstance(stored, dict) else json.loads(stored)))
