"""The Celery application shared by the web app (to send) and the workers (to run).

Start a worker with `celery -A worker worker -Q inference` (or `-Q training`).
Configuration comes from Django settings (the CELERY_* names).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("colorizer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["worker"], related_name="tasks")
