#!/bin/sh
# .env from .env.example on a fresh clone, with the host user's ids for the images' app user, so
# that files created in the bind-mounted repository stay yours; root gets 1000: the containers
# never run as root. "Reopen in Container" runs this first (initializeCommand), and so do the inv
# tasks. Compose reads .env from the root (plain `docker compose`, the tasks) and through
# compose/.env, a link to it, where the editor's compose looks (the folder of the first file).
set -eu
cd "$(dirname "$0")/.."
[ -f .env ] && exit 0

uid=$(id -u)
gid=$(id -g)
if [ "$uid" = 0 ]; then
  uid=1000
  gid=1000
fi
{
  cat .env.example
  printf '\n# This user'"'"'s ids, written when .env was made from .env.example.\nAPP_UID=%s\nAPP_GID=%s\n' "$uid" "$gid"
} >.env
echo "Created .env from .env.example (development values); edit it to change settings."
