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
# Compressed copies of the text files: nginx sends them as they are (gzip_static)
# instead of compressing the same file again for every request.
find "$STATIC_ROOT" -type f \( -name '*.css' -o -name '*.js' -o -name '*.svg' -o -name '*.txt' \
    -o -name '*.json' -o -name '*.map' \) -exec gzip -9 --keep --force {} +

# exec: uWSGI takes the shell's place and receives docker's SIGTERM itself (die-on-term).
exec uwsgi --ini uwsgi.ini
