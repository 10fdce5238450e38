"""What pages learn about colorization jobs over the websocket (and in the upload response).

Events (JSON text frames on /ws/jobs/):
- {"type": "job.update", "job": {...}}        a job changed state (see `job_payload`)
- {"type": "jobs.snapshot", "jobs": [...]}    on (re)connect: every unfinished job of the user
- {"type": "job.missing", "id": "..."}        asked about a job that is not (or no longer) theirs
- {"type": "photo.deleted", "photo_id": "..."}
"""

import logging

from django.dispatch import Signal
from django.urls import reverse

from webapp.core import broadcast
from webapp.core.jobs import JobState
from webapp.photos.models import Colorization, Photo


def job_payload(job: Colorization) -> dict:
    photo = job.photo
    done = job.state == JobState.DONE and bool(job.result)
    return {
        "id": str(job.pk),
        "photo_id": str(photo.pk),
        "photo_url": photo.get_absolute_url(),
        "result_url": job.get_absolute_url(),
        "name": photo.original_name,
        "state": job.state,
        "state_label": job.get_state_display(),
        "waiting_label": job.waiting_label,
        "status_text": job.status_text,
        "message": job.message,
        "attempts": job.attempts,
        "render_size": job.render_size,
        "seed": job.seed,
        "intensity": job.intensity,
        "hints": job.hints,
        "model": job.model_label,
        "original_thumbnail_url": reverse("photos:thumbnail", args=[photo.pk]),
        "original_preview_url": reverse("photos:preview", args=[photo.pk]),
        "thumbnail_url": reverse("photos:result-thumbnail", args=[job.pk]) if done else None,
        "preview_url": reverse("photos:result-preview", args=[job.pk]) if done else None,
        "download_png_url": reverse("photos:download", args=[job.pk, "png"]) if done else None,
        "download_jpg_url": reverse("photos:download", args=[job.pk, "jpg"]) if done else None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "duration_seconds": round(job.duration.total_seconds(), 1) if job.duration else None,
    }


log = logging.getLogger(__name__)
# Sent with `job` whenever a colorization changes state (the API's callbacks listen).
job_state_changed = Signal()


def job_changed(job: Colorization) -> None:
    broadcast.send_to_user(job.photo.owner_id, "job.update", {"job": job_payload(job)})
    for receiver, outcome in job_state_changed.send_robust(sender=Colorization, job=job):
        if isinstance(outcome, Exception):  # a listener's failure never fails the job
            log.error("%s failed on a change of job %s", receiver, job.pk, exc_info=outcome)


def photo_deleted(photo: Photo) -> None:
    broadcast.send_to_user(photo.owner_id, "photo.deleted", {"photo_id": str(photo.pk)})
