#!/bin/sh
# Run by the image's entrypoint before nginx starts: the fronts whose forwarding headers nginx
# believes (default.conf.tpl says how), in files the site config includes. The listen on the TLS
# front's UNIX socket, when FRONT_SOCKET names one (compose.https.yaml), and the addresses of
# FORWARDED_ALLOW_IPS, a front of your own. The image's template rendering only replaces values:
# it cannot leave a `listen` out, repeat a line per address, nor remove the socket file a stopped
# nginx left behind, which would make the bind fail.
set -euf

listen=/tmp/front-socket.conf
if [ -n "${FRONT_SOCKET:-}" ]; then
    rm -f "$FRONT_SOCKET"
    echo "listen unix:$FRONT_SOCKET;" >"$listen"
else
    echo "# No FRONT_SOCKET: TCP only." >"$listen"
fi

# FORWARDED_ALLOW_IPS: addresses or CIDR ranges, comma-separated; * is any address (-f above: no
# file name expansion). nginx refuses to start on one that is neither, and names it.
realip=/tmp/forwarded-allow.conf
geo=/tmp/forwarded-allow.geo
echo "# FORWARDED_ALLOW_IPS=${FORWARDED_ALLOW_IPS:-}" | tee "$realip" >"$geo"
for entry in $(echo "${FORWARDED_ALLOW_IPS:-}" | tr ',' ' '); do
    if [ "$entry" = "*" ]; then
        set -- 0.0.0.0/0 ::/0
    else
        set -- "$entry"
    fi
    for range in "$@"; do
        echo "set_real_ip_from $range;" >>"$realip"
        echo "$range 1;" >>"$geo"
    done
done
