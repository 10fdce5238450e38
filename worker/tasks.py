"""Celery tasks. Each one is thin: it takes a primary key and calls one service function.

Job state lives in the database (webapp.core.jobs): a task message is only a nudge, so
redelivering, duplicating or losing one never double-runs or loses a job. The web app sends
these by name (webapp.core.queue), never by importing this module.
"""

from django.conf import settings

from webapp.api import callbacks
from webapp.core import queue
from webapp.finetune import datasets, runner
from webapp.finetune import services as finetune
from webapp.photos import colorizing
from worker.celery import app


@app.task(
    name=queue.COLORIZE_PHOTO,
    acks_late=True,  # acknowledged once it has finished...
    reject_on_worker_lost=True,  # ...and redelivered when the worker process dies mid-job
    # The service ends a job as failed on a permanent error; what escapes it is transient by
    # construction (TransientJobError, or the database being down before the claim).
    autoretry_for=(Exception,),
    retry_backoff=5,  # 5 s, 10 s, 20 s, ... after a transient error
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=None,  # the job's attempts (JOB_MAX_ATTEMPTS) bound the retries, not Celery
)
def colorize_photo(colorization_id: str) -> None:
    colorizing.run_colorization(colorization_id)


@app.task(name=queue.REQUEUE_STALLED_JOBS, ignore_result=True)
def requeue_stalled_jobs() -> dict:
    """Periodic (Celery beat): requeue jobs whose worker died or whose message Redis lost."""
    report = colorizing.requeue_stalled_jobs()
    return {"requeued": len(report.requeued), "resent": len(report.resent), "failed": len(report.ended)}


@app.task(name=queue.RUN_FINETUNE, ignore_result=True, acks_late=True, reject_on_worker_lost=True,
          time_limit=settings.CELERY_TRAINING_TIME_LIMIT, soft_time_limit=settings.CELERY_TRAINING_TIME_LIMIT - 60)
def run_finetune(job_id: str) -> None:
    """Train a fine-tuning job (training queue). A worker that dies leaves the job interrupted, not lost."""
    runner.run_job(job_id)


@app.task(name=queue.CHECK_DATASET, ignore_result=True, acks_late=True, reject_on_worker_lost=True,
          time_limit=6 * 3600)
def check_dataset(dataset_id: str) -> None:
    """Check an uploaded archive or a server folder of photos (training queue: with one training worker,
    a check waits for a running fine-tune to end)."""
    datasets.check_dataset(dataset_id)


@app.task(name=queue.REQUEUE_STALLED_FINETUNES, ignore_result=True)
def requeue_stalled_finetunes() -> dict:
    """Periodic (Celery beat): fine-tuning jobs whose worker died become interrupted, dataset checks whose
    worker died are sent again (or fail after JOB_MAX_ATTEMPTS); lost messages are re-sent."""
    return finetune.requeue_stalled()


@app.task(name=queue.DELIVER_CALLBACK, ignore_result=True, acks_late=True)
def deliver_callback(callback_id: str) -> str:
    """POST one API callback (maintenance queue); a failed attempt schedules its own retry, with backoff."""
    return callbacks.deliver(callback_id)


@app.task(name=queue.RESEND_LOST_CALLBACKS, ignore_result=True)
def resend_lost_callbacks() -> int:
    """Periodic (Celery beat): API callbacks whose task message the broker lost are sent again."""
    return len(callbacks.resend_lost())
