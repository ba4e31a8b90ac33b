#!/bin/sh
# Starts a fleet host: sshd with the run's throwaway key, the registry where REGISTRY=1, and
# dockerd, started again whenever it stops, as a service manager would: a test restarts the
# engine with `pkill dockerd`.
set -eu

mkdir -p /root/.ssh /run/sshd
printf '%s\n' "${AUTHORIZED_KEY:?the public key that may log in as root}" > /root/.ssh/authorized_keys
chmod 700 /root/.ssh
chmod 600 /root/.ssh/authorized_keys
ssh-keygen -A -q
/usr/sbin/sshd -o PasswordAuthentication=no

if [ "${REGISTRY:-}" = 1 ]; then
    docker-registry serve /etc/docker/registry/fleet.yml >/var/log/registry.log 2>&1 &
fi

while :; do
    dockerd >>/var/log/dockerd.log 2>&1 || true
    sleep 1
done
