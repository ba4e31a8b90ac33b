"""The fleet: throwaway Docker hosts for what must never run on the developer's own engine (a
deploy over ssh, a swarm of several nodes, an engine restart).

Each host is a privileged container from host.Dockerfile with its own engine (overlay2 on a
volume) and sshd, on a network of the fleet's own; host 0 also runs the fleet's registry,
`registry:5000` on that network. Tests reach a host as `ssh://root@127.0.0.1:PORT`, with a key
made for the run: an `ssh` put first on PATH for the processes the tests start brings that key
and a config of its own, so nothing under ~/.ssh is read or written. Everything is removed at
the end, volumes included."""

import os
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.stack.fleet.support import (
    PROXY_PORT,
    STORE_IMAGE,
    Host,
    bucket_certificates,
    build_images,
    execute,
    load_images,
    run_images,
    seed_registry,
)
from tests.stack.support import make_certificates

FLEET = Path(__file__).resolve().parent
HOST_IMAGE = "django-compose-workspace-fleet-host"
FLEET_SIZE = 3


@pytest.fixture(scope="session")
def removals():
    """The fleet's removal, begun once its last test has run: waited for at the end of the run,
    while the worker goes on with other modules meanwhile (deleting the hosts' engines' data
    takes a minute)."""
    started: list[subprocess.Popen] = []
    yield started
    for removal in started:
        removal.wait(timeout=600)


@pytest.fixture(scope="package")
def fleet(tmp_path_factory, removals):
    """FLEET_SIZE hosts, their engines answering over ssh; host 0 runs the registry. One fleet for
    the fleet's modules, in the order collected: the deploy over ssh (host 0, then host 2 as a
    new host), then the swarm of all three, whose manager, host 0, builds from the same build
    cache. Each module removes its own stacks."""
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        pytest.skip("the fleet tests need the OpenSSH client (ssh, ssh-keygen)")
    execute("docker", "build", "-q", "-t", HOST_IMAGE, "-f", str(FLEET / "host.Dockerfile"), str(FLEET), timeout=900)
    home = tmp_path_factory.mktemp("fleet")
    key = home / "key"
    execute("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleet-test", "-f", str(key))
    (home / "ssh_config").write_text(
        f"Host 127.0.0.1\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
    )
    # OpenSSH reads the config of the passwd home, whatever $HOME says: a wrapper names ours.
    wrapper = home / "bin" / "ssh"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {home / "ssh_config"} "$@"\n')
    wrapper.chmod(0o755)

    name = f"fleet-{uuid.uuid4().hex[:8]}"
    containers = [f"{name}-{n}" for n in range(FLEET_SIZE)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
        try:
            execute("docker", "network", "create", name)
            for n, container in enumerate(containers):
                registry = ["--network-alias", "registry", "--env", "REGISTRY=1"] if n == 0 else []
                execute(
                    "docker", "run", "--detach", "--privileged", "--init", "--name", container,
                    "--hostname", f"node{n}", "--network", name, *registry,
                    "--env", f"AUTHORIZED_KEY={(home / 'key.pub').read_text().strip()}",
                    "--publish", "127.0.0.1::22", "--publish", f"127.0.0.1::{PROXY_PORT}",
                    HOST_IMAGE,
                )  # fmt: skip
            hosts = [Host(container) for container in containers]
            for host in hosts:
                host.wait_for_engine()
            # Host 0 builds the stack (the deploy over ssh, then the swarm's manager) and runs the
            # registry. The swarm's deploy pushes the images there: their base images go first,
            # in the background while the deploy over ssh runs, so that its push sends only the
            # stack's own layers.
            base = build_images() + run_images()
            load_images([hosts[0]], base)
            hosts[0].seeding = threading.Thread(target=seed_registry, args=(hosts[0], base), daemon=True)
            hosts[0].seeding.start()
            yield hosts
        finally:
            # The containers' anonymous volumes hold each engine's /var/lib/docker.
            remove = f"docker rm -f -v {' '.join(containers)} >/dev/null; docker network rm {name} >/dev/null"
            removals.append(subprocess.Popen(["sh", "-c", remove]))


@pytest.fixture(scope="package")
def bucket(fleet, stack_tmp):
    """The bucket `backups` for the sites' backups, off the hosts they run on: SeaweedFS over TLS
    (pgBackRest speaks no plain http) in a plain container of fleet host 1, reached from the
    others' containers as seaweedfs:8333 with a certificate of a test CA that every fleet host
    holds (compose.backup-bucket.yaml). The sites' settings for it; each site gives its own
    BACKUP_S3_PATH."""
    host = fleet[1]
    load_images([host], (STORE_IMAGE,))
    certs = bucket_certificates(fleet, stack_tmp)
    make_certificates(certs)
    for each in fleet:
        execute("docker", "cp", str(certs), f"{each.container}:/etc/test-certs")
    keys = {"BACKUP_S3_KEY": secrets.token_hex(8), "BACKUP_S3_KEY_SECRET": secrets.token_hex(16)}
    host.docker(
        "run", "--detach", "--name", "store", "--publish", "8333:8333",
        "--env", f"AWS_ACCESS_KEY_ID={keys['BACKUP_S3_KEY']}",
        "--env", f"AWS_SECRET_ACCESS_KEY={keys['BACKUP_S3_KEY_SECRET']}",
        "--volume", "/etc/test-certs:/certs:ro", STORE_IMAGE,
        "server", "-s3", "-s3.cert.file=/certs/cert.pem", "-s3.key.file=/certs/key.pem",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        make = "echo 's3.bucket.create -name backups' | weed shell"
        while "created bucket" not in host.docker("exec", "store", "sh", "-c", make, check=False):
            assert time.monotonic() < deadline, "the store did not make the bucket within 60 s"
            time.sleep(2)
        yield {
            "BACKUP_S3_BUCKET": "backups",
            "BACKUP_S3_ENDPOINT": "seaweedfs",
            "BACKUP_S3_PORT": "8333",
            "BACKUP_S3_REGION": "us-east-1",
            "BACKUP_S3_URI_STYLE": "path",
            **keys,
            "TEST_STORE_ADDRESS": host.shell("hostname -i").strip(),
        }
    finally:
        host.docker("rm", "--force", "--volumes", "store", check=False)
