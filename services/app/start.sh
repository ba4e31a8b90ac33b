#!/bin/sh
# Container start for the app: wait for PostgreSQL, migrate, collect static
# files into the volume nginx serves, then run uWSGI.
set -eu

python manage.py wait_for_db --timeout "${DB_WAIT_TIMEOUT:-60}"
# Off in deployments, where `inv deploy` migrates once rather than every replica at start.
if [ "${MIGRATE_ON_START:-true}" = true ]; then
    python manage.py migrate --noinput
fi
python manage.py collectstatic --noinput

# exec: uWSGI becomes PID 1 and receives docker's SIGTERM itself (die-on-term).
exec uwsgi --ini uwsgi.ini
