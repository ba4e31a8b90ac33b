"""The bench's compose project and what the bench measures of it without load: the build, the
images' size and the start-up. Also what every part of the bench uses: `execute` runs a command,
`CaseError` fails a case, `progress` prints a line."""

import http
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import requests

from workspace.compose import BENCH_FILES, ROOT, Project
from workspace.reference_site import make_reference_site

APP_DOCKERFILE = ROOT / "services" / "app" / "Dockerfile"
PROXY_DOCKERFILE = ROOT / "services" / "proxy" / "Dockerfile"
PROXY_TEMPLATE = ROOT / "services" / "proxy" / "default.conf.tpl"
UWSGI_INI = ROOT / "services" / "app" / "uwsgi.ini"
# Stack settings taken from the environment when set, for tuning runs.
TUNABLE = ("UWSGI_PROCESSES", "UWSGI_THREADS", "UWSGI_HARAKIRI", "CONN_MAX_AGE", "LOG_LEVEL")
SERVICES = ("db", "app", "proxy")
COMPILERS = ("gcc", "cc", "c++", "g++", "clang")
# How long a restarted app may take to answer again.
RESTART_TIMEOUT_S = 120


class CaseError(Exception):
    """A case could not be measured: the run goes on, and exits 1 at the end."""


def progress(message: str) -> None:
    print(f"bench: {message}", flush=True)


def execute(*args: str, check=True, env=None, timeout=1800, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run a command in the repository (or CWD), its output captured; a failure (with `check`) is
    the case's, with the command and the end of its output."""
    result = subprocess.run(args, check=False, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise CaseError(f"`{' '.join(args)}` failed (exit {result.returncode}):\n{output}")
    return result


def timed(*args: str, **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    result = execute(*args, **kwargs)
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
    (WhiteNoise serves it there). Everything else, buffers and gzip included, stays the same, but
    the session check of PROXY_WRITES_NEED_LOGIN, off by default (the bench only reads: it lets
    every request through)."""
    variant, removed = re.subn(r"\n    location /static/ \{.*?\n    \}\n", "\n", template, flags=re.S)
    session = "\n    location = /_session {\n        internal;\n        return 204;\n    }\n"
    variant, checks = re.subn(r"\n    location = /_session \{.*?\n    \}\n", session, variant, flags=re.S)
    headers = "\n        ".join(
        f"proxy_set_header {name} {value};"
        for name, value in (
            ("Host", "$http_host"),
            ("X-Forwarded-Host", "$http_host"),
            ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
            ("X-Forwarded-Proto", "$forwarded_proto"),
        )
    )
    # The login pages (their own rate limit), `location /`, `location @app` (a static file nginx
    # does not have), `location /media/private/` and `location @media` (an upload the volume does
    # not have) pass to the app, each with both lines.
    passing = (
        "location ~ ^/(admin/)?log(in|out)/$",
        "location /",
        "location @app",
        "location /media/private/",
        "location @media",
    )
    passes = variant.count("uwsgi_pass $app;") == variant.count("include uwsgi_params;") == len(passing)
    if removed != 1 or checks != 1 or not passes:
        raise CaseError(f"{PROXY_TEMPLATE.relative_to(ROOT)} changed shape: update gunicorn_proxy_template()")
    variant = variant.replace("uwsgi_pass $app;", "proxy_pass http://$app;")
    variant = variant.replace("include uwsgi_params;", headers)
    # uwsgi_buffers, uwsgi_connect_timeout, ...: the same setting for the HTTP proxy module.
    return re.sub(r"\buwsgi_(\w+)\s", r"proxy_\1 ", variant)


class Stack:
    """The bench's compose project (workspace.compose's BENCH_FILES, with SeaweedFS for the media
    case from a bucket): our stack and the alternatives, on free loopback ports, built from the
    reference site (workspace/reference_site.py) in WORKDIR, so that the pages measured are the
    same whatever the project's own apps are. `proxies`: the services the load reaches by name
    from the stack's network."""

    def __init__(self, workdir: Path, proxies: Iterable[str]):
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
            "ALLOWED_HOSTS": ",".join(("localhost", "127.0.0.1", *proxies)),
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
        # Its settings are the bench's own: given by the caller, they win over this shell's.
        site = make_reference_site(workdir / "site")
        self.compose_project = Project(BENCH_FILES, env_file, self.project, self.env, directory=site)

    def compose(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        project = self.compose_project
        return execute(*project.command(*args), env=project.environment(), cwd=project.directory, **kwargs)

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
        seconds, output = rebuild_after_view_change(build[:-2], warm_tag)
        reinstalled = reinstalled_dependencies(output.stdout + output.stderr)
        result |= {"rebuild_s": round(seconds, 1), "rebuild_reinstalled_dependencies": reinstalled}
        progress(
            f"build: rebuild after a one-line view change {seconds:.1f} s; dependencies reinstalled: {reinstalled}"
        )
        if reinstalled:
            raise CaseError("the rebuild after a view change reinstalled the dependencies")
        return result
    finally:
        execute("docker", "image", "rm", cold_tag, warm_tag, check=False)


def rebuild_after_view_change(build: tuple[str, ...], tag: str) -> tuple[float, subprocess.CompletedProcess]:
    """In a copy of the build context: a first build (all from the cache), then the timed one after
    a line added to config/urls.py."""
    with tempfile.TemporaryDirectory(prefix="bench-context-") as context:
        copy = Path(context)
        shutil.copytree(ROOT / "services" / "app", copy / "services" / "app", ignore=shutil.ignore_patterns("var"))
        shutil.copy(ROOT / "requirements-dev.txt", copy)
        copied = ("-f", str(copy / "services/app/Dockerfile"), "-t", tag, str(copy))
        execute(*build, *copied)
        urls = copy / "services" / "app" / "config" / "urls.py"
        urls.write_text(urls.read_text() + f'\nREBUILD_MARK = "{uuid.uuid4().hex}"\n')
        return timed(*build, *copied)


def reinstalled_dependencies(log: str) -> bool:
    """Whether BuildKit's plain log ran the `pip install` step again instead of taking it cached."""
    step = re.search(r"^#(\d+) \[build \d+/\d+\] RUN .*pip install", log, re.M)
    return not step or not re.search(rf"^#{step.group(1)} CACHED", log, re.M)


# --------------------------------------------------------------------------- size


def image_facts(image: str) -> tuple[int, int]:
    out = execute("docker", "image", "inspect", "--format", "{{.Size}} {{len .RootFS.Layers}}", image).stdout.split()
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
    found = execute("docker", "run", "--rm", "--entrypoint", "sh", stack.image("app"), "-c", probe).stdout.split()
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
