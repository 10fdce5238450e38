"""Datasets and fine-tuning jobs: the service functions the Celery tasks and admin views call."""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from webapp.finetune import events
from webapp.finetune.archive import ArchiveRejected
from webapp.finetune.ingest import (MAX_SKIP_EXAMPLES, DatasetRejected, ingest_archive, ingest_folder, read_manifest,
                                    write_manifest)
from webapp.finetune.models import Dataset, FineTuneJob
from webapp.registry import services as registry

log = logging.getLogger(__name__)

PROGRESS_SAVE_INTERVAL_S = 2.0  # how often a running job writes its progress to the database
LOSS_POINTS_KEPT = 2000  # loss chart points kept per job (older points are thinned)


# --------------------------------------------------------------------------------------
# Datasets


def queue_dataset(dataset: Dataset) -> None:
    from worker.tasks import ingest_dataset

    transaction.on_commit(lambda: ingest_dataset.delay(str(dataset.pk)))


def process_dataset(dataset_id: str) -> None:
    """Check a dataset's photos once; a second delivery of the same task does nothing."""
    claimed = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.PENDING).update(
        status=Dataset.Status.PROCESSING
    )
    if not claimed:
        return
    dataset = Dataset.objects.get(pk=dataset_id)
    try:
        report = ingest_archive(dataset) if dataset.source == Dataset.Source.ARCHIVE else ingest_folder(dataset)
        if not report.kept:
            raise DatasetRejected("no usable colour photos were found")
        write_manifest(dataset, report)
    except (ArchiveRejected, DatasetRejected) as exc:
        _discard_dataset_files(dataset)
        Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.FAILED, message=str(exc),
                                                     processed_at=timezone.now())
        return
    except Exception as exc:  # unexpected: record it for the admin rather than leave "processing"
        log.exception("dataset %s failed", dataset.pk)
        _discard_dataset_files(dataset)
        Dataset.objects.filter(pk=dataset.pk).update(status=Dataset.Status.FAILED,
                                                     message=f"Checking failed: {exc}", processed_at=timezone.now())
        return
    if dataset.archive:
        dataset.archive.delete(save=False)  # the accepted photos are stored; the upload is no longer needed
    Dataset.objects.filter(pk=dataset.pk).update(
        status=Dataset.Status.READY,
        message=f"{len(report.kept):,} photos ready; {len(report.skipped):,} skipped.",
        image_count=len(report.kept),
        skipped_count=len(report.skipped),
        skipped_by_reason=report.skipped_by_reason,
        skipped_examples=report.skipped[:MAX_SKIP_EXAMPLES],
        thumbnails=report.thumbnails,
        archive="",
        processed_at=timezone.now(),
    )


def _discard_dataset_files(dataset: Dataset) -> None:
    _delete_storage_tree(dataset.storage_prefix)


def delete_dataset(dataset: Dataset) -> None:
    _discard_dataset_files(dataset)
    if dataset.archive:
        dataset.archive.delete(save=False)
    dataset.delete()


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
# Fine-tuning jobs


def start_job(job: FineTuneJob) -> None:
    from worker.tasks import run_finetune

    transaction.on_commit(lambda: run_finetune.delay(str(job.pk)))
    events.job_changed(job)


def request_cancel(job: FineTuneJob) -> None:
    """Ask a job to stop; a queued job stops at once, a running one within a few steps."""
    FineTuneJob.objects.filter(pk=job.pk, status=FineTuneJob.Status.QUEUED).update(
        status=FineTuneJob.Status.CANCELLED, cancel_requested=True, message="Cancelled before it started.",
        finished_at=timezone.now())
    FineTuneJob.objects.filter(pk=job.pk, status=FineTuneJob.Status.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    events.job_changed(job)


def resume_job(job: FineTuneJob) -> bool:
    """Queue an interrupted, failed or cancelled job again; it continues from its last checkpoint."""
    resumable = (FineTuneJob.Status.INTERRUPTED, FineTuneJob.Status.FAILED, FineTuneJob.Status.CANCELLED)
    updated = FineTuneJob.objects.filter(pk=job.pk, status__in=resumable).update(
        status=FineTuneJob.Status.QUEUED, cancel_requested=False, message="Queued to resume from its last checkpoint.",
        finished_at=None)
    job.refresh_from_db()
    if updated:
        start_job(job)
    return bool(updated)


def mark_interrupted_jobs(stale_after: timedelta | None = None) -> int:
    """Jobs whose worker stopped sending heartbeats are shown as interrupted, never left running."""
    stale_after = stale_after or timedelta(seconds=settings.FINETUNE_HEARTBEAT_TIMEOUT)
    deadline = timezone.now() - stale_after
    stale = list(FineTuneJob.objects.filter(status=FineTuneJob.Status.RUNNING, heartbeat_at__lt=deadline))
    count = 0
    for job in stale:
        count += FineTuneJob.objects.filter(pk=job.pk, status=FineTuneJob.Status.RUNNING,
                                            heartbeat_at__lt=deadline).update(
            status=FineTuneJob.Status.INTERRUPTED,
            message="The training worker stopped responding. Resume continues from the last checkpoint.",
        )
        job.refresh_from_db()
        events.job_changed(job)
    return count


def run_job(job_id: str) -> None:
    """Train one queued job to a candidate model version. Claimed once; cancel and crashes recorded."""
    claimed = FineTuneJob.objects.filter(pk=job_id, status=FineTuneJob.Status.QUEUED).update(
        status=FineTuneJob.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(),
        worker=socket.gethostname(), message="Preparing the dataset.")
    if not claimed:
        return
    job = FineTuneJob.objects.select_related("dataset", "base_version").get(pk=job_id)
    FineTuneJob.objects.filter(pk=job.pk).update(attempts=job.attempts + 1)
    events.job_changed(job)
    try:
        JobRunner(job).run()
    except Exception as exc:
        log.exception("fine-tune job %s failed", job.pk)
        FineTuneJob.objects.filter(pk=job.pk, status=FineTuneJob.Status.RUNNING).update(
            status=FineTuneJob.Status.FAILED, message=f"Training failed: {exc}", finished_at=timezone.now())
        job.refresh_from_db()
        events.job_changed(job)


class JobRunner:
    """Everything one training run needs: local folders, progress persistence, results."""

    def __init__(self, job: FineTuneJob):
        self.job = job
        self.run_dir = Path(settings.TRAINING_DIR) / str(job.pk)
        self.last_save = 0.0

    def run(self) -> None:
        from colorizer.evaluate import evaluate
        from colorizer.train import TrainConfig, train

        job = self.job
        train_dir, val_dir = self.prepare_data()
        base_weights = self.fetch_base_weights()
        self.fetch_checkpoint()
        config = TrainConfig(
            train_dir=str(train_dir), val_dir=str(val_dir), out_dir=str(self.run_dir / "run"),
            init_generator=str(base_weights) if base_weights else None,
            l1_epochs=job.l1_epochs, gan_epochs=job.gan_epochs, batch_size=job.batch_size, lr=job.learning_rate,
            lambda_l1=job.lambda_l1, image_size=job.image_size, seed=job.created_at.microsecond,
            device=settings.COLORIZER_DEVICE, num_workers=settings.FINETUNE_LOADER_WORKERS, resume=True,
            show_progress=False, **settings.FINETUNE_EXTRA_CONFIG,
        )
        self.update(message="Training.")
        result = train(config, on_progress=self.on_progress, should_stop=self.should_stop)
        if result.cancelled:
            self.finish(FineTuneJob.Status.CANCELLED, "Cancelled. Resume continues from the last checkpoint.")
            return

        self.update(message="Evaluating the candidate on the held-out photos.")
        candidate = evaluate(result.generator_path, str(val_dir), fid=settings.FINETUNE_EVAL_FID,
                             render_size=job.image_size)
        comparison = {"candidate": candidate}
        if job.base_version is not None and base_weights is not None:
            comparison["base"] = evaluate(str(base_weights), str(val_dir), fid=settings.FINETUNE_EVAL_FID,
                                          render_size=job.image_size)
            comparison["base_version"] = job.base_version.number

        with open(result.generator_path, "rb") as weights, open(result.sample_grid, "rb") as grid:
            version = registry.register_version(
                File(weights, name="generator.safetensors"),
                name=f"Fine-tuned on {job.dataset.name}",
                base_version=job.base_version,
                metrics=candidate,
                history=result.history,
                sample_grid=File(grid, name="samples.png"),
                notes=(f"Dataset {job.dataset.name} ({job.dataset.image_count} photos); "
                       f"{job.l1_epochs} L1 + {job.gan_epochs} GAN epochs, batch {job.batch_size}, "
                       f"lr {job.learning_rate:g}, lambda {job.lambda_l1:g}, size {job.image_size}."),
            )
        FineTuneJob.objects.filter(pk=job.pk).update(result_version=version, comparison=comparison)
        self.finish(FineTuneJob.Status.SUCCEEDED, f"Finished: candidate version v{version.number} is ready to activate.")
        shutil.rmtree(self.run_dir, ignore_errors=True)

    # -- data ------------------------------------------------------------------------

    def prepare_data(self) -> tuple[Path, Path]:
        """Local train/ and val/ folders of links (server folders) or copies (stored photos)."""
        dataset = self.job.dataset
        manifest = read_manifest(dataset)
        photos = sorted(manifest["photos"])
        random.Random(str(self.job.pk)).shuffle(photos)  # the same split on every resume
        val_count = max(1, round(len(photos) * self.job.val_split)) if len(photos) > 1 else 0
        splits = {"val": photos[:val_count], "train": photos[val_count:] or photos}
        folders = {}
        for split, names in splits.items():
            folder = self.run_dir / "data" / split
            folders[split] = folder
            if folder.exists() and len(os.listdir(folder)) == len(names):
                continue  # already prepared by an earlier attempt
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for index, name in enumerate(names):
                target = folder / f"{index:06d}{Path(name).suffix.lower()}"
                if manifest["source"] == Dataset.Source.FOLDER:
                    target.symlink_to(Path(manifest["folder"]) / name)
                else:
                    with default_storage.open(name, "rb") as source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
        return folders["train"], folders["val"]

    def fetch_base_weights(self) -> Path | None:
        version = self.job.base_version
        if version is None:
            return None
        target = self.run_dir / "base.safetensors"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with version.weights.open("rb") as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
        return target

    def fetch_checkpoint(self) -> None:
        """Bring the last checkpoint back from storage (the job may resume on another machine)."""
        prefix = self.job.checkpoint_prefix
        local = self.run_dir / "run" / "checkpoints"
        if not prefix or local.exists():
            return
        local.mkdir(parents=True)
        _, files = default_storage.listdir(prefix)
        for name in files:
            with default_storage.open(f"{prefix}/{name}", "rb") as source, open(local / name, "wb") as out:
                shutil.copyfileobj(source, out)

    def store_checkpoint(self, checkpoint_dir: str) -> None:
        prefix = f"finetune/{self.job.pk}/checkpoint"
        _delete_storage_tree(prefix)
        for path in sorted(Path(checkpoint_dir).iterdir()):
            if path.is_file():
                with open(path, "rb") as handle:
                    default_storage.save(f"{prefix}/{path.name}", File(handle))
        FineTuneJob.objects.filter(pk=self.job.pk).update(checkpoint_prefix=prefix)

    # -- progress --------------------------------------------------------------------

    def on_progress(self, event: dict) -> None:
        kind = event["kind"]
        if kind == "step":
            self.record_losses(event)
            if time.monotonic() - self.last_save < PROGRESS_SAVE_INTERVAL_S:
                return
        if kind == "epoch":
            if event.get("checkpoint"):
                self.store_checkpoint(event["checkpoint"])
            self.job.epoch_history = [*self.job.epoch_history, _epoch_summary(event)]
            if event.get("sample_grid"):
                with open(event["sample_grid"], "rb") as handle:
                    if self.job.sample_grid:
                        self.job.sample_grid.delete(save=False)
                    name = f"{self.job.pk}-{event['stage']}-{event['epoch']:03d}.png"
                    self.job.sample_grid.save(name, File(handle), save=False)
        self.job.progress = _progress_summary(event)
        self.last_save = time.monotonic()
        FineTuneJob.objects.filter(pk=self.job.pk).update(
            progress=self.job.progress, loss_history=self.job.loss_history, epoch_history=self.job.epoch_history,
            sample_grid=self.job.sample_grid.name or "", heartbeat_at=timezone.now())
        events.job_progress(self.job, latest_losses=self.job.loss_history[-1:] if kind == "step" else [])

    def record_losses(self, event: dict) -> None:
        point = {"step": event["global_step"], "stage": event["stage"], **event["losses"]}
        history = self.job.loss_history
        history.append(point)
        if len(history) > LOSS_POINTS_KEPT:
            self.job.loss_history = history[::2]  # thin evenly; the chart keeps its shape

    def should_stop(self) -> bool:
        return FineTuneJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists()

    def update(self, **fields) -> None:
        FineTuneJob.objects.filter(pk=self.job.pk).update(heartbeat_at=timezone.now(), **fields)
        self.job.refresh_from_db()
        events.job_changed(self.job)

    def finish(self, status: str, message: str) -> None:
        FineTuneJob.objects.filter(pk=self.job.pk).update(status=status, message=message, finished_at=timezone.now(),
                                                          heartbeat_at=timezone.now())
        self.job.refresh_from_db()
        events.job_changed(self.job)


def _progress_summary(event: dict) -> dict:
    keys = ("kind", "stage", "epoch", "epochs", "step", "steps_per_epoch", "global_step", "total_steps",
            "losses", "eta_seconds", "images_per_second", "val")
    return {key: event[key] for key in keys if key in event}


def _epoch_summary(event: dict) -> dict:
    return {"stage": event.get("stage"), "epoch": event.get("epoch"), "global_step": event.get("global_step"),
            "losses": event.get("losses", {}), "val": event.get("val", {})}


def activate(version) -> None:
    registry.activate_version(version)
    events.versions_changed()
