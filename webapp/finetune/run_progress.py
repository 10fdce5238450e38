"""A training session's progress, as the job's page shows it live: the latest figures, the loss chart,
the epochs and their sample grids, written to the job (while the worker holds its claim) and pushed
to the page (webapp.finetune.events); and the hold that lets a person step through a run."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from webapp.finetune import eta, events
from webapp.finetune.models import FineTuneJob
from webapp.finetune.run_files import checkpoint_step

log = logging.getLogger(__name__)

PROGRESS_SAVE_INTERVAL_S = 2.0  # a running job writes its progress to the database at most this often
HOLD_POLL_S = 0.05  # how often a held worker looks whether it may go on (FINETUNE_HOLD_FILE)
LOSS_POINTS_KEPT = 2000  # loss-chart points kept per job; older ones are thinned evenly


class ClaimLost(Exception):
    """The job is no longer this worker's (the reaper marked it interrupted; it may run elsewhere now)."""


def hold_requested() -> bool:
    """Whether training should hold after each saved progress (FINETUNE_HOLD_FILE exists)."""
    return bool(settings.FINETUNE_HOLD_FILE) and Path(settings.FINETUNE_HOLD_FILE).exists()




class RunProgress:
    """The progress work of a JobRunner (webapp.finetune.runner), which provides `job`, `run_dir`,
    `update(**fields)`, `store_checkpoint()`, `claim_lost`, `clock`, `last_save`, `pushed_step` and
    `epoch_started`."""

    job: FineTuneJob
    run_dir: Path

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


def progress_summary(event: dict) -> dict:
    keys = ("kind", "stage", "epoch", "epochs", "step", "steps_per_epoch", "global_step", "total_steps",
            "losses", "eta_seconds", "images_per_second", "val")
    return json.loads(json.dumps({key: event[key] for key in keys if key in event}))


def epoch_summary(event: dict) -> dict:
    return {"stage": event["stage"], "epoch": event["epoch"], "epochs": event["epochs"],
            "global_step": event["global_step"], "losses": event["losses"], "val": event.get("val", {})}
