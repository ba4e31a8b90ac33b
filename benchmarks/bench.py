"""The workspace's benchmark (`inv bench`): serving speed, build time, image size and start-up,
ours measured side by side with what a user might pick instead, in one run on one machine.

It starts its own compose project (compose.yaml + compose.bench.yaml, and SeaweedFS for the
bucket: compose/compose.seaweedfs.yaml) on free loopback ports, measures each serving case
from this machine through the published ports and from a container on the stack's network,
prints a line per case, writes results.json, results.md and results.png to benchmarks/results/,
and tears everything down. Settings such as UWSGI_PROCESSES or CONN_MAX_AGE set in the
environment reach the bench stack, to measure a change before making it the default.
Exit status 1 when a case fails (an error, a wrong answer); speeds are reported, never asserted.

This module runs the parts in order; stack.py holds the bench's compose project and the build,
size and start-up measures, load.py the serving cases and wrk, tasks.py the background tasks'
queue, report.py the targets, the tables and the chart.
"""

import argparse
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.load import MODES, PROXIES, measure_serving
from benchmarks.stack import (
    SERVICES,
    CaseError,
    Stack,
    execute,
    measure_build,
    measure_size,
    measure_startup,
    progress,
)
from benchmarks.tasks import measure_tasks

PARTS = ("build", "size", "startup", "serving", "tasks")


def parse_options() -> tuple[bool, list[str]]:
    """--quick and the parts asked for (all by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds a case: proves the benchmark works")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    options = parser.parse_args()
    parts = [p.strip() for p in options.parts.split(",") if p.strip()]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    return options.quick, parts


def conditions(stack: Stack, docker: str, mode: dict, *, quick: bool) -> dict:
    """What the figures depend on: when, the machine, the engine, the settings, wrk's load."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if quick else "full",
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "docker": docker,
        "settings": ", ".join(f"{k}={v}" for k, v in stack.settings.items()),
        "wrk": mode,
    }


def fail(results: dict, part: str, failure: CaseError) -> None:
    progress(f"{part}: FAILED: {failure}")
    results["failures"].append(f"{part}: {failure}")


def attempt(results: dict, part: str, measure: Callable[[], Any]) -> None:
    """A part's figures into the results, or its failure: the next part runs either way."""
    try:
        results[part] = measure()
    except CaseError as failure:
        fail(results, part, failure)


def measure(stack: Stack, parts: list[str], results: dict, mode: dict, *, quick: bool) -> None:
    """The parts asked for, in order: the build on its own, then ours started for size and
    start-up, then the alternatives, bare nginx and the client beside it for serving."""
    if "build" in parts:
        attempt(results, "build", lambda: measure_build(stack.project, quick=quick))
    if {"size", "startup", "serving", "tasks"} & set(parts):
        progress("stack: building and starting ours (the first start migrates) ...")
        stack.compose("up", "--detach", "--build", "--wait", *SERVICES)
        if "size" in parts:
            attempt(results, "size", lambda: measure_size(stack))
        if "startup" in parts:
            attempt(results, "startup", lambda: measure_startup(stack))
        if "tasks" in parts:
            attempt(results, "tasks", lambda: measure_tasks(stack, quick=quick))
    if "serving" in parts:
        progress("stack: building and starting the alternatives, bare nginx and the client ...")
        stack.compose("up", "--detach", "--build", "--wait")
        results["serving"] = measure_serving(stack, mode, results["failures"])


def main() -> int:
    quick, parts = parse_options()
    mode = MODES["quick" if quick else "full"]
    docker = execute("docker", "version", "--format", "Docker Engine {{.Server.Version}}").stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        stack = Stack(Path(workdir), PROXIES)
        results: dict[str, Any] = {"conditions": conditions(stack, docker, mode, quick=quick), "failures": []}
        progress(f"{results['conditions']['mode']} run of {', '.join(parts)}; compose project {stack.project}")
        try:
            measure(stack, parts, results, mode, quick=quick)
        except CaseError as failure:
            fail(results, "stack", failure)
        finally:
            progress("tearing down the bench stack ...")
            stack.down()
    results["targets"] = report.targets(results)
    report.write(results)
    if results["failures"]:
        progress(f"{len(results['failures'])} failed: see above")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
