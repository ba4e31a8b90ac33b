"""What the fleet tests share besides fixtures: a fleet host (`Host`), the images it needs, and
a deploy stack on one (`RemoteStack`). conftest.py describes the fleet."""

import contextlib
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tests.stack.support import Stack
from tests.support import first_group, free_port
from workspace.compose import BACKUP_S3_FILES, BASE_FILES, DEPLOY_FILES, ROOT

if TYPE_CHECKING:
    import threading

# The backups' bucket (conftest.py's `bucket`): the store's image, and the override that points a
# site's database and backup service at it.
STORE_IMAGE = first_group(r"image:\s*(\S+)", (ROOT / "tests/stack/compose.backup-store.yaml").read_text())
BUCKET_OVERRIDE = "tests/stack/fleet/compose.backup-bucket.yaml"

# The proxy's port on every host: a swarm publishes it on the host's own interfaces, which the
# fleet container publishes on a loopback port of this machine.
PROXY_PORT = 8000


def execute(*command: str, check=True, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and result.returncode:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


class Host:
    """One fleet host: its container here, its engine over ssh."""

    def __init__(self, container: str):
        self.container = container
        # Host 0: the fleet's registry being given the stack's base images (seed_registry).
        self.seeding: threading.Thread | None = None
        self.ssh_port = self.published(22)
        self.http_port = self.published(PROXY_PORT)

    def published(self, port: int) -> int:
        return int(execute("docker", "port", self.container, f"{port}/tcp").stdout.split(":")[-1])

    @property
    def address(self) -> str:
        return f"ssh://root@127.0.0.1:{self.ssh_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def docker(self, *args: str, check=True, timeout=300) -> str:
        """`docker ARGS` on the host's engine."""
        return execute("docker", "-H", self.address, *args, check=check, timeout=timeout).stdout

    def shell(self, script: str, *, check=True) -> str:
        """A shell command in the host itself (its processes, not its containers)."""
        return execute("docker", "exec", self.container, "sh", "-c", script, check=check).stdout

    def engine_answers(self) -> bool:
        return execute("docker", "-H", self.address, "info", check=False, timeout=30).returncode == 0

    def wait_for_engine(self, timeout=60) -> None:
        deadline = time.monotonic() + timeout
        while not self.engine_answers():
            assert time.monotonic() < deadline, f"the engine of {self.container} did not answer within {timeout}s"
            time.sleep(0.5)

    def restart_engine(self) -> None:
        """Stops dockerd as a service manager would (SIGTERM); the host starts it again."""
        self.shell("pkill -x dockerd; while pgrep -x dockerd >/dev/null; do sleep 0.2; done")
        self.wait_for_engine()

    def kill(self) -> None:
        """The host fails at once, as on a power cut."""
        execute("docker", "kill", self.container)

    @contextlib.contextmanager
    def tunnel(self, remote_port: int):
        """A loopback port of this machine forwarded over ssh to the host's own loopback port."""
        local = free_port()
        forward = f"127.0.0.1:{local}:127.0.0.1:{remote_port}"
        command = ["ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-L", forward, "-p", str(self.ssh_port)]
        process = subprocess.Popen([*command, "root@127.0.0.1"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, f"ssh -L failed: {process.communicate()[1].decode()}"
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local), timeout=1):
                    break
                assert time.monotonic() < deadline, "the ssh tunnel did not open within 20s"
                time.sleep(0.2)
            yield local
        finally:
            # ssh may wait on a forwarded connection a client keeps alive: a tunnel is not worth waiting for.
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def bucket_certificates(fleet: list[Host], stack_tmp: Path) -> Path:
    """The folder of the fleet's bucket's test CA (ca.pem) and certificate (the bucket fixture)."""
    return stack_tmp / f"{fleet[0].container}-certs"


def build_images() -> tuple[str, ...]:
    """The registry images the stack's Dockerfiles start from (FROM, less their own stages)."""
    images: set[str] = set()
    stages: set[str] = set()
    for dockerfile in sorted((ROOT / "services").glob("*/Dockerfile")):
        for source, stage in re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", dockerfile.read_text(), re.M | re.I):
            images |= {source} - stages
            stages.add(stage)
    return tuple(sorted(images))


def run_images() -> tuple[str, ...]:
    """The registry images compose.yaml runs as they are (the database's)."""
    return tuple(re.findall(r"^\s+image:\s*([^\s$]+)\s*$", (ROOT / BASE_FILES[0]).read_text(), re.M))


def load_images(hosts: list[Host], images: Sequence[str]) -> None:
    """Gives the hosts these images from this engine (pulled here first if missing): hosts may
    reach no registry. One archive, loaded by all hosts that lack one of them, at once."""
    hosts = [
        host
        for host in hosts
        if execute("docker", "-H", host.address, "image", "inspect", *images, check=False).returncode
    ]
    if not hosts:
        return
    for image in images:
        if execute("docker", "image", "inspect", image, check=False).returncode:
            execute("docker", "pull", image, timeout=600)
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "images.tar"
        execute("docker", "save", "--output", str(archive), *images)
        loads = []
        for host in hosts:
            with archive.open("rb") as source:
                loads.append(
                    subprocess.Popen(
                        ["docker", "exec", "-i", host.container, "docker", "load"],
                        stdin=source,
                        stdout=subprocess.DEVNULL,
                    )
                )
        for load in loads:
            assert load.wait(timeout=300) == 0, "docker load on a fleet host failed"


def seed_registry(host: Host, images: Sequence[str]) -> None:
    """Pushes IMAGES from HOST's engine to the fleet's registry (as registry:5000/base/NAME): a
    later push from that engine of an image built on them mounts their layers there instead of
    compressing them again. What it costs is spent while other fleet tests run."""
    for image in images:
        seeded = f"registry:5000/base/{image.rsplit('/', 1)[-1]}"
        for command in (("tag", image, seeded), ("push", "--quiet", seeded)):
            if not (done := execute("docker", "-H", host.address, *command, check=False, timeout=900)).returncode:
                continue
            print(f"seeding the fleet's registry: docker {' '.join(command)} failed: {done.stderr.strip()}")
            return


def relay(source: Host, target: Host, images: Sequence[str]) -> None:
    """Gives TARGET these images of SOURCE's engine, under the same names, through the fleet's
    registry: SOURCE pushes the layers the registry lacks (the base images' are seeded), TARGET
    pulls them, and a later pull there of an image with the same layers (a swarm's) has them."""
    if source.seeding:
        source.seeding.join(timeout=900)
    for image in images:
        relayed = f"registry:5000/relay/{image.rsplit('/', 1)[-1]}"
        source.docker("tag", image, relayed)
        source.docker("push", "--quiet", relayed, timeout=900)
        target.docker("pull", "--quiet", relayed, timeout=900)
        target.docker("tag", relayed, image)


class RemoteStack(Stack):
    """A deploy stack (compose.deploy.yaml) on a fleet host: compose talks to its engine over ssh."""

    def __init__(self, tmp: Path, host: Host, **settings):
        # The test sends what a TLS front would (X-Forwarded-Proto: https): the proxy believes it
        # from any address (FORWARDED_ALLOW_IPS), as it would believe the site's own front.
        super().__init__(
            tmp, files=DEPLOY_FILES, HTTPS="true", PROXY_PORT=str(PROXY_PORT), FORWARDED_ALLOW_IPS="*", **settings
        )
        self.host = host
        # What `inv deploy` printed, for the test that deployed it.
        self.deploy_output = ""
        self.overrides = {"DOCKER_HOST": host.address}
        self.env.update(COMPOSE_PROJECT_NAME=self.project, IMAGE_PREFIX=self.env.get("IMAGE_PREFIX", self.project))
        self.write_env()
        # A compose file layered on top (`inv deploy --override`), from the repository's root.
        self.override = ""

    def layer(self, override: str) -> None:
        """Every command of this stack with OVERRIDE on top, as `inv deploy --override` deployed it."""
        self.override = override
        self.files = (*self.files, override)

    def inv(self, *args: str, timeout=600, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """`inv ARGS --host <this host> --env-file <this stack's>` (in the test site or a copy)."""
        override = ("--override", self.override) if self.override else ()
        return super().inv(*args, "--host", self.host.address, *override, timeout=timeout, cwd=cwd)


def in_the_bucket(stack: RemoteStack, override: str = BUCKET_OVERRIDE) -> None:
    """The stack's backups in the fleet's bucket: every command of it with the bucket's files (a
    swarm's: compose.backup-bucket-swarm.yaml)."""
    stack.files = (*stack.files, *BACKUP_S3_FILES)
    stack.layer(override)
