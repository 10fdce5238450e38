#!/usr/bin/env bash
# System packages the tests drive: Chromium (browser tests) and docker-compose (validates
# the compose file offline). Installed from Debian when missing and running as root.
set -uo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v docker-compose >/dev/null || missing+=(docker-compose)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "Missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}) to run every test." >&2
  exit 1
fi
echo "Installing ${missing[*]} from Debian for the tests..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
