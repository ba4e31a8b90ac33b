"""The deployment stack (`inv deploy`): locked down, HTTPS behind a TLS-terminating front, the app
on a database role of its own, refused without its secrets, backed up and restored."""

import json
import re
import secrets
import shutil
import subprocess
import textwrap
import time
import uuid

import pytest
import requests

from tests.stack.probes import lines_naming
from tests.stack.support import BEHIND_TLS, Stack, remove_images
from tests.support import first_group
from workspace.compose import DEPLOY_FILES, ROOT

pytestmark = pytest.mark.stack


def deploy_stack(tmp) -> Stack:
    """A deploy env file of its own: project, image names and loopback port unique to the test."""
    # The test is the TLS front (BEHIND_TLS): the proxy believes it from any address.
    stack = Stack(tmp, files=DEPLOY_FILES, HTTPS="true", APP_REPLICAS="2", FORWARDED_ALLOW_IPS="*")
    stack.env.update(COMPOSE_PROJECT_NAME=stack.project, IMAGE_PREFIX=stack.project)
    stack.write_env()
    return stack


@pytest.fixture(scope="module")
def deployed(built_images, stack_tmp):
    stack = deploy_stack(stack_tmp)
    stack.env["LOG_FORMAT"] = "json"
    # Error reports go to a collector of the test's own, started when a test needs it: the SDK
    # looks the server up when it sends.
    stack.env["SENTRY_DSN"] = f"http://{secrets.token_hex(16)}@collector:9000/1"
    stack.write_env()
    try:
        result = stack.inv("deploy")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        yield stack
    finally:
        stack.down()
        remove_images(stack)


def get(stack: Stack, path: str, **kwargs) -> requests.Response:
    return stack.get(path, headers={**BEHIND_TLS, **kwargs.pop("headers", {})}, **kwargs)


def test_deploy_serves_the_admin_with_its_css_through_the_proxy(deployed):
    page = get(deployed, "/admin/login/")
    assert page.status_code == 200
    css = first_group(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text)
    response = get(deployed, css)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/css")


def test_behind_the_tls_front_django_sends_hsts_and_secure_cookies(deployed):
    page = get(deployed, "/admin/login/")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in page.headers["Set-Cookie"]


def test_json_log_lines_carry_the_fronts_request_id_from_the_proxy_to_the_app(deployed):
    """LOG_FORMAT=json: the proxy's and the app's lines of a request are JSON objects with its
    fields, under the id the front sent (the test is a trusted front: FORWARDED_ALLOW_IPS)."""
    request_id = str(uuid.uuid4())
    path = f"/no-such-page-{request_id[:8]}/"
    answer = get(deployed, path, headers={"X-Request-ID": request_id})
    assert answer.status_code == 404
    assert answer.headers["X-Request-ID"] == request_id
    lines = lines_naming(deployed, request_id)
    proxy = [json.loads(line) for line in lines["proxy"]]
    assert [(line["method"], line["path"], line["status"]) for line in proxy] == [("GET", path, 404)], lines
    assert proxy[0]["request_id"] == request_id
    assert proxy[0]["duration"] >= 0
    app = [json.loads(line) for line in lines["app"]]
    assert any(line["message"] == f"Not Found: {path}" and line["path"] == path for line in app), lines
    assert {line["request_id"] for line in app} == {request_id}


def test_a_requests_id_reaches_the_worker_lines_of_the_task_it_enqueued(deployed):
    """One id from the front to the proxy's line, the app's, and the worker's for the task the
    request enqueued; JSON lines each."""
    request_id = str(uuid.uuid4())
    headers = {**BEHIND_TLS, "X-Request-ID": request_id}
    answer = requests.post(f"{deployed.url}/tasks/note/", data={"title": "traced"}, headers=headers, timeout=30)
    assert answer.status_code == 202, answer.text[:2000]
    done = f"Task journal.tasks.note (job {answer.json()['task']}) succeeded"
    deadline = time.monotonic() + 30
    while True:
        lines = lines_naming(deployed, request_id, ("proxy", "app", "worker"))
        if any(done in line for line in lines["worker"]):
            break
        assert time.monotonic() < deadline, lines
        time.sleep(0.5)
    for service in ("proxy", "app", "worker"):
        assert {json.loads(line)["request_id"] for line in lines[service]} == {request_id}, lines


# A stand-in for Sentry (error_collector.py), run with the app's own base image.
PYTHON_IMAGE = first_group(r"FROM (python:\S+)", (ROOT / "services/app/Dockerfile").read_text())
COLLECTOR = (ROOT / "tests/error_collector.py").read_text()


def docker_logs(container: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=True)


def reported_events(collector: str, timeout=30) -> tuple[list[dict], str]:
    """The events the collector got (waiting for a first one), and every envelope as it came."""
    deadline = time.monotonic() + timeout
    while True:
        lines = docker_logs(collector).stdout
        envelopes = [json.loads(line) for line in lines.splitlines() if line.startswith('"')]
        # An envelope: its header, then each item's header and payload, a line each.
        items = [envelope.splitlines()[1:] for envelope in envelopes]
        events = [
            json.loads(payload)
            for parts in items
            for header, payload in zip(parts[::2], parts[1::2], strict=True)
            if json.loads(header)["type"] == "event"
        ]
        if events or time.monotonic() > deadline:
            return events, "\n".join(envelopes)
        time.sleep(0.5)


def test_a_page_that_raises_sends_one_report_with_the_release_and_request_id_and_no_password_or_cookie(deployed):
    collector = f"{deployed.project}-collector"
    subprocess.run(
        ["docker", "run", "--detach", "--name", collector, "--network", f"{deployed.project}_default",
         "--network-alias", "collector", "--read-only", "--user", "65534", "--cap-drop", "ALL",
         PYTHON_IMAGE, "python", "-c", COLLECTOR],
        capture_output=True, check=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while "collector listening" not in docker_logs(collector).stderr:
            assert time.monotonic() < deadline, "the collector did not start within 30 s"
            time.sleep(0.2)
        request_id, password, cookie = str(uuid.uuid4()), secrets.token_hex(12), secrets.token_hex(12)
        answer = requests.post(
            f"{deployed.url}/broken/",
            data={"username": "someone", "password": password},
            cookies={"sessionid": cookie},
            headers={**BEHIND_TLS, "X-Request-ID": request_id},
            timeout=30,
        )
        assert answer.status_code == 500
        events, everything = reported_events(collector)
        assert len(events) == 1, everything
        event = events[0]
        app = deployed.compose("ps", "-q", "app").stdout.split()[0]
        inspect = ["docker", "inspect", "--format", "{{.Config.Image}}", app]
        release = subprocess.run(inspect, capture_output=True, text=True, check=True).stdout.strip().rpartition(":")[2]
        assert event["release"] == release != "latest"
        assert event["environment"] == "production"
        assert event["tags"]["request_id"] == request_id
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"
        assert event["request"]["url"].endswith("/broken/")
        assert password not in everything
        assert cookie not in everything
    finally:
        subprocess.run(["docker", "rm", "--force", collector], capture_output=True, check=False)


def test_plain_http_is_redirected_to_https(deployed):
    response = deployed.get("/admin/login/", allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://")


def test_check_deploy_reports_no_issues(deployed):
    output = deployed.manage("check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues" in output


def test_every_container_is_locked_down(deployed):
    ids = deployed.compose("ps", "-q").stdout.split()
    assert len(ids) == 6, "db, its backup service, two app replicas, the worker and the proxy"
    for info in json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, check=True).stdout):
        host, name = info["HostConfig"], info["Name"]
        assert host["ReadonlyRootfs"], name
        assert host["CapDrop"] == ["ALL"], name
        assert not host["CapAdd"], name
        assert "no-new-privileges:true" in host["SecurityOpt"], name
        assert host["Memory"] > 0, name
        assert host["NanoCpus"] > 0, name
        assert host["RestartPolicy"]["Name"] == "unless-stopped", name
        assert host["LogConfig"]["Config"]["max-size"] == "10m", name
        assert info["Config"]["User"] not in {"", "0", "root"}, name
        # The worker has no healthcheck: a stopped one is restarted, a lost one's tasks run again.
        assert info["State"].get("Health", {"Status": "healthy"})["Status"] == "healthy", name
        published = [b for bindings in (host["PortBindings"] or {}).values() for b in bindings or []]
        assert all(b["HostIp"] == "127.0.0.1" for b in published), name
        if "-db-" in name:
            assert not published, "the database is published nowhere"


CREATE_ENTRIES = textwrap.dedent(
    """
    from django.core.files.base import ContentFile
    from journal.models import Entry
    for n in range(2):
        entry = Entry(title=f"Restored entry {n}")
        entry.attachment.save(f"file{n}.bin", ContentFile(bytes([n]) * 5000 + b"end"))
        print(entry.attachment.url)
    """
)


# Run in the app's container: what its database role is, what it may do in the server, and
# whether the superuser's password, which the app holds, logs in over the network.
TRY_THE_DATABASE = textwrap.dedent(
    """
    import os, psycopg
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        print("role:", *cursor.fetchone())
    for statement in ("COPY (SELECT 1) TO PROGRAM 'env'", "SELECT pg_read_file('/proc/1/environ')"):
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        except Exception as error:
            print("refused:", str(error).splitlines()[0])
        else:
            print("ran:", statement)
    try:
        psycopg.connect(host="db", user="app", dbname="app", password=os.environ["DATABASE_PASSWORD"])
    except psycopg.OperationalError as error:
        print("superuser refused:", str(error).strip().splitlines()[-1])
    else:
        print("superuser logged in")
    """
)


def test_the_apps_database_role_runs_no_program_reads_no_server_file_and_the_superuser_is_not_reachable(deployed):
    said = deployed.manage("shell", "-c", TRY_THE_DATABASE).splitlines()
    assert "role: site False" in said, said
    refused = [line for line in said if line.startswith("refused:")]
    assert len(refused) == 2, said
    assert "permission denied to COPY to or from an external program" in refused[0]
    assert "permission denied for function pg_read_file" in refused[1]
    assert not [line for line in said if line.startswith("ran:")]
    assert any(line.startswith("superuser refused:") and "password authentication failed" in line for line in said)


def test_what_the_superuser_made_becomes_the_apps_roles_at_the_databases_next_start(deployed):
    """As for a site deployed before the app had a role of its own, whose tables the superuser made."""

    def sql(query: str) -> str:
        """QUERY's answer, as the superuser in the database's container; "" while it restarts."""
        psql = ("exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-Atc", query)
        return deployed.compose(*psql, check=False).stdout.strip()

    sql("CREATE TABLE made_before (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)")
    deployed.compose("restart", "db")
    deadline = time.monotonic() + 60
    while sql("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'made_before'") != "site":
        assert time.monotonic() < deadline, "the table stayed the superuser's"
        time.sleep(1)
    assert deployed.wait_for("/healthz") < 60


def test_inv_status_names_a_stopped_service_and_exits_1(deployed):
    deployed.compose("stop", "backup")
    try:
        found = deployed.inv("status")
    finally:
        deployed.compose("start", "backup")
    assert found.returncode == 1, found.stdout[-3000:] + found.stderr[-3000:]
    assert re.search(r"^  - backup: \S+ is exited$", found.stdout, re.M), found.stdout
    assert "need attention on this machine: see above." in found.stderr, found.stderr


def test_backup_then_restore_into_an_emptied_stack_brings_entries_and_attachments_back(deployed):
    urls = deployed.manage("shell", "-c", CREATE_ENTRIES).split()[-2:]
    contents = [get(deployed, url).content for url in urls]
    assert [len(c) for c in contents] == [5003, 5003]

    backup = deployed.inv("backup", "--dump")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    folder = deployed.directory / first_group(r"Backed up \S+ to (backups/\S+)/", backup.stdout)
    try:
        # An emptied stack: new volumes, a database with the tables and no rows.
        deployed.compose("down", "--volumes", "--timeout", "10")
        redeploy = deployed.inv("deploy")
        assert redeploy.returncode == 0, redeploy.stdout[-3000:]
        assert "Restored entry" not in get(deployed, "/").text
        assert get(deployed, urls[0]).status_code == 404

        refused = deployed.inv("restore", "--dump", str(folder))
        assert refused.returncode == 1
        assert "Add --yes" in refused.stderr

        restore = deployed.inv("restore", "--dump", str(folder), "--yes")
        assert restore.returncode == 0, restore.stdout[-3000:] + restore.stderr[-3000:]
        page = get(deployed, "/").text
        assert "Restored entry 0" in page
        assert "Restored entry 1" in page
        assert [get(deployed, url).content for url in urls] == contents
    finally:
        shutil.rmtree(folder, ignore_errors=True)
