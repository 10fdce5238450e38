#!/usr/bin/env bash
# `make test`: the whole test suite. `make test-fast` (--fast): the unit tests alone, leaving out
# those marked integration (real Redis, workers, subprocesses), browser (Chromium) and slow.
# Uses the Redis at REDIS_URL when it answers, else starts a local one for the run. Further
# arguments go to pytest. A run that collects no tests fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
. .venv/bin/activate

if [ "${1:-}" = "--fast" ]; then
  shift
  set -- -m "not integration and not browser and not slow" "$@"
else
  bash scripts/run/system-test-deps.sh || exit 1
fi

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
if ! python scripts/run/localredis.py ping "$REDIS_URL"; then
  port="$(python scripts/run/localredis.py free-port)"
  # A throwaway Redis (no persistence, its own temporary folder): tests flush and fill it,
  # and must never load or overwrite the data of the dev Redis that `make run` keeps in var/redis.
  pidfile="$(python scripts/run/localredis.py start "$port")" || exit 1
  trap 'kill "$(cat "$pidfile")" 2>/dev/null; rm -rf "$(dirname "$pidfile")"' EXIT
  export REDIS_URL="redis://127.0.0.1:${port}/0"
  echo "No Redis answered; started a throwaway one at $REDIS_URL for the tests"
fi

python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
