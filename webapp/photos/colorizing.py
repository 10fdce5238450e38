"""Colorizations in the inference worker: claim a queued job, run the model, store the result, and the
reaper (maintenance worker) that rescues jobs whose worker or message was lost. Queueing them, on
the web side: webapp.photos.services."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError

from webapp.core import jobs
from webapp.core.jobs import JobState
from webapp.photos import events, images
from webapp.photos.hints import engine_hints
from webapp.photos.models import Colorization
from webapp.photos.services import send_task
from webapp.registry.loader import NoActiveModel, get_colorizer
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version

log = logging.getLogger(__name__)


class TransientJobError(Exception):
    """A colorization hit a problem that may go away (storage, database, GPU memory); the task retries."""


class MissingOriginal(Exception):
    """The stored original is gone: retrying cannot bring it back."""


class HintsNotTaken(Exception):
    """The job has colour hints and the version that runs it takes none (the active one changed since)."""


def is_transient(exc: BaseException) -> bool:
    """Storage, database and GPU-memory errors may go away. A damaged image does not: open_original
    turns Pillow's errors (OSErrors too) into UnreadableImage before they get here."""
    if isinstance(exc, (OSError, DatabaseError)):
        return True
    return type(exc).__name__ == "OutOfMemoryError"  # torch.cuda.OutOfMemoryError, without importing torch


def run_colorization(colorization_id) -> None:
    """Colorize one queued job (called by the Celery task). A second delivery finds nothing to claim."""
    job = jobs.claim(Colorization, colorization_id)
    if job is None:
        log.info("colorization %s is not queued (done, running elsewhere or deleted); nothing to do", colorization_id)
        return
    events.job_changed(job)
    try:
        with jobs.Heartbeat(job, settings.JOB_HEARTBEAT_INTERVAL):
            version, files = colorize(job)
    except NoActiveModel:
        fail(job, "No colorization model is active yet. Once an administrator activates one, re-run this photo.")
    except (images.UnreadableImage, MissingOriginal, HintsNotTaken) as exc:
        log.warning("colorization %s: %s", job.pk, exc)
        fail(job, str(exc))
    except Exception as exc:
        if type(exc).__name__ == "SoftTimeLimitExceeded":
            fail(job, f"Colorizing took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT // 60} minutes. "
                      "Try a smaller render size.")
        elif is_transient(exc) and job.attempts < settings.JOB_MAX_ATTEMPTS:
            log.warning("colorization %s hit a transient error; retrying", job.pk, exc_info=True)
            if jobs.release(job, f"Retrying after a temporary problem: {describe(exc)}"):
                events.job_changed(job)
                raise TransientJobError(describe(exc)) from exc
        else:
            log.exception("colorization %s failed", job.pk)
            attempts = f" after {job.attempts} attempts" if job.attempts > 1 else ""
            fail(job, f"Colorization failed{attempts}: {describe(exc)}")
    else:
        # The label people see on the photo page: the version's public name, never its internal one.
        if jobs.finish(job, JobState.DONE, model_version=version, model_label=version.public_label, **files):
            events.job_changed(job)
        else:
            log.info("colorization %s was requeued or deleted while it ran; dropping its result", job.pk)
            for name in files.values():
                default_storage.delete(name)


def colorize(job: Colorization) -> tuple[ModelVersion, dict[str, str]]:
    """Run the model on the job's photo and store the result files; returns (version, field -> file name)."""
    version = job.requested_version or active_version()
    if version is None:
        raise NoActiveModel("No model version is active yet.")
    colorizer = get_colorizer(version)
    photo = job.photo
    try:
        handle = photo.original.open("rb")
    except FileNotFoundError:
        raise MissingOriginal("The uploaded file of this photo is missing. Delete this photo and upload it again.")
    with handle:
        original = images.open_original(handle)
    if job.hints and not colorizer.takes_hints:
        raise HintsNotTaken(f"The model {version.public_label} does not take colour hints. "
                            "Colorize again without hints, or with a model that takes them.")
    result = colorizer.colorize(original, render_size=job.render_size, seed=job.seed, intensity=job.intensity,
                                hints=engine_hints(job.hints) or None)
    base = f"results/{photo.pk}/{job.pk}"
    files = {}
    try:
        files["result"] = default_storage.save(f"{base}.png", ContentFile(images.encode_png(result)))
        files["result_thumbnail"] = default_storage.save(
            f"{base}-thumbnail.jpg", ContentFile(images.rendition(result, images.THUMBNAIL_SIDE)))
        files["result_preview"] = default_storage.save(
            f"{base}-preview.jpg", ContentFile(images.rendition(result, images.PREVIEW_SIDE)))
    except BaseException:
        for name in files.values():
            default_storage.delete(name)
        raise
    return version, files


def fail(job: Colorization, message: str) -> None:
    if jobs.finish(job, JobState.FAILED, message):
        events.job_changed(job)


def describe(exc: BaseException) -> str:
    """What went wrong, for the user: never a server path (an OSError says only its reason)."""
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = SERVER_PATH.sub("<file>", str(exc)).strip() or type(exc).__name__
    return text[:300]


# An absolute path in an error's text, quoted or not ('/srv/hue/media/photos/…/original.jpg').
SERVER_PATH = re.compile(r"""'?(?:[A-Za-z]:)?[/\\](?:[^\s'"/\\]+[/\\])+[^\s'"]*'?""")


def requeue_stalled_jobs() -> jobs.ReaperReport:
    """Requeue jobs whose worker died, re-send jobs whose message was lost (called by Celery beat)."""
    policy = jobs.ReaperPolicy(
        stalled_after=settings.JOB_STALLED_AFTER,
        resend_after=settings.JOB_RESEND_QUEUED_AFTER,
        max_attempts=settings.JOB_MAX_ATTEMPTS,
        end_message=lambda job: (
            f"The worker stopped while colorizing this photo, {job.attempts} times. "
            "It may be too large for the worker's memory: try a smaller render size."
        ),
    )
    return jobs.requeue_stalled(Colorization, policy, send=send_task, changed=events.job_changed)
