#!/usr/bin/env bash
# `make superuser`: create an admin account in the database that `make run` uses: the same VAR_DIR
# (default var/) and DATABASE_URL, the migrations applied first. With DJANGO_SUPERUSER_USERNAME,
# DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD set, it asks nothing.
#
# `scripts/run/superuser.sh --hint` prints the command to type for the current environment (run.sh's banner).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p "${VAR_DIR:-var}"
VAR_DIR="$(cd "${VAR_DIR:-var}" && pwd)"
export VAR_DIR

if [ "${1:-}" = "--hint" ]; then
  hint="make superuser"
  [ "$VAR_DIR" = "$(pwd)/var" ] || hint="VAR_DIR=$(printf %q "$VAR_DIR") $hint"
  [ -z "${DATABASE_URL:-}" ] || hint="DATABASE_URL=$(printf %q "$DATABASE_URL") $hint"
  echo "$hint"
  exit 0
fi

. .venv/bin/activate
python manage.py migrate --noinput --verbosity 0
if [ -n "${DJANGO_SUPERUSER_PASSWORD:-}" ]; then
  exec python manage.py createsuperuser --noinput "$@"
fi
exec python manage.py createsuperuser "$@"
