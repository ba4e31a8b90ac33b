#!/bin/sh
# Container start for the app: wait for PostgreSQL, migrate, collect static
# files into the volume nginx serves, then run uWSGI.
set -eu

# New files and folders in the volumes stay writable for the group `web`
# (the Dockerfile says why).
umask 002

# A volume made by an image from before the `web` group, or changed by hand, may
# not be writable for this user: say so, and how to fix it, instead of failing
# on the first upload or on hundreds of collectstatic errors.
for volume in "$MEDIA_ROOT" "$STATIC_ROOT"; do
    if [ ! -w "$volume" ]; then
        owner=$(stat -c %u:%g "$volume")
        echo "Configuration error: $volume belongs to $owner and is not writable for the app user" \
            "$(id -u):$(id -g). Fix: docker compose run --rm --no-deps --user 0 app" \
            "sh -c 'chgrp -R 10001 $volume && chmod -R g+rwX,g+s $volume'" >&2
        exit 1
    fi
done

# Wait for the database, migrate, then (DEBUG off) collect the static files into the volume
# nginx serves and compress the new ones: one Django start-up for all (ops/management/commands/
# prepare.py). Deployments migrate once, in `inv deploy`, rather than every replica at start.
if [ "${MIGRATE_ON_START:-true}" = true ]; then
    python manage.py prepare
else
    python manage.py prepare --no-migrate
fi

# uWSGI reads every UWSGI_* variable as an option, and an empty one as an empty value (no
# workers, no timeout): empty counts as unset, so uwsgi.ini's default applies.
for name in $(env | sed -n 's/^\(UWSGI_[A-Z_]*\)=$/\1/p'); do
    unset "$name"
done

# The proxy's way in: the UNIX socket of a single app container (UWSGI_SOCKET, compose.yaml), else
# TCP port 9000 on each of this container's addresses but the one in the database's network
# (listen_address.py says why).
sockets=""
if [ -z "${UWSGI_SOCKET:-}" ]; then
    sockets=$(python listen_address.py)
fi

# On a swarm (STOP_DELAY, compose.swarm.yaml) a replica told to stop keeps taking requests for
# that many seconds first: the proxies on other nodes learn it is gone only when their cached
# lookup of `app` expires. Only then does uWSGI stop taking new ones and finish those it holds.
# A request it had queued but not taken would be reset, and nginx resends no POST.
if [ "${STOP_DELAY:-0}" -gt 0 ]; then
    stopping=false
    trap 'stopping=true' TERM INT
    # shellcheck disable=SC2086
    uwsgi --ini uwsgi.ini $sockets &
    uwsgi=$!
    # A trapped signal ends the wait.
    status=0
    wait "$uwsgi" || status=$?
    if [ "$stopping" = true ]; then
        sleep "$STOP_DELAY"
        kill -TERM "$uwsgi"
        status=0
        wait "$uwsgi" || status=$?
    fi
    exit "$status"
fi

# exec: uWSGI takes the shell's place and receives docker's SIGTERM itself (die-on-term).
# shellcheck disable=SC2086 # $sockets is words on purpose: --socket ADDRESS:9000 ...
exec uwsgi --ini uwsgi.ini $sockets
