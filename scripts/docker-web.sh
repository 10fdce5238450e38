#!/usr/bin/env bash
# Web container: apply migrations (which also registers the shipped model), then serve.
set -euo pipefail
python manage.py migrate --noinput
exec gunicorn webapp.asgi:application --config scripts/gunicorn.conf.py --bind 0.0.0.0:8000
