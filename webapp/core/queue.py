"""The one door from the web app to Celery: sending a job's task, and asking which workers listen.

Tasks are sent by name, so the web app never imports the worker's code: `worker/tasks.py`
registers functions under these same names, and CELERY_TASK_ROUTES (settings) sends each
name to its queue (inference, training, maintenance). A message carries only the job's
primary key; the job's state lives in its database row (webapp.core.jobs).

The Celery application itself is built here, named after the product, and configured from
the Django settings (the CELERY_* names); the worker package adds its tasks and signals.
"""

from __future__ import annotations

from celery import Celery

app = Celery("hue")
app.config_from_object("django.conf:settings", namespace="CELERY")

COLORIZE_PHOTO = "worker.tasks.colorize_photo"
RUN_FINETUNE = "worker.tasks.run_finetune"
CHECK_DATASET = "worker.tasks.check_dataset"
REQUEUE_STALLED_JOBS = "worker.tasks.requeue_stalled_jobs"
REQUEUE_STALLED_FINETUNES = "worker.tasks.requeue_stalled_finetunes"
DELIVER_CALLBACK = "worker.tasks.deliver_callback"
RESEND_LOST_CALLBACKS = "worker.tasks.resend_lost_callbacks"


def send(task: str, pk, countdown: float | None = None) -> None:
    """Send the task message of one job (its primary key, as text), after `countdown` seconds if given.
    Raises when the broker is unreachable."""
    app.send_task(task, args=[str(pk)], countdown=countdown)


def worker_queues(timeout: float) -> dict[str, list[str]]:
    """The workers that answer within `timeout` seconds: worker name -> the queues it consumes.
    Raises when the broker is unreachable."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {name: [queue["name"] for queue in queues] for name, queues in replies.items()}
