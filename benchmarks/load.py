"""The serving cases and the load: which server each case measures and from where, the content
they serve, wrk's runs (from this machine or from the bench's client container) and their
reports read into a row of results."""

import http
import json
import time
from pathlib import Path

import requests

from benchmarks.stack import CaseError, Stack, execute, progress

WRK_REPORT = Path(__file__).resolve().parent / "wrk_report.lua"
ENTRIES = 50
# An attachment of the first entry: from a bucket, the site serves nothing else.
MEDIA_FILE = "attachments/bench-one-megabyte.bin"

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
    ("dynamic", f"List page ({ENTRIES} entries, reads the database)", PYTHON_SERVERS),
    ("healthz", "/healthz (one query)", PYTHON_SERVERS),
    ("static", "hashed admin CSS", STATIC_SERVERS),
    ("media", "1 MB media file", (("nginx, volume", "proxy"), ("nginx, S3 bucket", "proxy-s3"))),
)
PROXIES = sorted({service for _, _, servers in CASES for _, service in servers})

# Full and quick mode: wrk's connections and threads, warm-up and measured seconds per case.
MODES = {
    "full": {"connections": 32, "threads": 2, "warmup": 5, "duration": 20},
    # Quick proves each case runs, with no warm-up: its numbers are not for comparing.
    "quick": {"connections": 8, "threads": 2, "warmup": 0, "duration": 1},
}


def prepare_content(stack: Stack) -> dict[str, str]:
    """50 entries of the reference site's app for the dynamic page, a 1 MB media file in the volume
    and one in the bucket; the URL paths of the served cases."""
    stack.compose(
        "exec", "-T", "app", "python", "manage.py", "shell", "-c",
        "from journal.models import Entry; Entry.objects.all().delete(); "
        f"Entry.objects.bulk_create(Entry(title=f'Bench entry {{i}}', "
        f"attachment='{MEDIA_FILE}' if i == 1 else '') for i in range(1, {ENTRIES + 1}))",
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
            "print(r.status, r.read().decode(errors='replace').count('Bench entry '))",
            check=False,
        )  # fmt: skip
        if answer.returncode:
            raise CaseError(f"{target}: {(answer.stdout + answer.stderr).strip()[-500:]}")
        status, entries = map(int, answer.stdout.split())
    else:
        try:
            response = requests.get(target, timeout=30)
        except requests.RequestException as error:
            raise CaseError(f"{target}: {error}") from error
        status, entries = response.status_code, response.text.count("Bench entry ")
    if status != http.HTTPStatus.OK:
        raise CaseError(f"{target} answered {status}, not 200")
    if case["case"] == "dynamic" and entries < ENTRIES:
        raise CaseError(f"{target} does not list the {ENTRIES} entries")


def wrk(stack: Stack, via: str, target: str, mode: dict, seconds: int) -> dict:
    """One wrk run of `seconds` from where `via` says; its report (wrk_report.lua's JSON line)."""
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
        result = execute("wrk", *options, f"--script={WRK_REPORT}", target, timeout=seconds + 60)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_case(stack: Stack, case: dict, mode: dict) -> dict:
    """A case's check of the answer, a warm-up (if the mode has one), then the measured wrk run:
    its report."""
    target = url(stack, case)
    check_answer(stack, case, target)
    if mode["warmup"]:
        wrk(stack, case["via"], target, mode, mode["warmup"])
    return wrk(stack, case["via"], target, mode, mode["duration"])


def result_row(case: dict, report: dict) -> dict:
    """A case's row of results from wrk's report (counts, microseconds)."""
    socket_errors = sum(report[k] for k in ("connect", "read", "write", "timeout"))
    return {
        **{k: case[k] for k in ("case", "what", "server", "via", "path")},
        "requests_per_s": round(report["requests"] / (report["duration_us"] / 1e6), 1),
        "p50_ms": round(report["p50_us"] / 1000, 2),
        "p99_ms": round(report["p99_us"] / 1000, 2),
        "errors": socket_errors + report["status"],
        "non_2xx": report["status"],
        "requests": report["requests"],
    }


def measure_serving(stack: Stack, mode: dict, failures: list[str]) -> list[dict]:
    """Each case loaded in turn, a line printed as it finishes. A failed case is added to
    `failures` and the others still run."""
    paths = prepare_content(stack)
    results = []
    planned = cases(paths)
    for number, case in enumerate(planned, 1):
        label = f"serving [{number}/{len(planned)}] {case['case']}, {case['server']}, via {case['via']}"
        try:
            report = run_case(stack, case, mode)
        except CaseError as failure:
            progress(f"{label}: FAILED: {failure}")
            failures.append(f"{label}: {failure}")
            continue
        row = result_row(case, report)
        results.append(row)
        progress(
            f"{label}: {row['requests_per_s']:.0f} req/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
            f"errors {row['errors']}"
        )
        if row["errors"] or not report["requests"]:
            failures.append(
                f"{label}: {row['errors']} errors ({report['status']} not 2xx/3xx), {report['requests']} requests"
            )
    return results
