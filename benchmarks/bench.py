"""The workspace's benchmark (`inv bench`): serving speed, build time, image size and start-up,
ours measured side by side with what a user might pick instead, in one run on one machine.

It starts its own compose project (compose.yaml + compose.bench.yaml, and SeaweedFS for the
bucket: tests/stack/compose.seaweedfs.yaml) on free loopback ports,
prints a line per case, writes results.json, results.md and results.png to benchmarks/results/,
and tears everything down. Settings such as UWSGI_PROCESSES or CONN_MAX_AGE set in the
environment reach the bench stack, to measure a change before making it the default.
Exit status 1 when a case fails (an error, a wrong answer); speeds are reported, never asserted.
"""

import argparse
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

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
# With the store the object-storage tests use (SeaweedFS), for the media case from a bucket.
FILES = ("compose/compose.yaml", "compose/compose.bench.yaml", "tests/stack/compose.seaweedfs.yaml")
APP_DOCKERFILE = ROOT / "services" / "app" / "Dockerfile"
PROXY_DOCKERFILE = ROOT / "services" / "proxy" / "Dockerfile"
PROXY_TEMPLATE = ROOT / "services" / "proxy" / "default.conf.tpl"
# Stack settings taken from the environment when set, for tuning runs.
TUNABLE = ("UWSGI_PROCESSES", "UWSGI_THREADS", "UWSGI_HARAKIRI", "CONN_MAX_AGE", "LOG_LEVEL")
SERVICES = ("db", "app", "proxy")
TODOS = 50
MEDIA_FILE = "bench/one-megabyte.bin"
COMPILERS = ("gcc", "cc", "c++", "g++", "clang")

# Full and quick mode: wrk's connections and threads, warm-up and measured seconds per case.
MODES = {
    "full": {"connections": 32, "threads": 2, "warmup": 5, "duration": 20},
    "quick": {"connections": 8, "threads": 2, "warmup": 1, "duration": 3},
}


class CaseFailed(Exception):
    """A case could not be measured: the run goes on, and exits 1 at the end."""


def progress(message: str) -> None:
    print(f"bench: {message}", flush=True)


def sh(*args: str, check=True, env=None, timeout=1800) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise CaseFailed(f"`{' '.join(args)}` failed (exit {result.returncode}):\n{output}")
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
    return re.search(pattern, dockerfile.read_text(), re.M | re.I).group(1)


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
    passes = variant.count("uwsgi_pass $app;") + variant.count("include uwsgi_params;")
    # `location /`, `location @app` (a static file nginx does not have) and `location @media` (an
    # upload the volume does not have) pass to the app.
    if removed != 1 or passes != 6:
        raise CaseFailed(f"{PROXY_TEMPLATE.relative_to(ROOT)} changed shape: update gunicorn_proxy_template()")
    variant = variant.replace("uwsgi_pass $app;", "proxy_pass http://$app;")
    variant = variant.replace("include uwsgi_params;", headers)
    # uwsgi_buffers, uwsgi_connect_timeout, ...: the same setting for the HTTP proxy module.
    return re.sub(r"\buwsgi_(\w+)\s", r"proxy_\1 ", variant)


class Stack:
    """The bench's compose project: our stack and the alternative, on free loopback ports."""

    def __init__(self, workdir: Path):
        self.project = f"bench-{uuid.uuid4().hex[:8]}"
        self.port, self.alt_port, self.s3_port = free_port(), free_port(), free_port()
        template = workdir / "proxy-gunicorn.conf.tpl"
        template.write_text(gunicorn_proxy_template(PROXY_TEMPLATE.read_text()))
        template.chmod(0o644)
        self.settings = {name: os.environ[name] for name in TUNABLE if os.environ.get(name)}
        self.env = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "PROXY_PORT": str(self.port),
            "BENCH_ALT_PORT": str(self.alt_port),
            "BENCH_PROXY_TEMPLATE": str(template),
            "BENCH_S3_PORT": str(self.s3_port),
            "AWS_ACCESS_KEY_ID": secrets.token_hex(10),
            "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
            **self.settings,
        }
        self.env_file = workdir / "bench.env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))

    def compose(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        names = [x for f in FILES for x in ("-f", f)]
        # The env file must win over the caller's environment (compose prefers the latter).
        env = {k: v for k, v in os.environ.items() if k not in self.env and k not in ("APP_UID", "APP_GID")}
        command = ("docker", "compose", "-p", self.project, *names, "--env-file", str(self.env_file), *args)
        return sh(*command, env=env, **kwargs)

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


def measure_build(project: str, quick: bool) -> dict:
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
            raise CaseFailed("the rebuild after a view change reinstalled the dependencies")
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
    while status(f"http://127.0.0.1:{stack.port}/") != 200:
        if time.monotonic() - started > 120:
            raise CaseFailed("the proxy did not answer 200 within 120 s of restarting the app")
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
            raise CaseFailed("the bucket's store (seaweedfs) did not answer within 60s")
        time.sleep(1)
    manifest = stack.python(
        "import json, os; from pathlib import Path; "
        "manifest = json.loads(Path(os.environ['STATIC_ROOT'], 'staticfiles.json').read_text()); "
        "print(manifest['paths']['admin/css/base.css'])"
    )
    return {"dynamic": "/", "healthz": "/healthz", "static": f"/static/{manifest}", "media": f"/media/{MEDIA_FILE}"}


def cases(stack: Stack, paths: dict[str, str]) -> list[dict]:
    ours, alt = stack.port, stack.alt_port
    table = (
        ("dynamic", f"Todo list page ({TODOS} todos, reads the database)", (("uWSGI", ours), ("gunicorn", alt))),
        ("healthz", "/healthz (one query)", (("uWSGI", ours), ("gunicorn", alt))),
        ("static", "hashed admin CSS", (("nginx", ours), ("WhiteNoise", alt))),
        ("media", "1 MB media file", (("nginx, volume", ours), ("nginx, S3 bucket", stack.s3_port))),
    )
    return [
        {
            "case": case,
            "what": what,
            "server": server,
            "path": paths[case],
            "url": f"http://127.0.0.1:{port}{paths[case]}",
        }
        for case, what, servers in table
        for server, port in servers
    ]


def check_answer(case: dict) -> None:
    """One plain request first: a wrong answer would make the numbers meaningless."""
    try:
        response = requests.get(case["url"], timeout=30)
    except requests.RequestException as error:
        raise CaseFailed(f"{case['url']}: {error}") from error
    if response.status_code != 200:
        raise CaseFailed(f"{case['url']} answered {response.status_code}, not 200")
    if case["case"] == "dynamic" and response.text.count("Bench todo ") < TODOS:
        raise CaseFailed(f"{case['url']} does not list the {TODOS} todos")


def wrk(url: str, mode: dict, seconds: int) -> dict:
    # Browsers ask for compressed responses; so does the bench, so gzip is part of the cost.
    result = sh(
        "wrk", f"--threads={mode['threads']}", f"--connections={mode['connections']}", f"--duration={seconds}s",
        "--timeout=10s", "--header=Accept-Encoding: gzip", f"--script={HERE / 'wrk_report.lua'}", url,
        timeout=seconds + 60,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_serving(stack: Stack, mode: dict, failures: list[str]) -> list[dict]:
    """Each case: a check of the answer, a warm-up, then the measured wrk run. A failed case is
    added to `failures` and the others still run."""
    paths = prepare_content(stack)
    results = []
    todo = cases(stack, paths)
    for number, case in enumerate(todo, 1):
        label = f"serving [{number}/{len(todo)}] {case['case']}, {case['server']}"
        try:
            check_answer(case)
            wrk(case["url"], mode, mode["warmup"])
            raw = wrk(case["url"], mode, mode["duration"])
        except CaseFailed as failure:
            progress(f"{label}: FAILED: {failure}")
            failures.append(f"{label}: {failure}")
            continue
        socket_errors = sum(raw[k] for k in ("connect", "read", "write", "timeout"))
        row = {
            **{k: case[k] for k in ("case", "what", "server", "path")},
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
        if raw["status"] or not raw["requests"]:
            failures.append(f"{label}: {raw['status']} answers were not 2xx/3xx of {raw['requests']}")
    return results


# --------------------------------------------------------------------------- targets and report


def targets(results: dict) -> list[dict]:
    """The project's targets, judged on this run's numbers (reported, never asserted)."""
    rows = []
    serving = {(r["case"], r["server"]): r for r in results.get("serving", [])}
    ours, alt = serving.get(("dynamic", "uWSGI")), serving.get(("dynamic", "gunicorn"))
    if ours and alt:
        ratio = ours["requests_per_s"] / alt["requests_per_s"]
        rows.append(
            {
                "target": "dynamic page: ≥ 1.1× gunicorn's requests/s, p99 no worse",
                "measured": f"{ratio:.2f}×, p99 {ours['p99_ms']} ms vs {alt['p99_ms']} ms",
                "met": ratio >= 1.1 and ours["p99_ms"] <= alt["p99_ms"],
            }
        )
    ours, alt = serving.get(("static", "nginx")), serving.get(("static", "WhiteNoise"))
    if ours and alt:
        ratio = ours["requests_per_s"] / alt["requests_per_s"]
        rows.append({"target": "static file: nginx ≥ 10× WhiteNoise", "measured": f"{ratio:.1f}×", "met": ratio >= 10})
    if "rebuild_s" in results.get("build", {}):
        seconds = results["build"]["rebuild_s"]
        rows.append({"target": "code-only rebuild ≤ 10 s", "measured": f"{seconds} s", "met": seconds <= 10})
    if "app" in results.get("size", {}):
        added = results["size"]["app"]["added_bytes"] / 1e6
        rows.append(
            {"target": "app image adds ≤ 120 MB to its base", "measured": f"{added:.0f} MB", "met": added <= 120}
        )
    if "up_to_healthy_s" in results.get("startup", {}):
        seconds = results["startup"]["up_to_healthy_s"]
        rows.append({"target": "stack healthy ≤ 10 s after inv up", "measured": f"{seconds} s", "met": seconds <= 10})
    return rows


def markdown(results: dict) -> str:
    info, mode = results["conditions"], results["conditions"]["wrk"]
    lines = [
        "# inv bench results",
        "",
        f"{info['date']}, {info['mode']} mode, {info['cpus']} CPUs, {info['docker']}; "
        f"settings from the environment: {info['settings'] or 'none (the defaults)'}.",
    ]
    if results.get("serving"):
        lines += [
            "",
            f"## Serving (wrk through the proxy on loopback: {mode['connections']} connections, "
            f"{mode['threads']} threads, {mode['duration']} s after {mode['warmup']} s warm-up, Accept-Encoding: gzip)",
            "",
            "| case | server | requests/s | p50 ms | p99 ms | errors |",
            "|---|---|--:|--:|--:|--:|",
        ]
        lines += [
            f"| {r['what']} | {r['server']} | {r['requests_per_s']:.0f} | {r['p50_ms']} | {r['p99_ms']} "
            f"| {r['errors']} |"
            for r in results["serving"]
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
            f"| size: {service} image adds to {size['base']} | {size['added_bytes'] / 1e6:.1f} MB, "
            f"{size['added_layers']} layers ({size['layers']} in all) |"
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    rows = results.get("serving", [])
    if not rows:
        return
    labels = [f"{r['case']}\n{r['server']}" for r in rows]
    ours = ["#2b6cb0" if r["server"].startswith(("uWSGI", "nginx")) else "#a0aec0" for r in rows]
    figure, (speed, p99) = plt.subplots(1, 2, figsize=(12, 4.5))
    speed.bar(labels, [r["requests_per_s"] for r in rows], color=ours)
    speed.set_yscale("log")
    speed.set_title("requests/s (log scale; more is better)")
    p99.bar(labels, [r["p99_ms"] for r in rows], color=ours)
    p99.set_yscale("log")
    p99.set_title("p99 latency, ms (log scale; less is better)")
    for axes in (speed, p99):
        axes.tick_params(axis="x", labelsize=8)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
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
        results = {
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
                except CaseFailed as failure:
                    fail(part, failure)

        def fail(part, failure):
            progress(f"{part}: FAILED: {failure}")
            results["failures"].append(f"{part}: {failure}")

        progress(f"{results['conditions']['mode']} run of {', '.join(parts)}; compose project {stack.project}")
        try:
            attempt("build", measure_build, stack.project, options.quick)
            if {"size", "startup", "serving"} & set(parts):
                progress("stack: building and starting ours (the first start migrates) ...")
                stack.compose("up", "--detach", "--build", "--wait", *SERVICES)
                attempt("size", measure_size, stack)
                attempt("startup", measure_startup, stack)
            if "serving" in parts:
                progress("stack: building and starting the alternative (gunicorn + WhiteNoise) ...")
                stack.compose("up", "--detach", "--build", "--wait")
                results["serving"] = measure_serving(stack, mode, results["failures"])
        except CaseFailed as failure:
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
