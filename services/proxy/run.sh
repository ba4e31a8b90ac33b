#!/bin/sh
# Renders the nginx config from the template, then runs nginx in the foreground.
set -eu

export LISTEN_PORT="${LISTEN_PORT:-8080}"
export APP_HOST="${APP_HOST:-app}"
export APP_PORT="${APP_PORT:-9000}"
export CLIENT_MAX_BODY_SIZE="${CLIENT_MAX_BODY_SIZE:-10m}"

# The TLS front's socket (compose.https.yaml sets FRONT_SOCKET): a file left by a
# stopped nginx would make the bind fail.
FRONT_LISTEN=""
if [ -n "${FRONT_SOCKET:-}" ]; then
    rm -f "$FRONT_SOCKET"
    FRONT_LISTEN="listen unix:$FRONT_SOCKET;"
fi
export FRONT_LISTEN
case "${TRUST_FORWARDED_PROTO:-true}" in
    true) TRUST_FORWARDED_PROTO=1 ;;
    *) TRUST_FORWARDED_PROTO=0 ;;
esac
export TRUST_FORWARDED_PROTO

# nginx resolves the app's name per request with this DNS server (docker's is
# 127.0.0.11), so a recreated app container with a new address is found.
if [ -z "${RESOLVER:-}" ]; then
    RESOLVER=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
    case "$RESOLVER" in
        *:*) RESOLVER="[$RESOLVER]" ;;  # nginx wants IPv6 addresses in brackets
    esac
fi
export RESOLVER

# Only these variables are replaced, so nginx's own $variables stay as they are.
# shellcheck disable=SC2016 # the single quotes are meant: envsubst gets the names
envsubst '${LISTEN_PORT} ${APP_HOST} ${APP_PORT} ${CLIENT_MAX_BODY_SIZE} ${RESOLVER} ${FRONT_LISTEN} ${TRUST_FORWARDED_PROTO}' \
    < /etc/nginx/default.conf.tpl > /etc/nginx/conf.d/default.conf

exec nginx -g 'daemon off;'
