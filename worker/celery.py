"""The Celery application shared by the web app (to send) and the workers (to run).

Start a worker with `celery -A worker worker -Q inference` (or `-Q training`).
Configuration comes from Django settings (the CELERY_* names).
"""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("colorizer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["worker"], related_name="tasks")


@worker_process_init.connect
def get_the_model_ready(**kwargs) -> "object | None":
    """In each inference worker process, once it starts: load the active model before the first photo
    arrives, then load each newly activated version as soon as it is active (MODEL_WATCH_INTERVAL).

    In a thread: Celery kills a pool process whose start takes more than a few seconds, and reading the
    weights (and torch) can take longer than that on a busy machine."""
    from django.conf import settings

    from webapp.registry import loader

    queues = set(app.amqp.queues.consume_from or ())  # what this worker was started with (--queues)
    if queues and "inference" not in queues:
        return None  # a training worker: fine-tuning loads its own weights
    return loader.ActiveVersionWatch(settings.MODEL_WATCH_INTERVAL).start()
