#!/usr/bin/env bash
# Web container: apply migrations (which also registers the shipped model), then serve.
# Under docker-compose the one-shot `migrate` service has already applied them and this is
# a no-op; it keeps the image runnable on its own (`docker run ... hue-colorizer`).
set -euo pipefail
python manage.py migrate --noinput
exec gunicorn webapp.asgi:application --config scripts/run/gunicorn.conf.py --bind 0.0.0.0:8000
