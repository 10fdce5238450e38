"""Training one fine-tuning job in a training worker: claimed once, heartbeaten, cancellable, its
progress pushed live, its result registered as a candidate model version.

A run is a Job (webapp.core.jobs); every write goes through the job's claim, so a worker whose
job was marked interrupted (and may run elsewhere now) stops at its next step without writing.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import socket
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from webapp.core import jobs
from webapp.finetune import eta, events
from webapp.finetune.models import FineTuneJob, FineTuneState
from webapp.finetune.options import check_train_options
from webapp.finetune.run_files import RunFiles, checkpoint_step, delete_checkpoints
from webapp.registry import services as registry

log = logging.getLogger(__name__)

PROGRESS_SAVE_INTERVAL_S = 2.0  # a running job writes its progress to the database at most this often
HOLD_POLL_S = 0.05  # how often a held worker looks whether it may go on (FINETUNE_HOLD_FILE)
CANCEL_POLL_INTERVAL_S = 1.0  # and looks for a cancel request at most this often
LOSS_POINTS_KEPT = 2000  # loss-chart points kept per job; older ones are thinned evenly


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


def _end(job: FineTuneJob, state: str, message: str) -> bool:
    """Record how a claimed job ended; False when its claim was lost meanwhile (marked interrupted)."""
    if not jobs.finish(job, state, message):
        return False
    job.refresh_from_db()
    events.job_changed(job)
    return True


class JobRunner(RunFiles):
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

    # -- history and checkpoints --------------------------------------------------------

    def rewind_history(self) -> None:
        """The engine continues from its checkpoint's step (from scratch without one) and trims its own log
        to it: drop the chart points and epochs recorded after that step, so the resumed run's steps follow
        on instead of mixing with them, and have open pages redraw."""
        step = checkpoint_step(self.run_dir / "run" / "checkpoints")
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
            self.job.progress = progress_summary(event)
        else:
            # Where it really stopped: a cancel may come seconds after the last saved report, in the next stage.
            progress = self.job.progress
            self.job.progress = {**progress, "kind": kind, "global_step": event["global_step"],
                                 "total_steps": event["total_steps"], "eta_seconds": None,
                                 **eta.position(event["global_step"], progress.get("steps_per_epoch", 0),
                                                self.job.l1_epochs)}
        if kind == "epoch":
            self.job.epoch_history = [*self.job.epoch_history, {**epoch_summary(event), "seconds": epoch_seconds}]
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


def progress_summary(event: dict) -> dict:
    keys = ("kind", "stage", "epoch", "epochs", "step", "steps_per_epoch", "global_step", "total_steps",
            "losses", "eta_seconds", "images_per_second", "val")
    return json.loads(json.dumps({key: event[key] for key in keys if key in event}))


def epoch_summary(event: dict) -> dict:
    return {"stage": event["stage"], "epoch": event["epoch"], "epochs": event["epochs"],
            "global_step": event["global_step"], "losses": event["losses"], "val": event.get("val", {})}
