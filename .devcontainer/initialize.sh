#!/bin/sh
# Runs on the host before "Reopen in Container" starts the development stack (initializeCommand).
# The stack's settings live in the repository's .env, which the inv tasks pass to compose; the
# editor's compose reads compose/.env instead (the folder of the first compose file). So this
# writes compose/.env from .env, plus the host user's ids for the dev image's app user, so that
# files created inside stay yours. Root on the host gets 1000: the containers never run as root.
set -eu
cd "$(dirname "$0")/.."

if [ ! -f .env ]; then
  cp .env.example .env
  echo "Created .env from .env.example (development values); edit it to change settings."
fi

uid=$(id -u)
gid=$(id -g)
if [ "$uid" = 0 ]; then
  uid=1000
  gid=1000
fi

# The ids first: where a name is set twice compose takes the later value, so APP_UID/APP_GID
# set in .env win, as with the inv tasks (workspace/compose.py).
{
  echo "# Written from ../.env by .devcontainer/initialize.sh at each start: edit ../.env instead."
  echo "APP_UID=$uid"
  echo "APP_GID=$gid"
  cat .env
} >compose/.env
