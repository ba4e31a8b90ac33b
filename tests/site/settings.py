"""Settings of the workspace's own Django tests (tests/app, which `inv check` runs with
`--ds tests.site.settings`): the project's, with the test app of the stack tests installed, as
`journal`, the name it has in a test stack's services/app, and routed at "/" as it is there."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "journal"]
ROOT_URLCONF = "tests.site.urls"
