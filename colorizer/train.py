"""Train the paper's conditional GAN: an optional L1-only stage for the generator, then
alternating discriminator and generator steps on GAN + lambda * L1 (pix2pix).

    result = train(TrainConfig(train_dir="photos/train", out_dir="runs/unet", gan_epochs=20))
    Colorizer.load(result.generator_path)

Everything lands in out_dir:
    checkpoints/            networks, EMA, optimizer and RNG states (safetensors + JSON), state.json
    log.jsonl               one JSON object per logged step and per epoch
    curves.png              D real/fake, G GAN and G L1 against the step (the paper's figures 6-8)
    samples/epoch_NNN.png   grayscale / generated / ground truth rows (the paper's figure 9)
    generator.safetensors   the final generator (fp16): what Colorizer.load reads
A run restarted with the same out_dir continues from its last checkpoint (resume=True).

Where things live: the update rule (backward_D, backward_G) in colorizer.pix2pix; a run's
start (folder, photos, networks) in colorizer.train_setup; checkpoint files in colorizer.checkpoint;
validation, samples, the log and curves in colorizer.monitor; the config, the run's state and
its stages in colorizer.train_config. Here: the Trainer whose epoch loop calls them.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from colorizer.checkpoint import load_checkpoint, recover_checkpoint, save_checkpoint, save_generator
from colorizer.color import rgb_to_model_pair
from colorizer.data import augment, epoch_order
from colorizer.hints import sample_hints
from colorizer.inference import pick_device
from colorizer.monitor import Pace, mean_losses, plot_curves, sample_grid, trim_log, validate, write_log
from colorizer.train_config import Stage, TrainConfig, TrainResult, TrainState, stages
from colorizer.train_setup import build_networks, load_data, resolve_generator, start_run_folder, use_fast_cuda_kernels


# --------------------------------------------------------------------------------------
# Training.


def train(config: TrainConfig, on_progress: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train (or continue training) a colorizer; see the module docstring for what it writes.

    on_progress(event) receives JSON-ready dicts:
      "step" (every log_every steps and at each epoch's last step) and "epoch" (after each
      epoch's checkpoint): kind, stage ("l1" | "gan"), epoch and epochs (1-based, within the
      stage), step and steps_per_epoch, global_step and total_steps, losses {D_real, D_fake,
      G_GAN, G_L1: running means over the epoch; None for D_* and G_GAN in stage "l1";
      G_L1 includes lambda_l1}, eta_seconds, images_per_second; "epoch" adds val {l1, psnr,
      ab_error}, sample_grid (PNG path) and checkpoint (folder).
      "done" / "cancelled" (last): global_step, total_steps, generator_path, val,
      sample_grid, curves, checkpoint, data (what the photo scans kept and skipped).
    should_stop() is polled after every step; when it returns True the run saves a
    checkpoint (resumable mid-epoch), writes the generator so far and returns with
    cancelled=True.
    """
    return Trainer(config, on_progress, should_stop).run()


class Trainer:
    """One train() call: the setup, then `run`, whose loop reads as the paper's training."""

    def __init__(self, config: TrainConfig, on_progress: Callable[[dict], None] | None = None,
                 should_stop: Callable[[], bool] | None = None):
        self.out_dir = Path(config.out_dir)
        self.checkpoint_dir = self.out_dir / "checkpoints"
        self.device = pick_device(config.device)
        if self.device.type == "cuda":
            use_fast_cuda_kernels()
        resuming = config.resume and recover_checkpoint(self.checkpoint_dir)
        start_run_folder(self.out_dir, self.checkpoint_dir, resuming)
        self.notify = on_progress or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.config, init_weights = resolve_generator(config, self.checkpoint_dir if resuming else None)
        self.data = load_data(self.config, self.device)
        self.stages = stages(self.config)
        self.total_epochs = sum(stage.epochs for stage in self.stages)
        self.total_steps = self.total_epochs * self.data.steps_per_epoch
        if self.config.max_steps is not None:
            self.total_steps = min(self.total_steps, self.config.max_steps)
        self.model, self.ema = build_networks(self.config, init_weights, self.device)
        self.augment_rng = torch.Generator().manual_seed(self.config.seed)  # crops and rotations
        self.state = TrainState()
        if resuming:
            self.resume()
        self.last_grid = self.state.history[-1]["sample_grid"] if self.state.history else None  # latest PNG
        self.curves_path: str | None = None  # curves.png, once drawn this session

    # ---- the loop

    def run(self) -> TrainResult:
        """Epoch after epoch: train it, then validate, draw, checkpoint and report it."""
        self.open_reporting()
        ended = "done"
        try:
            for epoch in range(self.state.epoch, self.total_epochs):
                if self.state.global_step >= self.total_steps:
                    break
                ended = self.train_epoch(epoch)
                if ended != "done":
                    break
                self.end_epoch(epoch)
        finally:
            self.bar.close()
            self.log.close()
        return self.finish(ended)

    def train_epoch(self, epoch: int) -> str:
        """One epoch of the paper's step on every batch: a D step (backward_D), then a G step
        (backward_G). Returns "done" at the epoch's end, "cancelled" when should_stop() said so,
        "stopped" when max_steps (or the photo stream) ended it early."""
        stage = self.stage_at(epoch)
        loss_sums = torch.tensor(self.state.epoch_sums, device=self.device)  # (4,) LOSS_NAMES order
        self.pace.start_epoch()
        ended = "done"
        order = epoch_order(len(self.data.photos), self.config.seed, epoch)  # the same per epoch on a resume
        for images in self.data.photos.batches(order, self.data.batch_size, skip=self.state.step_in_epoch):
            rgb = augment(images, self.data.augmentation, self.augment_rng)  # (B, 3, S, S) in [0, 1]
            L, real_ab = rgb_to_model_pair(rgb)  # (B, 1, S, S), (B, 2, S, S)
            hints = sample_hints(real_ab, self.augment_rng) if self.config.generator.hints else None  # (B, 3, S, S)
            loss_sums += self.model.optimize(L, real_ab, adversarial=stage.adversarial, hints=hints)
            self.state.count_step()
            if self.ema is not None:
                self.ema.update(self.model.G, self.state.global_step)
            self.pace.step()
            self.bar.update(1)
            if self.state.global_step % self.config.log_every == 0 or self.at_epoch_end():
                self.report_step(epoch, stage, loss_sums)
            if self.should_stop():
                ended = "cancelled"
                break
            if self.state.global_step >= self.total_steps and not self.at_epoch_end():
                ended = "stopped"  # max_steps, mid-epoch
                break
        self.state.epoch_sums = loss_sums.tolist()
        if ended == "done" and not self.at_epoch_end():
            ended = "stopped"  # the photos ran out before the epoch's last step
        return ended

    def end_epoch(self, epoch: int) -> None:
        """Score and draw the exported generator, record the epoch, checkpoint when due, report."""
        stage = self.stage_at(epoch)
        val, self.last_grid = self.look(f"epoch_{epoch + 1:03d}.png")
        loss_sums = torch.tensor(self.state.epoch_sums, device=self.device)  # (4,)
        record = {"epoch": epoch + 1, "stage": stage.name, "stage_epoch": stage.epoch_in_stage(epoch),
                  "global_step": self.state.global_step,
                  "losses": mean_losses(loss_sums, self.data.steps_per_epoch, stage.adversarial),
                  "val": val, "seconds": self.pace.epoch_seconds(), "sample_grid": self.last_grid}
        self.state.finish_epoch(epoch, record)
        checkpointed = ((epoch + 1) % self.config.checkpoint_every == 0 or epoch + 1 == self.total_epochs
                        or self.state.global_step >= self.total_steps)  # max_steps ended the run on an epoch boundary
        if checkpointed:  # a big U-Net's checkpoint takes seconds: a short GPU run may want fewer
            self.save_checkpoint()
        self.curves_path = self.draw_curves()
        write_log(self.log, {"kind": "epoch", **record})
        images_per_second = self.data.steps_per_epoch * self.data.batch_size / max(record["seconds"], 1e-9)
        event = self.progress_event("epoch", epoch, stage, record["losses"], self.pace.eta(self.steps_left()),
                                    images_per_second)
        self.notify({**event, "val": val, "sample_grid": self.last_grid,
                     **({"checkpoint": str(self.checkpoint_dir)} if checkpointed else {})})

    def finish(self, ended: str) -> TrainResult:
        """A checkpoint of where a cut-short run stands, the final generator, the last event."""
        if ended != "done":
            self.save_checkpoint()
        val = self.state.history[-1]["val"] if self.state.history else {}
        if ended == "stopped":  # max_steps ended the run mid-epoch: score what we have
            val, self.last_grid = self.look("final.png")
        if self.curves_path is None and (self.out_dir / "log.jsonl").is_file():
            self.curves_path = self.draw_curves()
        generator_path = self.export_generator(val)
        result = TrainResult(generator_path=str(generator_path), history=self.state.history, val_metrics=val,
                             sample_grid=self.last_grid, curves=self.curves_path,
                             checkpoint_dir=str(self.checkpoint_dir), cancelled=ended == "cancelled",
                             global_step=self.state.global_step, data=self.data.summary)
        self.notify({"kind": "cancelled" if result.cancelled else "done", "global_step": self.state.global_step,
                     "total_steps": self.total_steps, "generator_path": result.generator_path, "val": val,
                     "sample_grid": self.last_grid, "curves": self.curves_path, "checkpoint": str(self.checkpoint_dir),
                     "data": self.data.summary})
        return result

    # ---- small pieces of the loop

    def stage_at(self, epoch: int) -> Stage:
        return next(s for s in self.stages if s.first_epoch <= epoch < s.first_epoch + s.epochs)

    def at_epoch_end(self) -> bool:
        return self.state.step_in_epoch == self.data.steps_per_epoch

    def steps_left(self) -> int:
        return self.total_steps - self.state.global_step

    def exported_generator(self) -> torch.nn.Module:
        """What validation, samples and the final file use: the EMA when the run keeps one."""
        return self.ema.model if self.ema is not None else self.model.G

    def look(self, sample_name: str) -> tuple[dict, str]:
        """(validation scores, sample grid PNG) of the exported generator."""
        net = self.exported_generator()
        val = validate(net, self.data.val_batch, self.device)
        grid = sample_grid(net, self.data.val_batch[:self.config.sample_count], self.device,
                           self.out_dir / "samples" / sample_name)
        return val, str(grid)

    # ---- reporting

    def open_reporting(self) -> None:
        """log.jsonl (appended to: a resumed run continues it), the progress bar, the pace."""
        self.log = open(self.out_dir / "log.jsonl", "a")
        write_log(self.log, {"kind": "data", "global_step": self.state.global_step, **self.data.summary})
        if self.config.progress_bar:
            for name, scan in self.data.summary.items():
                tqdm.write(f"{name}: {scan['summary']} in {scan['root']}")
        self.bar = tqdm(total=self.total_steps, initial=min(self.state.global_step, self.total_steps),
                        disable=not self.config.progress_bar, unit="step", dynamic_ncols=True)
        self.pace = Pace(self.data.batch_size)

    def report_step(self, epoch: int, stage: Stage, loss_sums: torch.Tensor) -> None:
        """A "step" event: to log.jsonl, the progress bar and on_progress."""
        losses = mean_losses(loss_sums, self.state.step_in_epoch, stage.adversarial)
        now = time.perf_counter()
        event = self.progress_event("step", epoch, stage, losses, self.pace.eta(self.steps_left(), now),
                                    self.pace.window_images_per_second(now))
        write_log(self.log, event)
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if v is not None}, refresh=False)
        self.notify(event)
        self.pace.restart_window()

    def progress_event(self, kind: str, epoch: int, stage: Stage, losses: dict, eta: float,
                       images_per_second: float) -> dict:
        """The dict on_progress receives for "step" and "epoch" (which adds val, sample_grid, checkpoint)."""
        return {"kind": kind, "stage": stage.name, "epoch": stage.epoch_in_stage(epoch), "epochs": stage.epochs,
                "step": self.state.step_in_epoch if kind == "step" else self.data.steps_per_epoch,
                "steps_per_epoch": self.data.steps_per_epoch, "global_step": self.state.global_step,
                "total_steps": self.total_steps, "losses": losses, "eta_seconds": round(max(eta, 0.0), 1),
                "images_per_second": round(images_per_second, 1)}

    def draw_curves(self) -> str:
        gan_start = next(s.first_epoch for s in self.stages if s.adversarial) * self.data.steps_per_epoch
        return str(plot_curves(self.out_dir / "log.jsonl", self.out_dir / "curves.png", gan_start))

    # ---- files

    def save_checkpoint(self) -> None:
        rng = {"cpu": torch.get_rng_state(), "augment": self.augment_rng.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        save_checkpoint(self.checkpoint_dir, generator=self.model.G, generator_config=self.config.generator.to_dict(),
                        ema_generator=self.ema.model if self.ema is not None else None, discriminator=self.model.D,
                        discriminator_config=self.config.discriminator.to_dict(), optimizers=self.optimizers(),
                        rng=rng, state={**self.state.to_dict(), "config": self.config.to_dict()})

    def resume(self) -> None:
        """Networks, optimisers, RNG streams and the loop's state from the checkpoint (G's weights
        came with resolve_generator); log lines written after it are dropped."""
        state, rng = load_checkpoint(self.checkpoint_dir, generator=self.model.G,
                                     ema_generator=self.ema.model if self.ema is not None else None,
                                     discriminator=self.model.D, optimizers=self.optimizers(), device=self.device)
        torch.set_rng_state(rng["cpu"])
        self.augment_rng.set_state(rng["augment"])
        if self.device.type == "cuda" and "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        self.state = TrainState.from_dict(state)
        trim_log(self.out_dir / "log.jsonl", self.state.global_step)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.model.opt_G, "D": self.model.opt_D}  # checkpoint files optimizer_G, optimizer_D

    def export_generator(self, val: dict) -> Path:
        """generator.safetensors: the exported generator (fp16) and what made it."""
        path = self.out_dir / "generator.safetensors"
        generator_config = self.config.generator
        save_generator(path, self.exported_generator().state_dict(), generator_config.to_dict(), extra={
            "trained_by": "colorizer.train", "arch": generator_config.arch, "train_dir": str(self.config.train_dir),
            "init_generator": self.config.init_generator, "hints": generator_config.hints,
            "images": len(self.data.photos),
            "image_size": self.config.image_size, "epochs": len(self.state.history),
            "global_step": self.state.global_step, "ema": self.ema is not None, "val": val,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        return path
