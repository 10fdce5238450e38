"""The one door from the web app to Celery: sending a job's task, and asking which workers listen.

Tasks are sent by name, so the web app never imports the worker's code: `worker/tasks.py`
registers functions under these same names, and ROUTES below sends each name to its queue
(inference, training, maintenance). A message carries only the job's
primary key; the job's state lives in its database row (webapp.core.jobs).

The Celery application itself is built here, named after the product, and configured from
the Django settings (the CELERY_* names); the worker package adds its tasks and signals.
"""

from __future__ import annotations

from celery import Celery
from django.conf import settings

COLORIZE_PHOTO = "worker.tasks.colorize_photo"
RUN_FINETUNE = "worker.tasks.run_finetune"
CHECK_DATASET = "worker.tasks.check_dataset"
REQUEUE_STALLED_JOBS = "worker.tasks.requeue_stalled_jobs"
REQUEUE_STALLED_FINETUNES = "worker.tasks.requeue_stalled_finetunes"
DELIVER_CALLBACK = "worker.tasks.deliver_callback"
RESEND_LOST_CALLBACKS = "worker.tasks.resend_lost_callbacks"

ROUTES = {
    COLORIZE_PHOTO: {"queue": "inference"},
    RUN_FINETUNE: {"queue": "training"},
    CHECK_DATASET: {"queue": "training"},
    # Short chores on a worker of their own (Procfile, docker-compose.yml): a backlog of photos on
    # the inference workers never delays rescuing a lost job or answering an API client.
    REQUEUE_STALLED_JOBS: {"queue": "maintenance"},
    REQUEUE_STALLED_FINETUNES: {"queue": "maintenance"},
    DELIVER_CALLBACK: {"queue": "maintenance"},
    RESEND_LOST_CALLBACKS: {"queue": "maintenance"},
}


def beat_schedule(interval: float) -> dict:
    """The periodic chores (Celery beat), every `interval` seconds (JOB_REAPER_INTERVAL)."""
    every = {"schedule": interval, "options": {"expires": interval}}  # never pile up while no worker listens
    return {
        # Requeue colorization jobs whose worker died or whose message Redis lost.
        "requeue-stalled-jobs": {"task": REQUEUE_STALLED_JOBS, **every},
        # Show fine-tuning jobs whose training worker died as interrupted (resumable), never "running";
        # dataset checks whose worker died are queued again.
        "requeue-stalled-finetunes": {"task": REQUEUE_STALLED_FINETUNES, **every},
        # Send again the API callbacks whose task message Redis lost.
        "resend-lost-callbacks": {"task": RESEND_LOST_CALLBACKS, **every},
    }


app = Celery("hue")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_routes = ROUTES
app.conf.beat_schedule = beat_schedule(settings.JOB_REAPER_INTERVAL)


def send(task: str, pk, countdown: float | None = None) -> None:
    """Send the task message of one job (its primary key, as text), after `countdown` seconds if given.
    Raises when the broker is unreachable."""
    app.send_task(task, args=[str(pk)], countdown=countdown)


def worker_queues(timeout: float) -> dict[str, list[str]]:
    """The workers that answer within `timeout` seconds: worker name -> the queues it consumes.
    Raises when the broker is unreachable."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {name: [queue["name"] for queue in queues] for name, queues in replies.items()}
