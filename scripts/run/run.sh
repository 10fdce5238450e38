#!/usr/bin/env bash
# `make run`: the whole app on this machine. Web (ASGI), an inference worker, a training
# worker, the maintenance worker (the periodic reapers), the periodic scheduler and, when none answers at REDIS_URL, a local Redis.
# Ctrl-C stops everything together.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .venv/bin/activate
# Local state (database, media, Redis data, the beat schedule) in $VAR_DIR, default var/;
# made absolute so that it names the same folder for every process and in the messages.
mkdir -p "${VAR_DIR:-var}"
VAR_DIR="$(cd "${VAR_DIR:-var}" && pwd)"
export VAR_DIR

export WEB_PORT="${WEB_PORT:-8000}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
processes="web inference maintenance training beat"
if ! python scripts/run/localredis.py ping "$REDIS_URL"; then
  LOCAL_REDIS_PORT="$(python scripts/run/localredis.py free-port 6390)"
  export LOCAL_REDIS_PORT
  export REDIS_URL="redis://127.0.0.1:${LOCAL_REDIS_PORT}/0"
  processes="redis $processes"
  echo "No Redis answered; starting a local one at $REDIS_URL (data in $VAR_DIR/redis)"
fi

python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0

cat <<MSG

  Hue is starting on http://127.0.0.1:${WEB_PORT}/
  Create an admin account (in another terminal, in this folder):  $(bash scripts/run/superuser.sh --hint)
  Stop everything with Ctrl-C.

MSG
# A process that crashes is started again (with a log line); Ctrl-C stops them all.
exec python scripts/run/supervise.py --procfile Procfile $processes
