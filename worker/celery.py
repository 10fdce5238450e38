"""The Celery application as the workers run it: the web app's (webapp.core.queue), plus the tasks
of worker/tasks.py and what a worker process does when it starts and stops.

Start a worker with `celery -A worker worker -Q inference` (or `-Q training`, `-Q maintenance`).
Configuration comes from Django settings (the CELERY_* names).
"""

import os

from celery.signals import worker_process_init, worker_process_shutdown, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

from webapp.core.queue import app  # noqa: E402 (after the settings module is named)

app.autodiscover_tasks(["worker"], related_name="tasks")


_watch = None  # this process's ActiveVersionWatch


@worker_process_init.connect
def get_the_model_ready(**kwargs) -> "object | None":
    """In each inference worker process, once it starts: load the active model before the first photo
    arrives, then load each newly activated version as soon as it is active (MODEL_WATCH_INTERVAL).

    In a thread: Celery kills a pool process whose start takes more than a few seconds, and reading the
    weights (and torch) can take longer than that on a busy machine."""
    from django.conf import settings

    from webapp.registry import loader

    global _watch
    queues = set(app.amqp.queues.consume_from or ())  # what this worker was started with (--queues)
    if queues and "inference" not in queues:
        return None  # a training worker: fine-tuning loads its own weights
    stop_watching()
    _watch = loader.ActiveVersionWatch(settings.MODEL_WATCH_INTERVAL).start()
    return _watch


@worker_process_shutdown.connect
@worker_shutdown.connect
def stop_watching(**kwargs) -> None:
    """The worker (or its pool process) is stopping: so does the watch (a solo-pool worker runs in a process
    that goes on, e.g. a test's)."""
    global _watch
    if _watch is not None:
        _watch.stop()
        _watch = None
