"""What the admin pages hear about fine-tuning, pushed through webapp.core.broadcast.

Every staff socket on a job page joins the job's group; the payloads are the job's
current state, so a page can always render from the latest event alone.
"""

from __future__ import annotations

from webapp.core import broadcast


def job_group(job_id) -> str:
    return f"finetune.{job_id}"


def job_payload(job) -> dict:
    return {
        "id": str(job.pk),
        "status": job.status,
        "status_label": job.get_status_display(),
        "message": job.message,
        "cancel_requested": job.cancel_requested,
        "can_cancel": job.status in (job.Status.QUEUED, job.Status.RUNNING) and not job.cancel_requested,
        "can_resume": job.can_resume,
        "progress": job.progress,
        "epochs": job.epoch_history,
        "sample_grid_url": _sample_grid_url(job),
        "result_version": job.result_version.number if job.result_version_id and job.result_version else None,
        "result_version_url": _version_url(job),
    }


def _sample_grid_url(job) -> str:
    if not job.sample_grid:
        return ""
    from django.urls import reverse

    # The name changes with every new grid, so browsers never show a stale cached one.
    return reverse("finetune:job-samples", args=[job.pk]) + f"?v={job.sample_grid.name.rsplit('/', 1)[-1]}"


def _version_url(job) -> str:
    if not job.result_version_id:
        return ""
    from django.urls import reverse

    return reverse("admin:registry_modelversion_change", args=[job.result_version_id])


def job_changed(job) -> None:
    """The job's status or message changed: send its whole state."""
    broadcast.send(job_group(job.pk), "finetune.job", {"job": job_payload(job)})


def job_progress(job, latest_losses: list[dict]) -> None:
    """A training step or epoch: the state plus the newest loss points for the chart."""
    broadcast.send(job_group(job.pk), "finetune.progress", {"job": job_payload(job), "losses": latest_losses})


def versions_changed() -> None:
    broadcast.send(broadcast.staff_group(), "registry.versions", {})
