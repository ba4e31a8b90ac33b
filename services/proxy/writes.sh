#!/bin/sh
# Run by the image's entrypoint before nginx starts: who may send a request with a body. Django
# decides (its CSRF check, its authentication, the view) unless PROXY_WRITES_NEED_LOGIN=true, a
# site's own choice: then nginx first asks the app whether the request's session is a logged-in
# user's (/_session) and refuses anyone else's before it reads a byte of the body.
set -eu

rule=/tmp/writes.conf
case "${PROXY_WRITES_NEED_LOGIN:-false}" in
    true) echo "auth_request /_session;" >"$rule" ;;
    false) echo "# PROXY_WRITES_NEED_LOGIN=false: the app decides who may write." >"$rule" ;;
    *)
        echo "PROXY_WRITES_NEED_LOGIN=${PROXY_WRITES_NEED_LOGIN} is neither true nor false." >&2
        exit 1
        ;;
esac
