"""The workspace's benchmark (`inv bench`): serving speed, build time, image size and start-up,
ours measured side by side with what a user might pick instead, in one run on one machine.

It starts its own compose project (compose.yaml + compose.bench.yaml, and SeaweedFS for the
bucket: tests/stack/compose.seaweedfs.yaml) on free loopback ports, measures each serving case
from this machine through the published ports and from a container on the stack's network,
prints a line per case, writes results.json, results.md and results.png to benchmarks/results/,
and tears everything down. Settings such as UWSGI_PROCESSES or CONN_MAX_AGE set in the
environment reach the bench stack, to measure a change before making it the default.
Exit status 1 when a case fails (an error, a wrong answer); speeds are reported, never asserted.
"""

import argparse
import http
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from workspace.compose import BASE_FILES, Project

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
# With the store the object-storage tests use (SeaweedFS), for the media case from a bucket.
FILES = (*BASE_FILES, "compose/compose.bench.yaml", "tests/stack/compose.seaweedfs.yaml")
APP_DOCKERFILE = ROOT / "services" / "app" / "Dockerfile"
PROXY_DOCKERFILE = ROOT / "services" / "proxy" / "Dockerfile"
PROXY_TEMPLATE = ROOT / "services" / "proxy" / "default.conf.tpl"
UWSGI_INI = ROOT / "services" / "app" / "uwsgi.ini"
# Stack settings taken from the environment when set, for tuning runs.
TUNABLE = ("UWSGI_PROCESSES", "UWSGI_THREADS", "UWSGI_HARAKIRI", "CONN_MAX_AGE", "LOG_LEVEL")
SERVICES = ("db", "app", "proxy")
TODOS = 50
MEDIA_FILE = "bench/one-megabyte.bin"
COMPILERS = ("gcc", "cc", "c++", "g++", "clang")

# Full and quick mode: wrk's connections and threads, warm-up and measured seconds per case.
# Where wrk runs: here, through the proxies' published loopback ports (docker-proxy in between,
# as for a local user), and in the bench's client container on the stack's network.
VIAS = ("published port", "stack network")
# The servers compared, each reached through the proxy (a compose service) in front of it.
PYTHON_SERVERS = (
    ("uWSGI", "proxy"),
    ("gunicorn sync", "proxy-gunicorn"),
    ("gunicorn gthread", "proxy-gthread"),
    ("Granian", "proxy-granian"),
)
STATIC_SERVERS = (("nginx", "proxy"), ("WhiteNoise", "proxy-gunicorn"), ("bare nginx", "nginx-bare"))
CASES = (
    ("dynamic", f"Todo list page ({TODOS} todos, reads the database)", PYTHON_SERVERS),
    ("healthz", "/healthz (one query)", PYTHON_SERVERS),
    ("static", "hashed admin CSS", STATIC_SERVERS),
    ("media", "1 MB media file", (("nginx, volume", "proxy"), ("nginx, S3 bucket", "proxy-s3"))),
)
PROXIES = sorted({service for _, _, servers in CASES for _, service in servers})

# How long a restarted app may take to answer again; the goals for build, size and start-up.
RESTART_TIMEOUT_S = 120
REBUILD_MAX_S, APP_ADDED_MAX_MB, HEALTHY_MAX_S = 10, 120, 10

MODES = {
    "full": {"connections": 32, "threads": 2, "warmup": 5, "duration": 20},
    "quick": {"connections": 8, "threads": 2, "warmup": 1, "duration": 3},
}


class CaseError(Exception):
    """A case could not be measured: the run goes on, and exits 1 at the end."""


def progress(message: str) -> None:
    print(f"bench: {message}", flush=True)


def sh(*args: str, check=True, env=None, timeout=1800) -> subprocess.CompletedProcess:
    result = subprocess.run(args, check=False, cwd=ROOT, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise CaseError(f"`{' '.join(args)}` failed (exit {result.returncode}):\n{output}")
    return result


def timed(*args: str, **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    result = sh(*args, **kwargs)
    return time.monotonic() - started, result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_image(dockerfile: Path, stage: str | None = None) -> str:
    """The registry image a stage starts from (the first FROM, or the stage's)."""
    pattern = rf"^FROM\s+(\S+)\s+AS\s+{stage}\b" if stage else r"^FROM\s+(\S+)"
    if not (match := re.search(pattern, dockerfile.read_text(), re.M | re.I)):
        raise CaseError(f"{dockerfile.relative_to(ROOT)} has no FROM for {stage or 'its first stage'}")
    return match.group(1)


def uwsgi_setting(option: str) -> str:
    """uWSGI's value for an option: its UWSGI_ variable's, else uwsgi.ini's default. The peers get
    the same (processes, timeout)."""
    if value := os.environ.get(f"UWSGI_{option.upper()}"):
        return value
    match = re.search(rf"^if-not-env = UWSGI_{option.upper()}\n{option} = (\S+)$", UWSGI_INI.read_text(), re.M)
    if not match:
        raise CaseError(f"{UWSGI_INI.relative_to(ROOT)} has no default for {option}: update uwsgi_setting()")
    return match.group(1)


def gunicorn_proxy_template(template: str) -> str:
    """Our nginx config, passing HTTP (gunicorn) instead of uwsgi, and /static/ to the app too
    (WhiteNoise serves it there). Everything else, buffers and gzip included, stays the same."""
    variant, removed = re.subn(r"\n    location /static/ \{.*?\n    \}\n", "\n", template, flags=re.S)
    headers = "\n        ".join(
        f"proxy_set_header {name} {value};"
        for name, value in (
            ("Host", "$http_host"),
            ("X-Forwarded-Host", "$http_host"),
            ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
            ("X-Forwarded-Proto", "$forwarded_proto"),
        )
    )
    # `location /`, `location @app` (a static file nginx does not have) and `location @media` (an
    # upload the volume does not have) pass to the app, each with both lines.
    passing = ("location /", "location @app", "location @media")
    if removed != 1 or not variant.count("uwsgi_pass $app;") == variant.count("include uwsgi_params;") == len(passing):
        raise CaseError(f"{PROXY_TEMPLATE.relative_to(ROOT)} changed shape: update gunicorn_proxy_template()")
    variant = variant.replace("uwsgi_pass $app;", "proxy_pass http://$app;")
    variant = variant.replace("include uwsgi_params;", headers)
    # uwsgi_buffers, uwsgi_connect_timeout, ...: the same setting for the HTTP proxy module.
    return re.sub(r"\buwsgi_(\w+)\s", r"proxy_\1 ", variant)


class Stack:
    """The bench's compose project: our stack and the alternatives, on free loopback ports."""

    def __init__(self, workdir: Path):
        self.project = f"bench-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        template = workdir / "proxy-gunicorn.conf.tpl"
        template.write_text(gunicorn_proxy_template(PROXY_TEMPLATE.read_text()))
        template.chmod(0o644)
        self.settings = {name: os.environ[name] for name in TUNABLE if os.environ.get(name)}
        self.env = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            # The proxies' names: the Host of the requests from the stack's network.
            "ALLOWED_HOSTS": ",".join(("localhost", "127.0.0.1", *PROXIES)),
            "PROXY_PORT": str(self.port),
            "BENCH_PROXY_TEMPLATE": str(template),
            "AWS_ACCESS_KEY_ID": secrets.token_hex(10),
            "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
            **self.settings,
            # For the peers' commands (compose.bench.yaml): as many processes as uWSGI, its timeout.
            "UWSGI_PROCESSES": uwsgi_setting("processes"),
            "UWSGI_HARAKIRI": uwsgi_setting("harakiri"),
        }
        env_file = workdir / "bench.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))
        # Its env file wins over this shell, as for every stack of the workspace.
        self.compose_project = Project(files=FILES, env_file=env_file, name=self.project)

    def compose(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return sh(*self.compose_project.command(*args), env=self.compose_project.environment(), **kwargs)

    def address(self, service: str) -> str:
        """host:port of a proxy's published port (the bench's own are ephemeral)."""
        if service == "proxy":
            return f"127.0.0.1:{self.port}"
        return self.compose("port", service, "8080").stdout.strip()

    def image(self, service: str) -> str:
        return f"{self.project}-{service}"

    def python(self, code: str) -> str:
        return self.compose("exec", "-T", "app", "python", "-c", code).stdout.strip()

    def down(self):
        self.compose("down", "--volumes", "--remove-orphans", "--rmi", "local", "--timeout", "10", check=False)


def status(url: str, timeout=2) -> int:
    try:
        return requests.get(url, timeout=timeout).status_code
    except requests.RequestException:
        return 0


# --------------------------------------------------------------------------- build


def measure_build(project: str, *, quick: bool) -> dict:
    """Cold build of the app image, then a rebuild after a one-line change to the views, made in
    a copy of the build context so the working tree is never touched."""
    cold_tag, warm_tag = f"{project}-cold", f"{project}-rebuild"
    build = ("docker", "build", "--progress=plain", "--target", "runtime", "-f", "services/app/Dockerfile")
    # Quick mode proves the steps work: the cache stays on, minutes of compiling are left out.
    cold = () if quick else ("--no-cache", "--build-arg", "PIP_NO_CACHE_DIR=1")
    progress("build: cold app image" + (" (cache on: quick mode)" if quick else ", no cache (minutes)") + " ...")
    try:
        seconds, _ = timed(*build, *cold, "-t", cold_tag, ".")
        result = {"cold_s": round(seconds, 1), "cold_without_cache": not quick}
        progress(f"build: cold {seconds:.1f} s")
        with tempfile.TemporaryDirectory(prefix="bench-context-") as context:
            copy = Path(context)
            shutil.copytree(ROOT / "services" / "app", copy / "services" / "app", ignore=shutil.ignore_patterns("var"))
            shutil.copy(ROOT / "requirements-dev.txt", copy)
            copied = ("-f", str(copy / "services/app/Dockerfile"), "-t", warm_tag, str(copy))
            sh(*build[:-2], *copied)  # the copy's first build: all from the cache
            views = copy / "services" / "app" / "core" / "views.py"
            views.write_text(views.read_text() + f'\nREBUILD_MARK = "{uuid.uuid4().hex}"\n')
            seconds, output = timed(*build[:-2], *copied)
        log = output.stdout + output.stderr
        step = re.search(r"^#(\d+) \[build \d+/\d+\] RUN .*pip install", log, re.M)
        reinstalled = not step or not re.search(rf"^#{step.group(1)} CACHED", log, re.M)
        result |= {"rebuild_s": round(seconds, 1), "rebuild_reinstalled_dependencies": reinstalled}
        progress(
            f"build: rebuild after a one-line view change {seconds:.1f} s; dependencies reinstalled: {reinstalled}"
        )
        if reinstalled:
            raise CaseError("the rebuild after a view change reinstalled the dependencies")
        return result
    finally:
        sh("docker", "image", "rm", cold_tag, warm_tag, check=False)


# --------------------------------------------------------------------------- size


def image_facts(image: str) -> tuple[int, int]:
    out = sh("docker", "image", "inspect", "--format", "{{.Size}} {{len .RootFS.Layers}}", image).stdout.split()
    return int(out[0]), int(out[1])


def measure_size(stack: Stack) -> dict:
    result = {}
    for service, base in (
        ("app", base_image(APP_DOCKERFILE, "python")),
        ("proxy", base_image(PROXY_DOCKERFILE)),
    ):
        (size, layers), (base_size, base_layers) = image_facts(stack.image(service)), image_facts(base)
        result[service] = {
            "base": base,
            "added_bytes": size - base_size,
            "layers": layers,
            "added_layers": layers - base_layers,
        }
        progress(f"size: {service} adds {(size - base_size) / 1e6:.1f} MB, {layers - base_layers} layers to {base}")
    probe = "; ".join(f"command -v {c}" for c in COMPILERS) + "; true"
    found = sh("docker", "run", "--rm", "--entrypoint", "sh", stack.image("app"), "-c", probe).stdout.split()
    result["app"]["compilers"] = found
    progress(f"size: compilers in the app image: {', '.join(found) or 'none'}")
    return result


# --------------------------------------------------------------------------- start-up


def measure_startup(stack: Stack) -> dict:
    """`inv up`'s compose command after `inv down` (images built, volumes kept), then an app restart."""
    stack.compose("down")
    started = time.monotonic()
    stack.compose("up", "--detach", "--build", "--wait", *SERVICES)
    seconds = time.monotonic() - started
    result = {"up_to_healthy_s": round(seconds, 1)}
    progress(f"start-up: up to all three services healthy {seconds:.1f} s")
    started = time.monotonic()
    stack.compose("restart", "app")
    while status(f"http://127.0.0.1:{stack.port}/") != http.HTTPStatus.OK:
        if time.monotonic() - started > RESTART_TIMEOUT_S:
            raise CaseError(f"the proxy did not answer 200 within {RESTART_TIMEOUT_S} s of restarting the app")
        time.sleep(0.05)
    seconds = time.monotonic() - started
    result["restart_app_to_200_s"] = round(seconds, 1)
    progress(f"start-up: restart app until the proxy answers 200 {seconds:.1f} s")
    return result


# --------------------------------------------------------------------------- serving


def prepare_content(stack: Stack) -> dict[str, str]:
    """50 todos for the dynamic page, a 1 MB media file in the volume and one in the bucket; the URL
    paths of the served cases."""
    stack.compose(
        "exec", "-T", "app", "python", "manage.py", "shell", "-c",
        "from core.models import Todo; Todo.objects.all().delete(); "
        f"Todo.objects.bulk_create(Todo(title=f'Bench todo {{i}}', description='Measured by inv bench.') "
        f"for i in range(1, {TODOS + 1}))",
    )  # fmt: skip
    stack.python(
        "import os; from pathlib import Path; "
        f"p = Path(os.environ['MEDIA_ROOT'], '{MEDIA_FILE}'); p.parent.mkdir(exist_ok=True); "
        "p.write_bytes(os.urandom(1024 * 1024))"
    )
    # The same name in the bucket, once the store answers.
    upload = (
        "import os; from django.core.files.base import ContentFile; "
        "from django.core.files.storage import default_storage as s; s.bucket.create(); "
        f"s.save('{MEDIA_FILE}', ContentFile(os.urandom(1024 * 1024)))"
    )
    deadline = time.monotonic() + 60
    while stack.compose("exec", "-T", "app-s3", "python", "manage.py", "shell", "-c", upload, check=False).returncode:
        if time.monotonic() > deadline:
            raise CaseError("the bucket's store (seaweedfs) did not answer within 60s")
        time.sleep(1)
    manifest = stack.python(
        "import json, os; from pathlib import Path; "
        "manifest = json.loads(Path(os.environ['STATIC_ROOT'], 'staticfiles.json').read_text()); "
        "print(manifest['paths']['admin/css/base.css'])"
    )
    return {"dynamic": "/", "healthz": "/healthz", "static": f"/static/{manifest}", "media": f"/media/{MEDIA_FILE}"}


def cases(paths: dict[str, str]) -> list[dict]:
    """Every case, server and client path, grouped so that the servers of a case are measured one
    after the other on each path: a ratio compares runs minutes apart at most."""
    return [
        {"case": case, "what": what, "server": server, "service": service, "via": via, "path": paths[case]}
        for case, what, servers in CASES
        for via in VIAS
        for server, service in servers
    ]


def url(stack: Stack, case: dict) -> str:
    if case["via"] == "stack network":
        return f"http://{case['service']}:8080{case['path']}"
    return f"http://{stack.address(case['service'])}{case['path']}"


def check_answer(stack: Stack, case: dict, target: str) -> None:
    """One plain request first, from where wrk runs (the app's container stands in for the client
    on the stack's network): a wrong answer would make the numbers meaningless."""
    if case["via"] == "stack network":
        answer = stack.compose(
            "exec", "-T", "app", "python", "-c",
            "import sys, urllib.request, urllib.error\n"
            f"try: r = urllib.request.urlopen({target!r}, timeout=30)\n"
            "except urllib.error.HTTPError as error: r = error\n"
            "print(r.status, r.read().decode(errors='replace').count('Bench todo '))",
            check=False,
        )  # fmt: skip
        if answer.returncode:
            raise CaseError(f"{target}: {(answer.stdout + answer.stderr).strip()[-500:]}")
        status, todos = map(int, answer.stdout.split())
    else:
        try:
            response = requests.get(target, timeout=30)
        except requests.RequestException as error:
            raise CaseError(f"{target}: {error}") from error
        status, todos = response.status_code, response.text.count("Bench todo ")
    if status != http.HTTPStatus.OK:
        raise CaseError(f"{target} answered {status}, not 200")
    if case["case"] == "dynamic" and todos < TODOS:
        raise CaseError(f"{target} does not list the {TODOS} todos")


def wrk(stack: Stack, via: str, target: str, mode: dict, seconds: int) -> dict:
    # Browsers ask for compressed responses; so does the bench, so gzip is part of the cost.
    options = (
        f"--threads={mode['threads']}", f"--connections={mode['connections']}", f"--duration={seconds}s",
        "--timeout=10s", "--header=Accept-Encoding: gzip",
    )  # fmt: skip
    if via == "stack network":
        result = stack.compose(
            "exec", "-T", "client", "wrk", *options, "--script=/bench/wrk_report.lua", target, timeout=seconds + 60
        )
    else:
        result = sh("wrk", *options, f"--script={HERE / 'wrk_report.lua'}", target, timeout=seconds + 60)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_serving(stack: Stack, mode: dict, failures: list[str]) -> list[dict]:
    """Each case: a check of the answer, a warm-up, then the measured wrk run. A failed case is
    added to `failures` and the others still run."""
    paths = prepare_content(stack)
    results = []
    todo = cases(paths)
    for number, case in enumerate(todo, 1):
        label = f"serving [{number}/{len(todo)}] {case['case']}, {case['server']}, via {case['via']}"
        try:
            target = url(stack, case)
            check_answer(stack, case, target)
            wrk(stack, case["via"], target, mode, mode["warmup"])
            raw = wrk(stack, case["via"], target, mode, mode["duration"])
        except CaseError as failure:
            progress(f"{label}: FAILED: {failure}")
            failures.append(f"{label}: {failure}")
            continue
        socket_errors = sum(raw[k] for k in ("connect", "read", "write", "timeout"))
        row = {
            **{k: case[k] for k in ("case", "what", "server", "via", "path")},
            "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            "p50_ms": round(raw["p50_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2),
            "errors": socket_errors + raw["status"],
            "non_2xx": raw["status"],
            "requests": raw["requests"],
        }
        results.append(row)
        progress(
            f"{label}: {row['requests_per_s']:.0f} req/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
            f"errors {row['errors']}"
        )
        if row["errors"] or not raw["requests"]:
            failures.append(
                f"{label}: {row['errors']} errors ({raw['status']} not 2xx/3xx), {raw['requests']} requests"
            )
    return results


# --------------------------------------------------------------------------- targets and report


def targets(results: dict) -> list[dict]:
    """The project's targets, judged on this run's numbers for each client path (reported, never
    asserted). "gunicorn" is the better of its sync and gthread workers in the same run."""
    rows = []
    serving = {(r["via"], r["case"], r["server"]): r for r in results.get("serving", [])}
    for via in VIAS:

        def server(case, *names, via=via):
            """The server's row; of several, the faster one's."""
            found = [serving[via, case, name] for name in names if (via, case, name) in serving]
            return max(found, key=lambda r: r["requests_per_s"]) if len(found) == len(names) else None

        gunicorn = ("gunicorn sync", "gunicorn gthread")
        for goal, case, ours, peer, minimum, latency in (
            ("dynamic page: ≥ 1.10× gunicorn, p99 no worse", "dynamic", ("uWSGI",), gunicorn, 1.1, True),
            ("dynamic page: ≥ 1.0× Granian, p99 no worse", "dynamic", ("uWSGI",), ("Granian",), 1.0, True),
            ("/healthz: ≥ 1.3× gunicorn", "healthz", ("uWSGI",), gunicorn, 1.3, False),
            ("static file: nginx ≥ 20× WhiteNoise", "static", ("nginx",), ("WhiteNoise",), 20, False),
            ("static file: nginx ≥ 0.5× bare nginx", "static", ("nginx",), ("bare nginx",), 0.5, False),
        ):
            ours_row, peer_row = server(case, *ours), server(case, *peer)
            if not ours_row or not peer_row:
                continue
            ratio = ours_row["requests_per_s"] / peer_row["requests_per_s"]
            measured = f"{ratio:.2f}× {peer_row['server']}"
            met = ratio >= minimum
            if latency:
                measured += f", p99 {ours_row['p99_ms']} ms vs {peer_row['p99_ms']} ms"
                met = met and ours_row["p99_ms"] <= peer_row["p99_ms"]
            rows.append({"target": f"{goal} (via {via})", "measured": measured, "met": met})
    if "rebuild_s" in results.get("build", {}):
        seconds = results["build"]["rebuild_s"]
        rows.append(
            {
                "target": f"code-only rebuild ≤ {REBUILD_MAX_S} s",
                "measured": f"{seconds} s",
                "met": seconds <= REBUILD_MAX_S,
            }
        )
    if "app" in results.get("size", {}):
        added = results["size"]["app"]["added_bytes"] / 1e6
        rows.append(
            {
                "target": f"app image adds ≤ {APP_ADDED_MAX_MB} MB to its base",
                "measured": f"{added:.0f} MB",
                "met": added <= APP_ADDED_MAX_MB,
            }
        )
    if "up_to_healthy_s" in results.get("startup", {}):
        seconds = results["startup"]["up_to_healthy_s"]
        rows.append(
            {
                "target": f"stack healthy ≤ {HEALTHY_MAX_S} s after inv up",
                "measured": f"{seconds} s",
                "met": seconds <= HEALTHY_MAX_S,
            }
        )
    return rows


def markdown(results: dict) -> str:
    info, mode = results["conditions"], results["conditions"]["wrk"]
    lines = [
        "# inv bench results",
        "",
        (
            f"{info['date']}, {info['mode']} mode, {info['cpus']} CPUs, {info['docker']}; "
            f"settings from the environment: {info['settings'] or 'none (the defaults)'}."
        ),
    ]
    for via in VIAS:
        rows = [r for r in results.get("serving", []) if r["via"] == via]
        if not rows:
            continue
        where = (
            "on this machine, through the proxies' published loopback ports"
            if via == VIAS[0]
            else "in a container on the stack's network, to the proxies by name"
        )
        lines += [
            "",
            f"## Serving via {via}",
            "",
            (
                f"wrk {where}: {mode['connections']} connections, {mode['threads']} threads, "
                f"{mode['duration']} s after {mode['warmup']} s warm-up, Accept-Encoding: gzip."
            ),
            "",
            "| case | server | requests/s | p50 ms | p99 ms | errors |",
            "|---|---|--:|--:|--:|--:|",
        ]
        lines += [
            f"| {r['what']} | {r['server']} | {r['requests_per_s']:.0f} | {r['p50_ms']} | {r['p99_ms']} "
            f"| {r['errors']} |"
            for r in rows
        ]
    if results.get("targets"):
        lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |" for t in results["targets"]]
    facts = []
    if build := results.get("build"):
        kind = "no cache" if build["cold_without_cache"] else "cache on (quick mode)"
        facts += [f"| build: cold app image ({kind}) | {build['cold_s']} s |"]
        facts += [f"| build: rebuild after a one-line view change | {build['rebuild_s']} s |"]
        reinstalled = "yes" if build["rebuild_reinstalled_dependencies"] else "no"
        facts += [f"| build: the rebuild reinstalled dependencies | {reinstalled} |"]
    for service, size in results.get("size", {}).items():
        facts += [
            (
                f"| size: {service} image adds to {size['base']} | {size['added_bytes'] / 1e6:.1f} MB, "
                f"{size['added_layers']} layers ({size['layers']} in all) |"
            )
        ]
    if "app" in results.get("size", {}):
        facts += [f"| size: compilers in the app image | {', '.join(results['size']['app']['compilers']) or 'none'} |"]
    if startup := results.get("startup"):
        facts += [f"| start-up: `inv up` (images built, volumes kept) to healthy | {startup['up_to_healthy_s']} s |"]
        facts += [f"| start-up: restart app until the proxy answers 200 | {startup['restart_app_to_200_s']} s |"]
    if facts:
        lines += ["", "## Build, size, start-up", "", "| measure | value |", "|---|---|", *facts]
    if results["failures"]:
        lines += ["", "## Failed cases", "", *[f"- {f.splitlines()[0]}" for f in results["failures"]]]
    return "\n".join(lines) + "\n"


def chart(results: dict, path: Path) -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    rows = results.get("serving", [])
    vias = [via for via in VIAS if any(r["via"] == via for r in rows)]
    if not vias:
        return
    # One row of panels per client path, on the same scales; horizontal bars, so every case and
    # server has its label.
    figure, panels = plt.subplots(len(vias), 2, figsize=(13, 1.2 + 4.2 * len(vias)), squeeze=False, sharex="col")
    for via, (speed, p99) in zip(vias, panels, strict=True):
        mine = [r for r in rows if r["via"] == via]
        labels = [f"{r['case']}: {r['server']}" for r in mine]
        ours = ["#2b6cb0" if r["server"].startswith(("uWSGI", "nginx")) else "#a0aec0" for r in mine]
        speed.barh(labels, [r["requests_per_s"] for r in mine], color=ours)
        speed.set_title(f"via {via}: requests/s (log scale; more is better)")
        p99.barh(labels, [r["p99_ms"] for r in mine], color=ours)
        p99.set_title(f"via {via}: p99 latency, ms (log scale; less is better)")
        p99.set_yticklabels([])
        for axes in (speed, p99):
            axes.set_xscale("log")
            axes.invert_yaxis()
            axes.tick_params(axis="y", labelsize=8)
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axes.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    figure.suptitle(f"inv bench, {results['conditions']['date']} ({results['conditions']['mode']} mode); blue: ours")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --------------------------------------------------------------------------- main

PARTS = ("build", "size", "startup", "serving")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds a case: proves the benchmark works")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    options = parser.parse_args()
    parts = [p.strip() for p in options.parts.split(",") if p.strip()]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    mode = MODES["quick" if options.quick else "full"]
    docker = sh("docker", "version", "--format", "Docker Engine {{.Server.Version}}").stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        stack = Stack(Path(workdir))
        results: dict[str, Any] = {
            "conditions": {
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "mode": "quick" if options.quick else "full",
                "cpus": os.cpu_count(),
                "machine": platform.machine(),
                "docker": docker,
                "settings": ", ".join(f"{k}={v}" for k, v in stack.settings.items()),
                "wrk": mode,
            },
            "failures": [],
        }

        def attempt(part, measure, *args):
            if part in parts:
                try:
                    results[part] = measure(*args)
                except CaseError as failure:
                    fail(part, failure)

        def fail(part, failure):
            progress(f"{part}: FAILED: {failure}")
            results["failures"].append(f"{part}: {failure}")

        progress(f"{results['conditions']['mode']} run of {', '.join(parts)}; compose project {stack.project}")
        try:
            attempt("build", lambda: measure_build(stack.project, quick=options.quick))
            if {"size", "startup", "serving"} & set(parts):
                progress("stack: building and starting ours (the first start migrates) ...")
                stack.compose("up", "--detach", "--build", "--wait", *SERVICES)
                attempt("size", measure_size, stack)
                attempt("startup", measure_startup, stack)
            if "serving" in parts:
                progress("stack: building and starting the alternatives, bare nginx and the client ...")
                stack.compose("up", "--detach", "--build", "--wait")
                results["serving"] = measure_serving(stack, mode, results["failures"])
        except CaseError as failure:
            fail("stack", failure)
        finally:
            progress("tearing down the bench stack ...")
            stack.down()
    results["targets"] = targets(results)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report = markdown(results)
    (RESULTS / "results.md").write_text(report)
    chart(results, RESULTS / "results.png")
    print("\n" + report, flush=True)
    progress(f"results in {RESULTS.relative_to(ROOT)}/ (results.json, results.md, results.png)")
    if results["failures"]:
        progress(f"{len(results['failures'])} failed: see above")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
