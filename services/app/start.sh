#!/bin/sh
# Container start for the app: wait for PostgreSQL, migrate, collect static
# files into the volume nginx serves, then run uWSGI.
set -eu

python manage.py wait_for_db --timeout "${DB_WAIT_TIMEOUT:-60}"
python manage.py migrate --noinput
python manage.py collectstatic --noinput

# exec: uWSGI takes the shell's place and receives docker's SIGTERM itself (die-on-term).
exec uwsgi --ini uwsgi.ini
