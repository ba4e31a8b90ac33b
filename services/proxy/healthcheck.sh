#!/bin/bash
# Container healthcheck: nginx answers its own /nginx-health. The image has neither curl nor
# wget, so a plain HTTP request over bash's /dev/tcp.
set -eu
exec 3<>"/dev/tcp/127.0.0.1/$LISTEN_PORT"
printf 'GET /nginx-health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 5 status <&3
[[ $status == *' 200 '* ]]
