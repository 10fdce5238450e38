"""Datasets and fine-tuning jobs: the service functions the Celery tasks and admin views call."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
import shutil
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webapp.core import jobs
from webapp.finetune import eta, events
from webapp.finetune.archive import ArchiveRejected
from webapp.finetune.ingest import (MAX_SKIP_EXAMPLES, DatasetRejected, allowed_folder, ingest_archive,
                                    ingest_folder, photo_in_folder, read_manifest, write_manifest)
from webapp.finetune.models import Dataset, FineTuneJob, FineTuneState
from webapp.finetune.options import check_train_options
from webapp.registry import services as registry

log = logging.getLogger(__name__)

PROGRESS_SAVE_INTERVAL_S = 2.0  # a running job writes its progress to the database at most this often
HOLD_POLL_S = 0.05  # how often a held worker looks whether it may go on (FINETUNE_HOLD_FILE)
CANCEL_POLL_INTERVAL_S = 1.0  # and looks for a cancel request at most this often
LOSS_POINTS_KEPT = 2000  # loss-chart points kept per job; older ones are thinned evenly


# --------------------------------------------------------------------------------------
# Datasets


def create_dataset(*, name: str, created_by, archive=None, folder: str = "") -> Dataset:
    dataset = Dataset(name=name, created_by=created_by, folder=folder,
                      source=Dataset.Source.ARCHIVE if archive else Dataset.Source.FOLDER)
    if archive is not None:
        dataset.archive.save(f"{dataset.pk}.zip", archive, save=False)
    dataset.save()
    queue_dataset(dataset)
    return dataset


def queue_dataset(dataset: Dataset) -> None:
    from worker.tasks import check_dataset

    transaction.on_commit(lambda: check_dataset.delay(str(dataset.pk)))


def check_dataset(dataset_id: str) -> None:
    """Check a dataset's photos once: claimed with a token and heartbeaten like a Job, so a second
    delivery does nothing and the reaper can hand a check whose worker died to a new attempt."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.PENDING).update(
        status=Dataset.Status.PROCESSING, claim_token=token, attempts=F("attempts") + 1, started_at=now,
        heartbeat_at=now, message="")
    if not claimed:
        return
    dataset = Dataset.objects.get(pk=dataset_id)

    def owned():
        return Dataset.objects.filter(pk=dataset.pk, status=Dataset.Status.PROCESSING, claim_token=token)

    _delete_storage_tree(dataset.storage_prefix)  # whatever an attempt whose worker died had stored
    try:
        with jobs.Heartbeat(dataset, interval=settings.JOB_HEARTBEAT_INTERVAL, owned=owned):
            report = ingest_archive(dataset) if dataset.source == Dataset.Source.ARCHIVE else ingest_folder(dataset)
        if not report.kept:
            raise DatasetRejected("no usable colour photos were found" + _reasons(report.skipped_by_reason))
        with transaction.atomic():
            # Locked, so the reaper cannot hand the check to another attempt between this test and the write.
            if not owned().select_for_update().exists():
                log.info("dataset %s was handed to another attempt while this one checked it", dataset.pk)
                return
            write_manifest(dataset, report)
            owned().update(
                status=Dataset.Status.READY,
                message=f"{len(report.kept):,} photos ready; {len(report.skipped):,} skipped.",
                image_count=len(report.kept), skipped_count=len(report.skipped),
                skipped_by_reason=report.skipped_by_reason, skipped_examples=report.skipped[:MAX_SKIP_EXAMPLES],
                thumbnails=report.thumbnails, archive="", claim_token="", processed_at=timezone.now(),
            )
    except Exception as exc:
        refused = isinstance(exc, (ArchiveRejected, DatasetRejected))
        if not refused:
            log.exception("checking dataset %s failed", dataset.pk)
        message = str(exc) if refused else f"Checking failed: {exc}"
        if owned().update(status=Dataset.Status.FAILED, message=message[:2000], archive="", claim_token="",
                          processed_at=timezone.now()):
            _discard_files(dataset)
        return
    if dataset.archive:
        dataset.archive.delete(save=False)  # the accepted photos are stored; the upload is spent


def _discard_files(dataset: Dataset) -> None:
    """A rejected dataset keeps nothing: no half-stored photos, and not its upload (up to gigabytes)."""
    _delete_storage_tree(dataset.storage_prefix)
    if dataset.archive:
        dataset.archive.delete(save=False)


def requeue_stalled_datasets() -> jobs.ReaperReport:
    """Checks whose worker died (no heartbeat) go back to pending with a new message, or end failed
    after JOB_MAX_ATTEMPTS; pending checks whose message Redis lost get it sent again."""
    from worker.tasks import check_dataset as task

    now = timezone.now()
    report = jobs.ReaperReport()
    stale = now - timedelta(seconds=settings.FINETUNE_STALLED_AFTER)
    for dataset in Dataset.objects.filter(status=Dataset.Status.PROCESSING, heartbeat_at__lt=stale):
        owned = Dataset.objects.filter(pk=dataset.pk, status=Dataset.Status.PROCESSING,
                                       claim_token=dataset.claim_token)
        if dataset.attempts >= settings.JOB_MAX_ATTEMPTS:
            if owned.update(status=Dataset.Status.FAILED, claim_token="", archive="", processed_at=now,
                            message=f"The training worker stopped while checking these photos, {dataset.attempts} "
                                    "times. A photo may be too large for its memory: try a smaller set."):
                _discard_files(dataset)
                report.failed.append(dataset.pk)
        elif owned.update(status=Dataset.Status.PENDING, claim_token="", enqueued_at=now,
                          message="Waiting for the training worker again: it stopped while checking these photos."):
            report.requeued.append(dataset.pk)
            task.delay(str(dataset.pk))
    lost = now - timedelta(seconds=settings.JOB_RESEND_QUEUED_AFTER)
    for dataset in Dataset.objects.filter(status=Dataset.Status.PENDING, enqueued_at__lt=lost):
        # Conditional on enqueued_at, so two reapers running at once send one message, not two. A check
        # that waits behind a long training run gets a copy every JOB_RESEND_QUEUED_AFTER: only one can claim.
        if Dataset.objects.filter(pk=dataset.pk, status=Dataset.Status.PENDING,
                                  enqueued_at=dataset.enqueued_at).update(enqueued_at=now):
            report.resent.append(dataset.pk)
            task.delay(str(dataset.pk))
    return report


class DatasetInUse(ValueError):
    """A job is queued or training on the dataset; the message says which, for a person."""


def _reasons(by_reason: dict[str, int]) -> str:
    if not by_reason:
        return ""
    return " (skipped: " + ", ".join(f"{count} {reason}" for reason, count in by_reason.items()) + ")"


def dataset_in_use(dataset: Dataset) -> bool:
    """Whether a job is queued or training on the dataset (it cannot be deleted then)."""
    return dataset.jobs.exclude(state__in=[FineTuneState.DONE, *FineTuneJob.RESUMABLE]).exists()


def delete_dataset(dataset: Dataset) -> None:
    """Remove a dataset and the photos it stored (never a server folder's own files)."""
    if dataset_in_use(dataset):
        raise DatasetInUse(f"{dataset}: a fine-tuning job is still queued or training on it; cancel it first")
    archive_name = dataset.archive.name
    prefix = dataset.storage_prefix
    dataset.jobs.all().delete()
    dataset.delete()
    transaction.on_commit(lambda: (_delete_storage_tree(prefix), archive_name and default_storage.delete(archive_name)))


def _delete_storage_tree(prefix: str) -> None:
    try:
        directories, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
    for name in directories:
        _delete_storage_tree(f"{prefix}/{name}")


# --------------------------------------------------------------------------------------
# Fine-tuning jobs: queueing, cancel, resume, the reaper


def start_job(job: FineTuneJob) -> None:
    """Send the job's task once the transaction that created (or requeued) it commits."""
    from worker.tasks import run_finetune

    FineTuneJob.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())
    transaction.on_commit(lambda: run_finetune.delay(str(job.pk)))
    events.job_changed(job)


def request_cancel(job: FineTuneJob) -> None:
    """A queued job stops at once; a running one saves a checkpoint within a few steps and stops."""
    now = timezone.now()
    FineTuneJob.objects.filter(pk=job.pk, state=FineTuneState.QUEUED).update(
        state=FineTuneState.CANCELLED, cancel_requested=True, message="Cancelled before it started.",
        finished_at=now)
    FineTuneJob.objects.filter(pk=job.pk, state=FineTuneState.RUNNING).update(
        cancel_requested=True, message="Stopping at the next step…")
    job.refresh_from_db()
    events.job_changed(job)


def resume_job(job: FineTuneJob) -> bool:
    """Queue an interrupted, failed or cancelled job again; it continues from its last checkpoint.
    False when it is not resumable, or resuming could not succeed (job.resume_blocker says why)."""
    if job.resume_blocker:
        return False
    updated = FineTuneJob.objects.filter(pk=job.pk, state__in=FineTuneJob.RESUMABLE).update(
        state=FineTuneState.QUEUED, cancel_requested=False, claim_token="", finished_at=None,
        message="Queued to continue from its last checkpoint." if job.checkpoint_prefix else "Queued again.")
    job.refresh_from_db()
    if updated:
        start_job(job)
    return bool(updated)


def mark_interrupted_jobs() -> list:
    """Running jobs whose heartbeat stopped (their worker died) are shown as interrupted, never left running;
    queued jobs whose message Redis lost get it sent again."""
    now = timezone.now()
    interrupted = []
    stale = now - timedelta(seconds=settings.FINETUNE_STALLED_AFTER)
    for job in FineTuneJob.objects.filter(state=FineTuneState.RUNNING, heartbeat_at__lt=stale):
        if FineTuneJob.objects.filter(pk=job.pk, state=FineTuneState.RUNNING, claim_token=job.claim_token).update(
                state=FineTuneState.INTERRUPTED, claim_token="", finished_at=now,
                message="The training worker stopped. Resume continues from the last checkpoint."):
            job.refresh_from_db()
            interrupted.append(job.pk)
            events.job_changed(job)
    lost = now - timedelta(seconds=settings.JOB_RESEND_QUEUED_AFTER)
    for job in FineTuneJob.objects.filter(state=FineTuneState.QUEUED, enqueued_at__lt=lost):
        if FineTuneJob.objects.filter(pk=job.pk, state=FineTuneState.QUEUED, enqueued_at=job.enqueued_at).update(
                enqueued_at=now):
            from worker.tasks import run_finetune

            run_finetune.delay(str(job.pk))
    return interrupted


def requeue_stalled() -> dict:
    """The training side's periodic chores (Celery beat, maintenance queue): interrupted jobs, stalled checks."""
    interrupted = mark_interrupted_jobs()
    datasets = requeue_stalled_datasets()
    return {"interrupted": len(interrupted), "datasets_requeued": len(datasets.requeued),
            "datasets_resent": len(datasets.resent), "datasets_failed": len(datasets.failed)}


def activate(version) -> None:
    """Make `version` the one inference workers use (they switch before their next job)."""
    registry.activate_version(version)
    events.versions_changed()


# --------------------------------------------------------------------------------------
# Running a job


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


class ClaimLost(Exception):
    """The job is no longer this worker's (the reaper marked it interrupted; it may run elsewhere now)."""


def hold_requested() -> bool:
    """Whether training should hold after each saved progress (FINETUNE_HOLD_FILE exists)."""
    return bool(settings.FINETUNE_HOLD_FILE) and Path(settings.FINETUNE_HOLD_FILE).exists()


def _owned(job: FineTuneJob):
    """The job's row while this worker holds its claim: every write of a running job goes through it."""
    return FineTuneJob.objects.filter(pk=job.pk, state=FineTuneState.RUNNING, claim_token=job.claim_token)


def _end(job: FineTuneJob, state: str, message: str, **fields) -> bool:
    """Record how a claimed job ended; False when its claim was lost meanwhile (marked interrupted)."""
    ended = _owned(job).update(state=state, message=message[:500], finished_at=timezone.now(), claim_token="",
                               **fields)
    if ended:
        job.refresh_from_db()
        events.job_changed(job)
    return bool(ended)


class JobRunner:
    """One training session of a job: local folders, progress persistence, the resulting version."""

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
        if _owned(self.job).update(**fields):
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
                    row = _owned(job).select_for_update().values("cancel_requested").first()
                    if row is None:
                        raise ClaimLost
                    if row["cancel_requested"]:
                        raise Cancelled(CANCELLED_SCORING)
                    version = registry.register_version(
                        File(weights, name="generator.safetensors"), name=f"Fine-tuned on {job.dataset.name}",
                        base_version=job.base_version, metrics=candidate, history=result.history,
                        sample_grid=File(grid, name="samples.png"), notes=self.recipe(), dataset=job.dataset,
                        comparison=comparison)
                    if not _owned(job).update(
                            state=FineTuneState.DONE, claim_token="", finished_at=timezone.now(),
                            message=f"Finished: v{version.number} is ready to compare and activate.",
                            result_version=version, comparison=comparison, checkpoint_prefix=""):
                        raise ClaimLost
        except BaseException:
            if version is not None:  # rolled back: its files are nobody's
                version.weights.delete(save=False)
                version.sample_grid.delete(save=False)
            raise
        job.refresh_from_db()
        events.job_changed(job)
        events.versions_changed()
        _delete_checkpoints(job)
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

    # -- photos, weights, checkpoints: local copies of what lives in storage ----------

    def prepare_photos(self) -> tuple[Path, Path]:
        """Local train/ and val/ folders: links to a server folder's files, or copies of stored photos."""
        manifest = read_manifest(self.job.dataset)
        if manifest["source"] == Dataset.Source.FOLDER:
            # Checked again now: the allowed roots may have changed, or a folder on the way become a link.
            root = allowed_folder(manifest["folder"])
        photos = sorted(manifest["photos"])
        random.Random(str(self.job.pk)).shuffle(photos)  # the same split on every resume
        val_count = min(len(photos) - 1, max(1, round(len(photos) * self.job.val_split)))
        splits = {"val": photos[:val_count], "train": photos[val_count:]}
        folders = {}
        for split, names in splits.items():
            folder = folders[split] = self.run_dir / "photos" / split
            if folder.is_dir() and len(os.listdir(folder)) == len(names):
                continue  # prepared by an earlier session of this job
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for index, name in enumerate(names):
                self.stop_if_asked(CANCELLED_EARLY, throttled=True)
                target = folder / f"{index:06d}{Path(name).suffix.lower()}"
                if manifest["source"] == Dataset.Source.FOLDER:
                    target.symlink_to(photo_in_folder(root, name))
                else:
                    with default_storage.open(name, "rb") as source:
                        _copy_atomically(source, target)
        return folders["train"], folders["val"]

    def fetch_base_weights(self) -> Path:
        version = self.job.base_version
        if version is None:
            raise ValueError("its base model version was deleted")
        target = self.run_dir / f"base-v{version.number}.safetensors"
        if not target.exists():
            with version.weights.open("rb") as source:
                _copy_atomically(source, target)
        return target

    def fetch_checkpoint(self) -> None:
        """Bring the last checkpoint back from storage: the job may resume on another machine."""
        prefix = self.job.checkpoint_prefix
        local = self.run_dir / "run" / "checkpoints"
        if not prefix or local.is_dir():
            return
        incoming = local.with_name("checkpoints.incoming")
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        _, files = default_storage.listdir(prefix)
        for name in files:
            with default_storage.open(f"{prefix}/{name}", "rb") as source, open(incoming / name, "wb") as out:
                shutil.copyfileobj(source, out)
        incoming.rename(local)  # complete or absent, never half there

    def rewind_history(self) -> None:
        """The engine continues from its checkpoint's step (from scratch without one) and trims its own log
        to it: drop the chart points and epochs recorded after that step, so the resumed run's steps follow
        on instead of mixing with them, and have open pages redraw."""
        step = _checkpoint_step(self.run_dir / "run" / "checkpoints")
        job = self.job
        losses = [point for point in job.loss_history if point["step"] <= step]
        epochs = [epoch for epoch in job.epoch_history if epoch["global_step"] <= step]
        self.pushed_step = step
        if (len(losses), len(epochs)) == (len(job.loss_history), len(job.epoch_history)):
            return
        if not self.update(loss_history=losses, epoch_history=epochs):
            raise ClaimLost
        job.loss_history, job.epoch_history = losses, epochs
        events.job_snapshot(job)

    def store_checkpoint(self, checkpoint_dir: str) -> None:
        """Copy the checkpoint to storage, then point the job at it (the old one is removed after)."""
        stamp = int(time.time() * 1000)
        prefix = f"finetune/{self.job.pk}/checkpoint-{stamp}"
        for path in sorted(Path(checkpoint_dir).iterdir()):
            if path.is_file():
                with open(path, "rb") as handle:
                    default_storage.save(f"{prefix}/{path.name}", File(handle))
        previous = self.job.checkpoint_prefix
        if not self.update(checkpoint_prefix=prefix):
            _delete_storage_tree(prefix)  # the job is another worker's now: its checkpoints are not ours to touch
            return
        self.job.checkpoint_prefix = prefix
        if previous:
            _delete_storage_tree(previous)

    # -- progress --------------------------------------------------------------------

    def on_progress(self, event: dict) -> None:
        if self.claim_lost:
            return  # stopping: nothing of this run is the job's any more
        kind = event["kind"]
        if kind not in ("step", "epoch", "done", "cancelled"):
            return
        replaced_grid = ""
        holding = hold_requested()
        now = self.clock()
        if kind == "step" and self.epoch_started is None:
            # The session's first report: the epoch began as long ago as its earlier steps took at this speed.
            speed = event.get("images_per_second") or 0
            self.epoch_started = now - (event["step"] * self.job.batch_size / speed if speed else 0.0)
        epoch_seconds = None
        if kind == "epoch":
            epoch_seconds = round(now - self.epoch_started, 3) if self.epoch_started is not None else None
            self.epoch_started = now
        if kind in ("step", "epoch"):
            self.record_losses(event)
            if kind == "step" and not holding and time.monotonic() - self.last_save < PROGRESS_SAVE_INTERVAL_S:
                return
            self.job.progress = _progress_summary(event)
        else:
            # Where it really stopped: a cancel may come seconds after the last saved report, in the next stage.
            progress = self.job.progress
            self.job.progress = {**progress, "kind": kind, "global_step": event["global_step"],
                                 "total_steps": event["total_steps"], "eta_seconds": None,
                                 **eta.position(event["global_step"], progress.get("steps_per_epoch", 0),
                                                self.job.l1_epochs)}
        if kind == "epoch":
            self.job.epoch_history = [*self.job.epoch_history, {**_epoch_summary(event), "seconds": epoch_seconds}]
            if event.get("sample_grid"):
                replaced_grid = self.store_sample_grid(event)
        if kind in ("step", "epoch"):
            # The engine's estimate counts training steps only; whole epochs (validation, samples,
            # checkpoints) timed here say how long the rest really takes.
            elapsed = now - self.epoch_started if self.epoch_started is not None else None
            self.job.progress["eta_seconds"] = eta.seconds_left(
                self.job.progress, self.job.epoch_history, l1_epochs=self.job.l1_epochs,
                gan_epochs=self.job.gan_epochs, elapsed_in_epoch=elapsed)
        if event.get("checkpoint") and kind != "done":
            # After "done" the last epoch's checkpoint is stored already, and deleted once the version is
            # registered: copying it again would be wasted.
            self.store_checkpoint(event["checkpoint"])
        self.last_save = time.monotonic()
        if not self.update(progress=self.job.progress, loss_history=self.job.loss_history,
                           epoch_history=self.job.epoch_history, sample_grid=self.job.sample_grid.name or ""):
            if replaced_grid:
                default_storage.delete(self.job.sample_grid.name)  # ours alone; the job still shows the old one
            return
        if replaced_grid:
            default_storage.delete(replaced_grid)
        # Message and cancel flag as they are now, not as when the run started: a push must not bring back
        # "Training." and the cancel button after an admin asked it to stop.
        self.job.refresh_from_db(fields=["message", "cancel_requested"])
        fresh = [point for point in self.job.loss_history if point["step"] > self.pushed_step]
        if fresh:
            self.pushed_step = fresh[-1]["step"]
        events.job_progress(self.job, fresh)
        if holding:
            self.hold(event)

    def hold(self, event: dict) -> None:
        """FINETUNE_HOLD_FILE exists: announce this saved progress in `<hold file>.held` and wait until that
        file (go on to the next save) or the hold file (go on) is removed. The heartbeat goes on meanwhile."""
        hold = Path(settings.FINETUNE_HOLD_FILE)
        held = hold.with_name(hold.name + ".held")
        incoming = held.with_name(held.name + ".incoming")
        incoming.write_text(json.dumps({"job": str(self.job.pk), "kind": event["kind"], "step": event["global_step"],
                                        "checkpoint_prefix": self.job.checkpoint_prefix}))
        incoming.replace(held)  # whole or absent
        log.info("fine-tuning %s holds at step %s until %s is removed", self.job.pk, event["global_step"], held)
        while held.exists() and hold.exists():
            time.sleep(HOLD_POLL_S)

    def record_losses(self, event: dict) -> None:
        point = {"step": event["global_step"], "stage": event["stage"], **event["losses"]}
        history = self.job.loss_history
        if history and history[-1]["step"] == point["step"]:
            history[-1] = point
        else:
            history.append(point)
        if len(history) > LOSS_POINTS_KEPT:
            self.job.loss_history = history[::2]

    def store_sample_grid(self, event: dict) -> str:
        """Store the epoch's grid; returns the one it replaces, deleted once the job points at the new one."""
        previous = self.job.sample_grid.name
        with open(event["sample_grid"], "rb") as handle:
            name = f"{self.job.pk}-{event['stage']}-{event['epoch']:03d}.png"
            self.job.sample_grid.save(name, File(handle), save=False)
        return previous if previous and previous != self.job.sample_grid.name else ""

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


def _delete_checkpoints(job: FineTuneJob) -> None:
    """A finished job's stored checkpoints (both networks and their optimisers: large) are not needed again."""
    prefix = f"finetune/{job.pk}"
    try:
        directories, _ = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in directories:
        if name.startswith("checkpoint-"):
            _delete_storage_tree(f"{prefix}/{name}")


def _checkpoint_step(directory: Path) -> int:
    """The global step the engine resumes from: its checkpoint's, 0 without one."""
    from colorizer.checkpoint import recover_checkpoint

    if not recover_checkpoint(directory):  # the engine's own test, swap of a crashed save included
        return 0
    return json.loads((directory / "state.json").read_text())["global_step"]


def loader_workers() -> int:
    """Photo-decoding processes for training. A Celery prefork child is daemonic and may not start
    any, so it decodes in-process (once, when the photos are cached in memory)."""
    return 0 if multiprocessing.current_process().daemon else settings.FINETUNE_LOADER_WORKERS


def _copy_atomically(source, target: Path) -> None:
    """Copy a stored file to local disk so that a crash never leaves a truncated file under its name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as out:
        shutil.copyfileobj(source, out)
    os.replace(partial, target)


def _progress_summary(event: dict) -> dict:
    keys = ("kind", "stage", "epoch", "epochs", "step", "steps_per_epoch", "global_step", "total_steps",
            "losses", "eta_seconds", "images_per_second", "val")
    return json.loads(json.dumps({key: event[key] for key in keys if key in event}))


def _epoch_summary(event: dict) -> dict:
    return {"stage": event["stage"], "epoch": event["epoch"], "epochs": event["epochs"],
            "global_step": event["global_step"], "losses": event["losses"], "val": event.get("val", {})}
