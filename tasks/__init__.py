"""Tasks for the workspace: `inv --list` shows them, `inv --help TASK` explains one.

One module per concern; every task stays at the top level (`inv up`, `inv deploy`). A task is a
few lines over workspace/, where the logic lives and is tested without Docker (`inv check`).
Words for a wrapped command follow `--`: `inv manage shell -- -c "print(1)"`, `inv test -- --lf`.
"""

import sys
from pathlib import Path

from invoke import Collection

# invoke puts tasks/ itself on the import path, not the repository that holds workspace/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks import app, bench, checks, deploy, deps, stack

namespace = Collection()
for module in (stack, app, checks, deploy, deps, bench):
    for task in Collection.from_module(module).tasks.values():
        namespace.add_task(task)
