"""Training one fine-tuning job in a training worker: claimed once, heartbeaten, cancellable, its
progress pushed live, its result registered as a candidate model version.

A run is a Job (webapp.core.jobs); every write goes through the job's claim, so a worker whose
job was marked interrupted (and may run elsewhere now) stops at its next step without writing.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import socket
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction

from webapp.core import jobs
from webapp.finetune import events
from webapp.finetune.models import FineTuneJob, FineTuneState
from webapp.finetune.options import check_train_options
from webapp.finetune.run_files import RunFiles, delete_checkpoints
from webapp.finetune.run_progress import ClaimLost, RunProgress
from webapp.registry import services as registry

log = logging.getLogger(__name__)

CANCEL_POLL_INTERVAL_S = 1.0  # a running job looks for a cancel request at most this often


def run_job(job_id: str) -> None:
    """Train one queued job into a candidate model version: claimed once, heartbeaten, cancellable."""
    job = jobs.claim(FineTuneJob, job_id)
    if job is None:
        return  # not queued: a second delivery, a cancelled job, or one already running elsewhere
    FineTuneJob.objects.filter(pk=job.pk).update(worker=socket.gethostname())
    runner = JobRunner(job)
    try:
        with jobs.Heartbeat(job, interval=settings.JOB_HEARTBEAT_INTERVAL):
            runner.say("Preparing the photos.")
            runner.run()
    except ClaimLost:
        log.warning("fine-tuning job %s was taken from this worker (marked interrupted); stopped without writing",
                    job.pk)
    except Exception as exc:
        log.exception("fine-tuning job %s failed", job.pk)
        _end(job, FineTuneState.FAILED, f"Training failed: {exc}")


class Cancelled(Exception):
    """An admin's cancel, seen by the runner itself (copying photos, scoring); the message says where."""


CANCELLED_EARLY = "Cancelled while preparing the photos. Resume continues from the last checkpoint, if any."
CANCELLED_TRAINING = "Cancelled. Resume continues from the last checkpoint."
CANCELLED_SCORING = "Cancelled while scoring the candidate. Resume scores it again; the training is kept."


def _end(job: FineTuneJob, state: str, message: str) -> bool:
    """Record how a claimed job ended; False when its claim was lost meanwhile (marked interrupted)."""
    if not jobs.finish(job, state, message):
        return False
    job.refresh_from_db()
    events.job_changed(job)
    return True


class JobRunner(RunFiles, RunProgress):
    """One training session of a job: train, score, register the resulting version; stop on a cancel or
    a lost claim. Its files: RunFiles; its progress on the job's page: RunProgress."""

    def __init__(self, job: FineTuneJob):
        self.job = job
        self.run_dir = Path(settings.TRAINING_DIR) / str(job.pk)
        self.last_save = self.last_cancel_check = 0.0
        self.pushed_step = -1  # the newest loss point already pushed to the admin pages
        self.claim_lost = False
        self.clock = time.monotonic
        self.epoch_started: float | None = None  # when the current epoch began, on the wall clock

    def update(self, **fields) -> bool:
        """Write to the job while this worker still holds its claim; remember when it no longer does."""
        if jobs.owned(self.job).update(**fields):
            return True
        self.claim_lost = True
        return False

    def run(self) -> None:
        job = self.job
        try:
            self.train_and_score()
        except Cancelled as cancel:
            _end(job, FineTuneState.CANCELLED, str(cancel))

    def train_and_score(self) -> None:
        from colorizer.evaluate import evaluate
        from colorizer.train import TrainConfig, train

        job = self.job
        extra = train_options()
        train_dir, val_dir = self.prepare_photos()
        base_weights = self.fetch_base_weights()
        self.fetch_checkpoint()
        self.rewind_history()
        options = dict(
            train_dir=str(train_dir), val_dir=str(val_dir), out_dir=str(self.run_dir / "run"),
            init_generator=str(base_weights), l1_epochs=job.l1_epochs, gan_epochs=job.gan_epochs,
            batch_size=job.batch_size, lr=job.learning_rate, lambda_l1=job.lambda_l1, image_size=job.image_size,
            seed=int(job.pk.int % 2**31), device=settings.COLORIZER_DEVICE, num_workers=loader_workers(),
            cache_images=self.cache_photos(len(os.listdir(train_dir))), resume=True, progress_bar=False,
        )
        config = TrainConfig(**options, **extra)
        self.stop_if_asked(CANCELLED_EARLY)
        self.say("Training.")
        # The engine polls should_stop() after every step (not while it scans the photos before the first).
        result = train(config, on_progress=self.on_progress, should_stop=self.should_stop)
        if self.claim_lost:
            raise ClaimLost  # should_stop() said so: the engine stopped; its checkpoint stays local
        if result.cancelled:
            raise Cancelled(CANCELLED_TRAINING)

        # Scoring takes minutes (FID): a cancel asked meanwhile ends the job cancelled, not done.
        self.stop_if_asked(CANCELLED_SCORING)
        self.say("Scoring the candidate and its base on the held-out photos.")
        options = dict(fid=settings.FINETUNE_EVAL_FID, render_size=job.image_size, device=settings.COLORIZER_DEVICE)
        candidate = evaluate(result.generator_path, str(val_dir), **options)["model"]
        self.stop_if_asked(CANCELLED_SCORING)
        base = evaluate(str(base_weights), str(val_dir), **options)["model"]
        comparison = {"photos": len(os.listdir(val_dir)), "candidate": candidate, "base": base,
                      "base_version": job.base_version.number if job.base_version else None}
        self.finish(result, candidate, comparison)

    def finish(self, result, candidate: dict, comparison: dict) -> None:
        """Register the candidate and mark the job done in one transaction, while this worker holds the
        claim: a crash between the two can no longer leave a version that the resumed run registers again."""
        job = self.job
        version = None
        try:
            with open(result.generator_path, "rb") as weights, open(result.sample_grid, "rb") as grid:
                with transaction.atomic():
                    row = jobs.owned(job).select_for_update().values("cancel_requested").first()
                    if row is None:
                        raise ClaimLost
                    if row["cancel_requested"]:
                        raise Cancelled(CANCELLED_SCORING)
                    version = registry.register_version(
                        File(weights, name="generator.safetensors"), name=f"Fine-tuned on {job.dataset.name}",
                        base_version=job.base_version, metrics=candidate, history=result.history,
                        sample_grid=File(grid, name="samples.png"), notes=self.recipe(), dataset=job.dataset,
                        comparison=comparison)
                    if not jobs.finish(job, FineTuneState.DONE,
                                       f"Finished: v{version.number} is ready to compare and activate.",
                                       result_version=version, comparison=comparison, checkpoint_prefix=""):
                        raise ClaimLost
        except BaseException:
            if version is not None:  # rolled back: its files are nobody's
                version.weights.delete(save=False)
                version.sample_grid.delete(save=False)
            raise
        job.refresh_from_db()
        events.job_changed(job)
        delete_checkpoints(job)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def cache_photos(self, count: int) -> bool | None:
        """Decode the photos once and keep them in memory when they fit in FINETUNE_CACHE_BYTES (the
        engine decides on a GPU); otherwise every epoch decodes them again."""
        if count * 3 * self.job.image_size**2 <= settings.FINETUNE_CACHE_BYTES:
            return True
        return None

    def recipe(self) -> str:
        job = self.job
        return (f"Dataset {job.dataset.name} ({job.dataset.image_count:,} photos, {job.val_split:.0%} held out); "
                f"{job.l1_epochs} L1 + {job.gan_epochs} GAN epochs, batch {job.batch_size}, lr {job.learning_rate:g}, "
                f"lambda {job.lambda_l1:g}, {job.image_size} px; from v{job.base_version.number}.")

    def should_stop(self) -> bool:
        """Polled by the engine after every step: a cancel request, or the claim gone (the reaper marked the
        job interrupted, and an admin may have resumed it on another worker)."""
        now = time.monotonic()
        if self.claim_lost:
            return True
        if now - self.last_cancel_check < CANCEL_POLL_INTERVAL_S:
            return False
        self.last_cancel_check = now
        return self.stop_requested()

    def stop_requested(self) -> bool:
        row = FineTuneJob.objects.filter(pk=self.job.pk).values("state", "claim_token", "cancel_requested").first()
        if row is None or row["state"] != FineTuneState.RUNNING or row["claim_token"] != self.job.claim_token:
            self.claim_lost = True
            return True
        return row["cancel_requested"]

    def between_copies(self) -> None:
        """Preparing the photos can take long: a cancel asked meanwhile stops it (RunFiles)."""
        self.stop_if_asked(CANCELLED_EARLY, throttled=True)

    def stop_if_asked(self, message: str, throttled: bool = False) -> None:
        """Between the engine's steps: end the session where it stands on a cancel (or a lost claim)."""
        if self.should_stop() if throttled else self.stop_requested():
            raise ClaimLost if self.claim_lost else Cancelled(message)

    def say(self, message: str) -> None:
        if not self.update(message=message):
            raise ClaimLost
        self.job.refresh_from_db()
        events.job_changed(self.job)


def train_options() -> dict:
    """FINETUNE_TRAIN_OPTIONS, checked again at each job's start (the settings check it when they load)."""
    from dataclasses import fields

    from colorizer.train import TrainConfig

    options = settings.FINETUNE_TRAIN_OPTIONS
    check_train_options(options)
    unknown = sorted(set(options) - {field.name for field in fields(TrainConfig)})
    if unknown:
        raise ValueError(f"FINETUNE_TRAIN_OPTIONS names no colorizer.train.TrainConfig field: {', '.join(unknown)}")
    return options


def loader_workers() -> int:
    """Photo-decoding processes for training. A Celery prefork child is daemonic and may not start
    any, so it decodes in-process (once, when the photos are cached in memory)."""
    return 0 if multiprocessing.current_process().daemon else settings.FINETUNE_LOADER_WORKERS
