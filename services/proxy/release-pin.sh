#!/bin/sh
# Pins the proxy to the app containers at the given addresses (host:port ...) while a release
# switches, so that a new container takes requests only once it is healthy; with no address,
# unpins it: the app's name again (APP_ADDRESS). nginx reloads gracefully: the requests in flight
# finish where they are. inv deploy and inv rollback run it (workspace/releases.py).
set -eu
upstream=/tmp/release-upstream.conf
target=/tmp/release-target.conf
if [ $# -eq 0 ]; then
    rm -f "$upstream" "$target"
else
    {
        echo "upstream release {"
        for address in "$@"; do
            echo "    server $address;"
        done
        echo "}"
    } >"$upstream"
    # shellcheck disable=SC2016 # nginx's variable, written as it is.
    echo 'set $app release;' >"$target"
fi
nginx -t -q
nginx -s reload
