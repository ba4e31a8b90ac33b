"""Secure defaults, checked on the running stack: what runs as whom, who can read the data,
where secrets are (and are not), what the host can reach."""

import json
import subprocess

import pytest

from tests.stack.probes import inspect
from workspace.compose import ENV_EXAMPLE, read_env

pytestmark = [pytest.mark.stack, pytest.mark.faults]

SERVICES = ("app", "db", "proxy")


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("service", ["app", "worker", "proxy"])
def test_no_process_runs_as_root(stack, service):
    status = stack.compose("exec", "-T", service, "sh", "-c", "grep -H '^Uid:' /proc/[0-9]*/status").stdout
    # Uid: real, effective, saved, filesystem.
    uids = {line.split(":", 1)[0]: line.split()[1:] for line in status.splitlines()}
    assert uids, f"no process seen in {service}"
    assert all("0" not in ids for ids in uids.values()), f"{service} runs a process as root: {uids}"


def test_database_files_are_not_world_readable(stack):
    data = "/var/lib/postgresql/data"
    readable = stack.compose("exec", "-T", "db", "find", data, "-perm", "/o=rwx").stdout
    assert readable == "", f"files in {data} others can use:\n{readable}"
    assert stack.compose("exec", "-T", "db", "stat", "-c", "%a %U", data).stdout.split() == ["700", "postgres"]


def secrets_of(stack) -> dict[str, str]:
    """The stack's secret values, and the development ones of .env.example."""
    sources = {"stack's": stack.env, "development": read_env(ENV_EXAMPLE)}
    names = ("SECRET_KEY", "POSTGRES_PASSWORD")
    return {f"{where} {name}": values[name] for name in names for where, values in sources.items()}


@pytest.mark.parametrize("service", SERVICES)
def test_no_secret_in_the_image_history_or_environment(stack, service):
    image = inspect(stack, service)["Image"]
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    environment = json.loads(docker("image", "inspect", "--format", "{{json .Config.Env}}", image))
    for what, value in secrets_of(stack).items():
        assert value not in history, f"the {what} is in the history of the {service} image"
        assert value not in str(environment), f"the {what} is in the environment of the {service} image"
    assert not [v for v in environment if v.split("=")[0].endswith(("SECRET_KEY", "PASSWORD", "TOKEN"))], environment


def test_the_proxy_facing_the_network_holds_no_secret(stack):
    environment = "\n".join(inspect(stack, "proxy")["Config"]["Env"])
    for what, value in secrets_of(stack).items():
        assert value not in environment, f"the proxy container holds the {what}"


def test_the_database_port_is_published_nowhere(stack):
    settings = inspect(stack, "db")
    assert not settings["HostConfig"]["PortBindings"]
    assert not any(settings["NetworkSettings"]["Ports"].values()), settings["NetworkSettings"]["Ports"]
    # Only the proxy's port answers on the host.
    published = stack.compose("ps", "--format", "{{.Service}} {{.Publishers}}").stdout
    assert [line.split()[0] for line in published.splitlines() if "127.0.0.1" in line] == ["proxy"], published
