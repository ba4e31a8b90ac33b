# A throwaway Docker host for the fleet tests (tests/stack/fleet/conftest.py): its own Docker
# engine (run privileged, /var/lib/docker on a volume), sshd for `docker -H ssh://`, and on
# one host a registry the others pull from. Built from this folder:
#   docker build -f tests/stack/fleet/host.Dockerfile tests/stack/fleet
FROM debian:trixie-slim

# docker-buildx: the app's Dockerfile needs BuildKit. docker-cli on the host: `docker -H ssh://`
# runs `docker system dial-stdio` there. tini: Docker's init for `init: true` services.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        docker.io docker-cli docker-buildx docker-compose docker-registry \
        openssh-server iptables tini ca-certificates procps \
    && rm -rf /var/lib/apt/lists/*

# The fleet's registry answers on `registry:5000` (a network alias of the host that runs it),
# in plain HTTP: every engine of the fleet is told to trust it.
COPY daemon.json /etc/docker/daemon.json
COPY registry.yml /etc/docker/registry/fleet.yml
COPY --chmod=755 host-start.sh /usr/local/bin/host-start

VOLUME /var/lib/docker
EXPOSE 22
ENTRYPOINT ["host-start"]
