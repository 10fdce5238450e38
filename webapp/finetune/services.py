"""Fine-tuning jobs on the web side: queueing, cancel and resume (admin views), and the training
side's periodic chores (Celery beat). Training itself: webapp.finetune.runner; datasets:
webapp.finetune.datasets."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.core import jobs, queue
from webapp.finetune import datasets, events
from webapp.finetune.models import FineTuneJob, FineTuneState


def start_job(job: FineTuneJob) -> None:
    """Send the job's task once the transaction that created (or requeued) it commits."""
    FineTuneJob.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())
    transaction.on_commit(lambda: send_task(job))
    events.job_changed(job)


def send_task(job: FineTuneJob) -> None:
    queue.send(queue.RUN_FINETUNE, job.pk)


def request_cancel(job: FineTuneJob) -> None:
    """A queued job stops at once; a running one saves a checkpoint within a few steps and stops."""
    jobs.end_unclaimed(job, FineTuneState.CANCELLED, "Cancelled before it started.", cancel_requested=True)
    # A running job's worker looks for the flag between steps, and ends the job itself.
    FineTuneJob.objects.filter(pk=job.pk, state=FineTuneState.RUNNING).update(
        cancel_requested=True, message="Stopping at the next step…")
    job.refresh_from_db()
    events.job_changed(job)


def resume_job(job: FineTuneJob) -> bool:
    """Queue an interrupted, failed or cancelled job again; it continues from its last checkpoint.
    False when it is not resumable, or resuming could not succeed (job.resume_blocker says why)."""
    if job.resume_blocker:
        return False
    message = "Queued to continue from its last checkpoint." if job.checkpoint_prefix else "Queued again."
    updated = jobs.requeue(job, message, ended=FineTuneJob.RESUMABLE, cancel_requested=False)
    job.refresh_from_db()
    if updated:
        start_job(job)
    return bool(updated)


def requeue_stalled_jobs() -> jobs.ReaperReport:
    """Running jobs whose heartbeat stopped (their worker died) end interrupted, never left running, and an
    admin resumes them from their last checkpoint; queued jobs whose message Redis lost get it sent again."""
    policy = jobs.ReaperPolicy(
        stalled_after=settings.FINETUNE_STALLED_AFTER,
        resend_after=settings.JOB_RESEND_QUEUED_AFTER,
        max_attempts=0,  # a lost training run is never restarted by itself: it may have cost hours
        end_state=FineTuneState.INTERRUPTED,
        end_message=lambda job: "The training worker stopped. Resume continues from the last checkpoint.",
    )
    return jobs.requeue_stalled(FineTuneJob, policy, send=send_task, changed=events.job_changed)


def requeue_stalled() -> dict:
    """The training side's periodic chores (Celery beat, maintenance queue): interrupted jobs, stalled checks."""
    interrupted = requeue_stalled_jobs()
    checks = datasets.requeue_stalled_checks()
    return {"interrupted": len(interrupted.ended), "datasets_requeued": len(checks.requeued),
            "datasets_resent": len(checks.resent), "datasets_failed": len(checks.ended)}
