"""The deploy files on a swarm of three fleet hosts (`inv deploy --swarm --host ssh://manager`):
the images go through the fleet's registry, the database stays on the node labelled for it,
every node runs a proxy, when a worker dies the swarm moves its replicas and no acknowledged
write is lost, and then a changed release and its rollback roll across the remaining nodes under
load failing no request; one backup service runs beside the database, its backups in a bucket,
and the backup tasks (`--swarm`) back up, check and restore to a second.

Requests come from this machine to each node's proxy port, as a front (a load balancer) would
send them; HTTPS is on, so every request carries the front's X-Forwarded-Proto header."""

import itertools
import json
import re
import subprocess
import time
import uuid

import pytest
import requests

from tests.stack.fleet.support import (
    STORE_IMAGE,
    RemoteStack,
    bucket_certificates,
    build_images,
    execute,
    in_the_bucket,
    load_images,
    run_images,
)
from tests.stack.support import add_note_model, site_copy
from tests.stack.traffic import Browser, Traffic, get
from tests.support import first_group

pytestmark = pytest.mark.stack

SWARM_BUCKET_OVERRIDE = "tests/stack/fleet/compose.backup-bucket-swarm.yaml"
# Past nginx's 5s connect timeout to an app replica that went away: the proxy then tries another.
REQUEST_TIMEOUT = 10


@pytest.fixture(scope="module")
def swarm(fleet):
    """Host 0 the manager, the others workers; host 1 labelled for the database."""
    manager, *workers = fleet
    load_images([manager], build_images() + run_images())  # the images are built there
    load_images([workers[0]], run_images())
    if manager.seeding:
        manager.seeding.join(timeout=900)
    address = manager.shell("hostname -i").strip()
    manager.docker("swarm", "init", "--advertise-addr", address)
    token = manager.docker("swarm", "join-token", "--quiet", "worker").strip()
    for worker in workers:
        worker.docker("swarm", "join", "--token", token, f"{address}:2377")
    manager.docker("node", "update", "--label-add", "db=true", "node1")
    return fleet


@pytest.fixture(scope="module")
def stack(swarm, stack_tmp, bucket):
    """Three app replicas, the database on the labelled node, the backups in the fleet's bucket,
    the uploads in a bucket of the stack's own store (SWARM_BUCKET_OVERRIDE) on the manager."""
    manager = swarm[0]
    load_images([manager], (STORE_IMAGE,))
    media = {
        "MEDIA_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "media",
        "AWS_S3_ENDPOINT_URL": "http://media-store:8333",
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": uuid.uuid4().hex,
        "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex,
    }
    # A worker on each node, two tasks at a time each; a lost node's tasks go elsewhere 10 s after
    # its last heartbeat.
    workers = {"WORKER_REPLICAS": "3", "WORKER_CONCURRENCY": "2", "TASK_STALLED_AFTER": "10"}
    stack = RemoteStack(
        stack_tmp, manager, APP_REPLICAS="3", DB_PLACEMENT="node.labels.db == true", **workers, **bucket, **media
    )
    ca = str(bucket_certificates(swarm, stack_tmp) / "ca.pem")
    stack.env.update(IMAGE_PREFIX=f"registry:5000/{stack.project}", BACKUP_S3_PATH=f"/{stack.project}", TEST_CA_FILE=ca)
    stack.write_env()
    in_the_bucket(stack, SWARM_BUCKET_OVERRIDE)
    deployed = stack.inv("deploy", "--swarm")
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-4000:]
    make_bucket = "from django.core.files.storage import default_storage as s; s.bucket.create()"
    deadline = time.monotonic() + 60
    while True:
        try:
            in_an_app_container(stack, swarm, "python", "manage.py", "shell", "-c", make_bucket)
            break
        except AssertionError:
            assert time.monotonic() < deadline, "the uploads' store did not answer within 60s"
            time.sleep(1)
    return stack


def tasks(stack, service: str) -> list[tuple[str, str]]:
    """(node, task id) of the service's running tasks."""
    template = "{{.Node}} {{.ID}}"
    listing = stack.host.docker(
        "service", "ps", "--filter", "desired-state=running", "--format", template, f"{stack.project}_{service}"
    )
    running = [line.split() for line in listing.splitlines()]
    return sorted((node, task) for node, task in running)


def test_the_stack_runs_on_every_node_with_the_database_on_the_labelled_one(stack, swarm):
    app_nodes = {node for node, _ in tasks(stack, "app")}
    assert len(app_nodes) >= 2, f"the app replicas all run on {app_nodes}"
    assert [node for node, _ in tasks(stack, "db")] == ["node1"]
    assert sorted(node for node, _ in tasks(stack, "proxy")) == ["node0", "node1", "node2"]
    # Workers got the images from the fleet's registry: they never built them.
    assert swarm[2].docker("image", "ls", "-q", f"registry:5000/{stack.project}-app")
    for host in swarm:
        page = get(host.url + "/admin/login/")
        assert page.status_code == 200, host.container
        css = first_group(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text)
        assert get(host.url + css).status_code == 200, f"no static files on {host.container}"


# Run in a container of the stack: whether each address `app` leads to in its network takes a
# connection on uWSGI's port.
REACHES_UWSGI = (
    "for ip in $(getent ahostsv4 app | cut -d' ' -f1 | sort -u); do"
    " if (exec 3<>/dev/tcp/$ip/9000) 2>/dev/null; then echo open; else echo closed; fi; done"
)


def test_uwsgi_is_reached_from_the_proxys_network_not_from_the_databases(stack, swarm):
    db_node = swarm[1]
    for service, reached in (("db", "closed"), ("proxy", "open")):
        label = f"label=com.docker.swarm.service.name={stack.project}_{service}"
        container = db_node.docker("ps", "-q", "--filter", label).split()[0]
        answers = db_node.docker("exec", container, "bash", "-c", REACHES_UWSGI).split()
        assert answers, f"{service}: `app` leads nowhere"
        assert set(answers) == {reached}, f"from {service}: {answers}"


def test_the_secrets_are_docker_secrets_not_environment_variables(stack):
    template = "{{json .Spec.TaskTemplate.ContainerSpec.Env}}"
    env = json.loads(stack.host.docker("service", "inspect", "--format", template, f"{stack.project}_app"))
    assert "SECRET_KEY_FILE=/run/secrets/secret_key" in env
    assert not any(stack.env[name] in line for line in env for name in ("SECRET_KEY", "POSTGRES_PASSWORD"))
    # The backups' key and the bucket's keys too, in the database and the backup service.
    secret = ("POSTGRES_PASSWORD", "BACKUP_KEY", "BACKUP_S3_KEY", "BACKUP_S3_KEY_SECRET")
    for service in ("db", "backup"):
        env = json.loads(stack.host.docker("service", "inspect", "--format", template, f"{stack.project}_{service}"))
        assert "PGBACKREST_REPO1_CIPHER_PASS_FILE=/run/secrets/backup_key" in env
        assert "PGBACKREST_REPO1_S3_KEY_SECRET_FILE=/run/secrets/backup_s3_key_secret" in env
        assert not any(stack.env[name] in line for line in env for name in secret), service


def user(stack, swarm) -> tuple[str, str]:
    """A user made with manage.py in an app container, on a node that runs one: only a logged-in
    user writes in the test app. Its name (new each time) and password."""
    name, password = f"writer-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    label = f"label=com.docker.swarm.service.name={stack.project}_app"
    host = next(host for host in swarm if host.docker("ps", "-q", "--filter", label).strip())
    container = host.docker("ps", "-q", "--filter", label).split()[0]
    env = [
        f"DJANGO_SUPERUSER_{setting}" for setting in (f"USERNAME={name}", "EMAIL=w@example.com", f"PASSWORD={password}")
    ]
    host.docker(
        "exec", *(x for e in env for x in ("-e", e)), container, "python", "manage.py", "createsuperuser", "--noinput"
    )
    return name, password


def sql(stack, host, query: str) -> str:
    """QUERY's answer from the database, on HOST (the database's node)."""
    db = host.docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={stack.project}_db").strip()
    return host.docker("exec", db, "psql", "-U", "app", "-d", "app", "-At", "-c", query).strip()


def stored_titles(stack, host) -> set[str]:
    return set(sql(stack, host, "SELECT title FROM journal_entry").splitlines())


# Six tasks of 20 s: every worker's two slots busy (three workers).
ENQUEUE_SLOW_TASKS = "from journal.tasks import slow\nfor n in range(6): slow.enqueue(f'lost node {n}', 20)"


def test_when_a_worker_dies_its_replicas_move_and_no_acknowledged_write_is_lost(stack, swarm):
    """A node powered off: its app replicas move, no acknowledged write is lost, and the tasks its
    worker was running run again on the others."""
    manager, db_node, doomed = swarm
    assert "node2" in {node for node, _ in tasks(stack, "app")}
    # The swarm spreads the three workers as it sees fit: the tasks the lost node's workers held
    # (two each; none when it runs no worker) are the ones that start again.
    lost = [node for node, _ in tasks(stack, "worker")].count("node2")
    print(f"workers on the lost node: {lost} of {len(tasks(stack, 'worker'))}")
    in_an_app_container(stack, swarm, "python", "manage.py", "shell", "-c", ENQUEUE_SLOW_TASKS)
    started = "SELECT count(*) FROM journal_entry WHERE title LIKE 'lost node _: started'"
    deadline = time.monotonic() + 60
    while sql(stack, db_node, started) != "6":
        assert time.monotonic() < deadline, f"{sql(stack, db_node, started)} of 6 tasks started within 60s"
        time.sleep(0.5)
    browser = Browser()
    browser.log_in(manager.url, *user(stack, swarm))
    # The front sends to the nodes that stay up.
    writer = Traffic([manager.url, db_node.url], browser)
    writer.start()
    try:
        time.sleep(2)
        # Power off: the host's engine, containers and network go at once.
        doomed.kill()
        killed = time.monotonic()
        deadline = time.monotonic() + 120
        while {node for node, _ in tasks(stack, "app")} & {"node2"} or len(tasks(stack, "app")) < 3:
            assert time.monotonic() < deadline, f"the replicas were not moved within 120s: {tasks(stack, 'app')}"
            time.sleep(1)
        rescheduled = time.monotonic()
        # Writes go on after the move: give nginx time to see the new replica.
        time.sleep(15)
    finally:
        writer.stop()
    statuses = [answer for answer, _, _ in writer.answers]
    gap = writer.longest_failure(302)
    slowest = max(finished - started for _, started, finished in writer.answers)
    print(
        f"node failure: {len(statuses)} writes, {statuses.count(302)} acknowledged, "
        f"longest stretch of failures {gap:.1f}s, slowest answer {slowest:.1f}s, "
        f"replicas moved {rescheduled - killed:.0f}s after the kill; failed: "
        f"{[(a, round(started - killed, 1)) for a, started, _ in writer.answers if a != 302]}"
    )
    assert statuses[-20:] == [302] * 20, "writes do not succeed after the move"
    assert set(writer.written) <= stored_titles(stack, db_node), "an acknowledged write is missing"
    # The lost workers' tasks (two each) started again elsewhere, and all six finished.
    finished = "SELECT count(*) FROM journal_entry WHERE title LIKE 'lost node _'"
    deadline = time.monotonic() + 90
    while sql(stack, db_node, finished) != "6":
        assert time.monotonic() < deadline, f"{sql(stack, db_node, finished)} of 6 tasks finished within 90s"
        time.sleep(1)
    assert sql(stack, db_node, started) == str(6 + 2 * lost), "the lost node's tasks started again"
    # The node is gone for good: its operator removes it (docs/operating.md), else the next
    # `docker stack deploy` waits for the tasks the swarm still lists on it.
    manager.docker("node", "rm", "--force", "node2")


def under_load(stack, swarm, *args: str, cwd=None) -> tuple[subprocess.CompletedProcess, list[Traffic]]:
    """`inv ARGS` (in CWD, the test site or a copy of it) while three readers and a logged-in writer
    send requests to the two remaining nodes: the run and the traffic."""
    urls = [host.url for host in swarm[:2]]
    browser = Browser()
    browser.log_in(urls[0], *user(stack, swarm))
    clients = [Traffic(urls) for _ in range(3)] + [Traffic(urls, browser)]
    for client in clients:
        client.start()
    try:
        started = time.monotonic()
        result = stack.inv(*args, cwd=cwd, timeout=900)
        took = time.monotonic() - started
        time.sleep(1)
    finally:
        for client in clients:
            client.stop()
    answers = [(answer, begun - started) for client in clients for answer, begun, _ in client.answers]
    finished = sorted(end for client in clients for _, _, end in client.answers)
    gap = max(b - a for a, b in itertools.pairwise(finished))
    failed = [(answer, round(at, 1)) for answer, at in answers if answer not in (200, 302)]
    print(
        f"swarm {args[0]}: {took:.0f}s, {len(answers)} requests ({len(answers) / took:.0f}/s), "
        f"{len(failed)} failed {failed[:5]}, longest gap between answers {gap:.2f}s"
    )
    return result, clients


def why_failed(stack) -> str:
    """What the app and the database said lately, and the database's tasks: why requests failed."""
    said = []
    for service in ("app", "db"):
        command = ("service", "logs", "--raw", "--since", "3m", f"{stack.project}_{service}")
        logs = execute("docker", "-H", stack.host.address, *command, check=False)
        lines = (logs.stdout + logs.stderr).splitlines()
        said += [f"{service}: {line}" for line in lines if re.search("WARNING|ERROR|FATAL|LOG:", line)][-30:]
    tasks_of_db = stack.host.docker("service", "ps", "--no-trunc", f"{stack.project}_db", check=False)
    return "\n".join([*said, tasks_of_db])


def test_a_changed_release_and_its_rollback_roll_across_the_remaining_nodes_under_load_failing_no_request(
    stack, swarm, tmp_path
):
    """`inv deploy --swarm` of a changed page and a new model from a copy of the repository, then
    `inv rollback --swarm --yes`, while readers and a logged-in writer keep the two remaining nodes
    busy: every replica is replaced each time, no request fails, every acknowledged write is stored,
    each release serves its own page, and the rollback names the new model's table, snapshots it
    and reverses its migration."""
    copy = site_copy(tmp_path / "site")
    base = copy / "services" / "app" / "templates" / "base.html"
    base.write_text(base.read_text().replace("</body>", "<p>release two</p></body>"))
    add_note_model(copy / "services" / "app")
    for args, cwd, page in ((("deploy", "--swarm"), copy, True), (("rollback", "--swarm", "--yes"), None, False)):
        before = tasks(stack, "app")
        result, clients = under_load(stack, swarm, *args, cwd=cwd)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        answers = [answer for client in clients for answer, _, _ in client.answers]
        failed = [answer for answer in answers if answer not in (200, 302)]
        assert failed == [], f"{failed}\n{why_failed(stack)}"
        written = {title for client in clients for title in client.written}
        assert written, "the writer wrote"
        assert written <= stored_titles(stack, swarm[1]), "an acknowledged write is missing"
        assert ("release two" in get(swarm[0].url + "/").text) is page
        assert sql(stack, swarm[1], "SELECT to_regclass('journal_note')") == ("journal_note" if page else "")
        if page:
            assert re.search(r"Snapshot of the database: before-\S+ \(in the backups volume", result.stdout)
        else:
            assert "drops the table journal_note (0 rows)" in result.stdout, result.stdout[-3000:]
            assert "stays in snapshot before-rollback-" in result.stdout
        after = tasks(stack, "app")
        assert len(after) == 3
        assert not {t for _, t in before} & {t for _, t in after}, "every replica was replaced"
        assert {node for node, _ in after} == {"node0", "node1"}


ADD_ENTRY = "from journal.models import Entry; Entry.objects.create(title={!r})"


def assert_status_all_well(stack, swarm):
    """`inv status --swarm` shows the services running on the two nodes left, the release serving,
    the backups fresh, and exits 0."""
    shown = stack.inv("status", "--swarm")
    assert shown.returncode == 0, shown.stdout[-3000:] + shown.stderr[-2000:]
    assert re.search(r"^  app +replicated +3/3 running$", shown.stdout, re.MULTILINE), shown.stdout
    assert re.search(r"^  proxy +global +2/2 running$", shown.stdout, re.MULTILINE), shown.stdout
    assert re.search(r"^  worker +replicated +3/3 running$", shown.stdout, re.MULTILINE), shown.stdout
    image = swarm[0].docker("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                            f"{stack.project}_app")  # fmt: skip
    assert f"Release: {image.split('@')[0].rpartition(':')[2]}\n" in shown.stdout
    assert re.search(r"^Backups: ok \(last base backup", shown.stdout, re.MULTILINE), shown.stdout
    assert "All well." in shown.stdout


def test_one_backup_service_beside_the_database_backs_up_checks_and_restores_to_a_second(stack, swarm):
    """`inv backup --swarm`, after which `inv status --swarm` says all is well; `inv backups
    --swarm`; `inv backup --verify --swarm`; then `inv restore --swarm --to` a second between two
    writes: the first write is back, the second is not, and the nodes serve again; then `inv
    restore --swarm --dump` of the release's snapshot above."""
    assert [node for node, _ in tasks(stack, "backup")] == ["node1"], "one scheduler, on the database's node"
    taken = stack.inv("backup", "--swarm")
    assert taken.returncode == 0, taken.stdout[-3000:] + taken.stderr[-2000:]
    assert_status_all_well(stack, swarm)
    listed = stack.inv("backups", "--swarm")
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-2000:]
    assert "Restore window" in listed.stdout, listed.stdout[-2000:]
    assert "last WAL archived" in listed.stdout, listed.stdout[-2000:]
    checked = stack.inv("backup", "--verify", "--swarm")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    assert "Restore drill passed" in checked.stdout, checked.stdout[-3000:]
    assert "Django's checks pass against it" in checked.stdout

    in_an_app_container(stack, swarm, "python", "manage.py", "shell", "-c", ADD_ENTRY.format("kept: before"))
    time.sleep(2)
    moment = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    time.sleep(2)
    in_an_app_container(stack, swarm, "python", "manage.py", "shell", "-c", ADD_ENTRY.format("gone: after"))
    started = time.monotonic()
    restored = stack.inv("restore", "--swarm", "--to", moment, "--yes")
    took = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-2000:]
    titles = stored_titles(stack, swarm[1])
    assert "kept: before" in titles
    assert "gone: after" not in titles
    assert len(tasks(stack, "app")) == 3
    assert len(tasks(stack, "backup")) == 1
    deadline = time.monotonic() + 60
    while get(swarm[0].url + "/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the site did not answer within 60 s of the restore"
        time.sleep(1)
    print(f"swarm restore to a second: {took:.0f} s, the task's own count included")

    # The snapshot the release above took before its migrations (the backups volume, on the
    # database's node): the database as it was then, without the write made since.
    label = f"label=com.docker.swarm.service.name={stack.project}_backup"
    backup = swarm[1].docker("ps", "-q", "--filter", label).split()[0]
    names = swarm[1].docker("exec", backup, "ls", "/backups/snapshots").split()
    # The release's, and the one its rollback took before it reversed the new model's migration.
    release = [name for name in names if not name.startswith("before-rollback-")]
    assert len(release) == 1, names
    assert len(names) == 2, names
    started = time.monotonic()
    restored = stack.inv("restore", "--swarm", "--dump", release[0].removesuffix(".dump"), "--yes")
    took = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-2000:]
    assert "kept: before" not in stored_titles(stack, swarm[1])
    assert len(tasks(stack, "app")) == 3
    deadline = time.monotonic() + 60
    while get(swarm[0].url + "/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the site did not answer within 60 s of the restore"
        time.sleep(1)
    print(f"swarm restore of a release's snapshot: {took:.0f} s, the task's own count included")


# Run in the front's network as a swarm job, where a client of the site is: fetches Pebble's
# issuing root (the ACME test server's own API, unverified), then GETs https://DOMAIN/ trusting that
# root only, until the front has its certificate. Prints the status and the seconds it waited.
HTTPS_CLIENT = """
import ssl, sys, time, urllib.request
domain, started = sys.argv[1], time.monotonic()
root = urllib.request.urlopen("https://pebble:15000/roots/0", context=ssl._create_unverified_context()).read()
context = ssl.create_default_context(cadata=root.decode())
while True:
    try:
        with urllib.request.urlopen(f"https://{domain}/healthz", context=context, timeout=10) as answer:
            print(answer.status, round(time.monotonic() - started, 1))
            break
    except OSError as error:
        if time.monotonic() - started > 120:
            print("failed:", error)
            break
        time.sleep(1)
"""
DOMAIN = "site.test"


def run_job(stack, image: str, *command: str) -> str:
    """Run a command once, as a swarm job on the front's network, where a client of the site is;
    its output."""
    job = f"{stack.project}_client"
    host = stack.host
    host.docker("service", "rm", job, check=False)
    try:
        host.docker(
            "service", "create", "--detach=false", "--name", job, "--mode", "replicated-job",
            "--restart-condition", "none", "--network", f"{stack.project}_front", image, *command,
            timeout=300,
        )  # fmt: skip
        return host.docker("service", "logs", "--raw", job)
    finally:
        host.docker("service", "rm", job, check=False)


@pytest.fixture(scope="module")
def https_stack(swarm, stack_tmp):
    """A second stack with DOMAIN set: the TLS front on the manager, Pebble beside it."""
    manager = swarm[0]
    pebble = "ghcr.io/letsencrypt/pebble:2.8.0"
    load_images([manager], (pebble,))
    minica = stack_tmp / "swarm-pebble.minica.pem"
    minica.write_text(manager.docker("run", "--rm", "--entrypoint", "cat", pebble, "/test/certs/pebble.minica.pem"))
    stack = RemoteStack(
        stack_tmp,
        manager,
        APP_REPLICAS="1",
        DOMAIN=DOMAIN,
        ALLOWED_HOSTS=DOMAIN,
        ACME_CA="https://pebble:14000/dir",
        PEBBLE_MINICA=str(minica),
        FRONT_HTTP_PORT="8080",
        FRONT_HTTPS_PORT="8443",
    )
    stack.env["IMAGE_PREFIX"] = f"registry:5000/{stack.project}"
    stack.write_env()
    deployed = stack.inv("deploy", "--swarm", "--override", "tests/stack/fleet/compose.pebble-swarm.yaml")
    assert deployed.returncode == 0, deployed.stdout[-4000:] + deployed.stderr[-4000:]
    assert deployed.stdout.strip().splitlines()[-1].endswith(f"https://{DOMAIN}/")
    try:
        yield stack
    finally:
        manager.docker("stack", "rm", stack.project, check=False)


def test_with_a_domain_the_swarm_serves_https_from_one_front_and_publishes_no_proxy(https_stack):
    stack = https_stack
    image = json.loads(
        stack.host.docker(
            "service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Image}}", f"{stack.project}_app"
        )
    )
    answer = run_job(stack, image, "python", "-c", HTTPS_CLIENT, DOMAIN).split()
    assert answer[0] == "200", answer
    print(f"swarm: the first certificate served {answer[1]}s after the deploy")

    def published(service: str) -> list:
        ports = stack.host.docker(
            "service", "inspect", "--format", "{{json .Endpoint.Ports}}", f"{stack.project}_{service}"
        )
        return json.loads(ports) or []

    assert published("proxy") == []
    assert {(port["TargetPort"], port["PublishMode"]) for port in published("front")} == {(80, "host"), (443, "host")}
    assert [node for node, _ in tasks(stack, "front")] == ["node0"]


def in_an_app_container(stack, swarm, *command: str) -> str:
    """A command in one of the stack's app containers, on a node that runs one; its output."""
    label = f"label=com.docker.swarm.service.name={stack.project}_app"
    host = next(host for host in swarm if host.docker("ps", "-q", "--filter", label).strip())
    return host.docker("exec", host.docker("ps", "-q", "--filter", label).split()[0], *command)


def test_with_uploads_in_a_bucket_a_file_uploaded_through_one_node_is_served_by_another(stack, swarm):
    content = b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * 20_000
    # Two nodes' proxies (the third node was killed above).
    served = upload_then_read(swarm[0].url, swarm[1].url, stack, swarm, content)
    for url, answer in served.items():
        assert answer.status_code == 200, url
        assert answer.content == content
        assert "sandbox" in answer.headers["Content-Security-Policy"]
    # The keys reached the app as Docker secrets, not as environment variables.
    template = "{{json .Spec.TaskTemplate.ContainerSpec.Env}}"
    env = json.loads(stack.host.docker("service", "inspect", "--format", template, f"{stack.project}_app"))
    assert "AWS_SECRET_ACCESS_KEY_FILE=/run/secrets/aws_secret_access_key" in env
    assert not any(stack.env["AWS_SECRET_ACCESS_KEY"] in line for line in env)


def upload_then_read(first: str, second: str, stack, swarm, content: bytes) -> dict[str, requests.Response]:
    """An entry with `content` attached, added through the first proxy; the file read through both."""
    browser = Browser()
    browser.log_in(first, *user(stack, swarm))
    form = {"title": "shared", "csrfmiddlewaretoken": browser.form_token(first, "/")}
    added = browser.send("POST", first, "/", data=form, files={"attachment": ("shared.png", content)})
    assert added.status_code == 302, added.text[:1000]
    page = get(second + "/").text
    path = first_group(r'href="(/media/attachments/[0-9a-f]{32}\.png)">shared\.png<', page)
    return {url: get(url + path) for url in (second, first)}
