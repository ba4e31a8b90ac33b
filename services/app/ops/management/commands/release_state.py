import json

from django.core.management.base import BaseCommand
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from ops.releases import migration_state


class Command(BaseCommand):
    help = (
        "The migration state a release records (docs/releases.md): one JSON line with every app that "
        "has migrations and the name of its latest applied one (null: none applied)."
    )

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(migration_state(MigrationLoader(connection))))
