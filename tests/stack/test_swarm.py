"""The same deploy file on a single-node Docker Swarm (`inv deploy --swarm`): Docker secrets,
scaling the app with no proxy restart, and a rolling update that fails no request.

Requests come from a client container on the stack's network: a swarm publishes on every
interface of the node, and the test publishes nothing."""

import json
import subprocess
import time
import uuid

import pytest

from tests.stack.conftest import Stack
from tests.stack.test_deploy import DEPLOY_FILES, inv, remove_images

pytestmark = pytest.mark.stack

# Reaches the stack's network only; the swarm publishes nothing while under test.
UNPUBLISHED = """
services:
  proxy:
    ports: !reset []
networks:
  default:
    attachable: true
"""

# GETs /healthz through the proxy, as the TLS front would, and prints each status.
CLIENT = """
import sys, urllib.error, urllib.request
count, probe = int(sys.argv[1]), sys.argv[2]
try:
    for n in range(count):
        request = urllib.request.Request(
            f"http://proxy:8080/healthz?probe={probe}-{n}",
            headers={"Host": "localhost", "X-Forwarded-Proto": "https"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                print(response.status, flush=True)
        except urllib.error.HTTPError as error:
            print(error.code, flush=True)
        except OSError as error:
            print("failed:", error, flush=True)
except KeyboardInterrupt:
    pass
"""


def docker(*args: str, check=True, timeout=300) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@pytest.fixture(scope="module")
def swarm():
    """A single-node swarm on loopback; left at the end only if this test started it."""
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}").split()
    started = state[0] == "inactive"
    if started:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
    elif state != ["active", "true"]:
        pytest.skip(f"the engine is in swarm state {state[0]} without a manager here")
    try:
        yield started
    finally:
        if started:
            docker("swarm", "leave", "--force", check=False)


def remove_stack(name: str) -> None:
    docker("stack", "rm", name, check=False)
    label = f"label=com.docker.stack.namespace={name}"
    deadline = time.monotonic() + 60
    while docker("ps", "-aq", "--filter", label, check=False).strip() and time.monotonic() < deadline:
        time.sleep(1)
    volumes = docker("volume", "ls", "-q", "--filter", f"name={name}_", check=False).split()
    if volumes:
        docker("volume", "rm", *volumes, check=False)


@pytest.fixture(scope="module")
def stack(swarm, built_images, stack_tmp):
    stack = Stack(stack_tmp, files=DEPLOY_FILES, APP_REPLICAS="1")
    stack.env.update(COMPOSE_PROJECT_NAME=stack.project, IMAGE_PREFIX=stack.project)
    stack.write_env()
    override = stack_tmp / f"{stack.project}.unpublished.yaml"
    override.write_text(UNPUBLISHED)
    try:
        result = inv("deploy", "--swarm", "--env-file", str(stack.env_file), "--override", str(override))
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        yield stack
    finally:
        remove_stack(stack.project)
        remove_images(stack)


def app_spec(stack: Stack, field: str):
    """A field of the app service's container spec: `docker service inspect --format`."""
    template = "{{json .Spec.TaskTemplate.ContainerSpec." + field + "}}"
    return json.loads(docker("service", "inspect", f"{stack.project}_app", "--format", template))


def client(stack: Stack, count: int, probe: str, *args: str) -> list[str]:
    """Run the client in a container on the stack's network; its output's lines."""
    image = app_spec(stack, "Image")
    network = f"{stack.project}_default"
    return docker("run", *args, "--network", network, image, "python", "-c", CLIENT, str(count), probe)


def logs(container: str) -> str:
    result = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=True)
    return result.stdout + result.stderr


def app_containers(stack: Stack) -> list[str]:
    label = f"label=com.docker.swarm.service.name={stack.project}_app"
    return docker("ps", "-q", "--filter", label).split()


def test_the_stack_runs_on_the_swarm_with_its_secrets_as_docker_secrets(stack):
    replicas = docker("service", "ls", "--filter", f"name={stack.project}_", "--format", "{{.Name}} {{.Replicas}}")
    assert sorted(replicas.split("\n")[:-1]) == [f"{stack.project}_{s} 1/1" for s in ("app", "db", "proxy")]
    env = app_spec(stack, "Env")
    assert "SECRET_KEY_FILE=/run/secrets/secret_key" in env
    assert not any(stack.env[name] in line for line in env for name in ("SECRET_KEY", "POSTGRES_PASSWORD"))
    assert client(stack, 3, "hello", "--rm").split() == ["200"] * 3


def test_scaled_to_two_replicas_requests_are_served_by_both(stack):
    docker("service", "scale", "--detach=false", f"{stack.project}_app=2")
    containers = app_containers(stack)
    assert len(containers) == 2
    probe = uuid.uuid4().hex
    # nginx keeps the app's addresses for 10s (resolver valid=10s), then sees both replicas.
    deadline = time.monotonic() + 30
    while True:
        assert client(stack, 10, probe, "--rm").split() == ["200"] * 10
        # uWSGI logs each request it serves.
        served = {c: logs(c).count(probe) for c in containers}
        if all(served.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert all(served.values()), served


def test_a_rolling_update_fails_no_request(stack):
    before = set(app_containers(stack))
    name = f"{stack.project}-client"
    client(stack, 1_000_000, "rolling", "--detach", "--name", name)
    try:
        time.sleep(1)
        docker("service", "update", "--force", "--detach=false", f"{stack.project}_app")
        docker("kill", "--signal", "INT", name)
        docker("wait", name)
        statuses = docker("logs", name).split("\n")[:-1]
    finally:
        docker("rm", "--force", name, check=False)
    assert len(statuses) > 100
    assert set(statuses) == {"200"}, [s for s in statuses if s != "200"][:5]
    after = set(app_containers(stack))
    assert len(after) == 2 and not before & after, "every replica was replaced"


def test_removing_the_stack_leaves_nothing_of_it(stack):
    remove_stack(stack.project)
    label = f"label=com.docker.stack.namespace={stack.project}"
    for kind in ("service", "secret", "network"):
        assert not docker(kind, "ls", "-q", "--filter", label).strip(), kind
    assert not docker("volume", "ls", "-q", "--filter", f"name={stack.project}_").strip()
