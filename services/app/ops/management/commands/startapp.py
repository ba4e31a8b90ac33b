"""Django's startapp, which also adds the new app to LOCAL_APPS in config/settings.py, so that
its models migrate and its tests run without a second step."""

import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import startapp

SETTINGS = Path(settings.BASE_DIR) / "config" / "settings.py"
LOCAL_APPS = re.compile(r"^LOCAL_APPS = \[\n(?:    .*\n)*?(?=\]\n)", re.MULTILINE)


class Command(startapp.Command):
    help = startapp.Command.help + " Adds the app to LOCAL_APPS in config/settings.py."

    def handle(self, **options):
        super().handle(**options)
        if options.get("directory"):
            # Made somewhere else: where it belongs in the settings is the user's choice.
            return
        name = options["name"]
        text = SETTINGS.read_text()
        block = LOCAL_APPS.search(text)
        if block is None:
            raise CommandError(f"Created {name}/, but found no LOCAL_APPS list in {SETTINGS}: add {name!r} by hand.")
        SETTINGS.write_text(text[: block.end()] + f'    "{name}",\n' + text[block.end() :])
        self.stdout.write(f"Created {name}/ and added it to LOCAL_APPS in config/settings.py.")
