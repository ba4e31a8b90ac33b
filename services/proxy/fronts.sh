#!/bin/sh
# Run by the image's entrypoint before nginx starts: the listen on the TLS front's
# UNIX socket (compose.https.yaml sets FRONT_SOCKET), in a file the site config
# includes. The image's template rendering only replaces values: it cannot leave a
# `listen` out when the variable is unset, nor remove the socket file a stopped nginx
# left behind, which would make the bind fail.
set -eu

listen=/tmp/front-socket.conf
if [ -n "${FRONT_SOCKET:-}" ]; then
    rm -f "$FRONT_SOCKET"
    echo "listen unix:$FRONT_SOCKET;" >"$listen"
else
    echo "# No FRONT_SOCKET: TCP only." >"$listen"
fi
