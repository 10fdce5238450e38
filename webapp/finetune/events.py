"""What the admin pages hear about fine-tuning, pushed through webapp.core.broadcast.

A job page's socket joins the job's group; every event carries the job's whole current
state, so the page can render from the latest event alone (the loss chart also gets the
new points since the previous event, or, in a snapshot, the whole history to start over from).
"""

from __future__ import annotations

from django.urls import reverse

from webapp.core import broadcast
from webapp.registry.services import comparison_verdict


def job_group(job_id) -> str:
    return f"finetune.{job_id}"


def job_payload(job) -> dict:
    return {
        "id": str(job.pk),
        "state": job.state,
        "state_label": job.get_state_display(),
        "message": job.message,
        "cancel_requested": job.cancel_requested,
        "can_cancel": job.can_cancel,
        "can_resume": job.can_resume,
        "resume_blocker": job.resume_blocker,
        "progress": job.progress,
        "epochs": job.epoch_history,
        "sample_grid_url": sample_grid_url(job),
        "result_version": job.result_version.number if job.result_version_id else None,
        "result_version_url": (reverse("admin:registry_modelversion_change", args=[job.result_version_id])
                               if job.result_version_id else ""),
        "verdict": comparison_verdict(job.comparison or {}),
    }


def sample_grid_url(job) -> str:
    if not job.sample_grid:
        return ""
    # The file name changes with every epoch, so a browser never shows a stale cached grid.
    name = job.sample_grid.name.rsplit("/", 1)[-1]
    return reverse("admin:finetune_finetunejob_samples", args=[job.pk]) + f"?v={name}"


def job_changed(job) -> None:
    """The job's state or message changed."""
    broadcast.send(job_group(job.pk), "finetune.job", {"job": job_payload(job), "losses": []})


def job_progress(job, new_losses: list[dict]) -> None:
    """Training moved on: the state plus the loss points recorded since the last event."""
    broadcast.send(job_group(job.pk), "finetune.job", {"job": job_payload(job), "losses": new_losses})


def job_snapshot(job) -> None:
    """The job's whole loss history was replaced (a resumed run dropped the points after its checkpoint):
    pages start their charts over from it, as on connect."""
    broadcast.send(job_group(job.pk), "finetune.snapshot", {"job": job_payload(job), "losses": job.loss_history})
