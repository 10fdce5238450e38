"""What a training run shows of itself: quick validation scores, sample grids (the paper's
figure 9), log.jsonl and the loss curves drawn from it (the paper's figures 6-8), and its pace.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TextIO

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from colorizer import metrics
from colorizer.color import denormalize_ab, model_pair_to_rgb, rgb_to_model_pair
from colorizer.pix2pix import ADVERSARIAL_LOSS_NAMES, LOSS_NAMES
from colorizer.precision import autocast


def mean_losses(sums: torch.Tensor, count: int, adversarial: bool) -> dict:
    """Running means of the losses (sums (4,) over `count` steps), by name; the GAN losses are None
    in a stage without D, where they were never computed."""
    values = (sums / max(count, 1)).tolist()
    return {name: (None if not adversarial and name in ADVERSARIAL_LOSS_NAMES else round(value, 6))
            for name, value in zip(LOSS_NAMES, values)}


class Pace:
    """Wall-clock bookkeeping for the ETA and images/s of progress events. It counts this session
    only: a resumed run knows nothing of the machine the earlier steps ran on."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size  # photos per step
        self.session_start = time.perf_counter()  # when this train() call began
        self.session_steps = 0  # steps this session
        self.epoch_start = self.window_start = self.session_start  # start of the epoch / of the log window
        self.window_steps = 0  # steps since the last "step" event

    def start_epoch(self) -> None:
        self.epoch_start = time.perf_counter()
        self.window_start, self.window_steps = self.epoch_start, 0

    def step(self) -> None:
        self.session_steps += 1
        self.window_steps += 1

    def eta(self, steps_left: int, now: float | None = None) -> float:
        """Seconds left, at this session's mean pace so far."""
        now = time.perf_counter() if now is None else now
        return steps_left * (now - self.session_start) / max(self.session_steps, 1)

    def window_images_per_second(self, now: float) -> float:
        """Images/s since the window began (the last "step" event, or the epoch's start)."""
        return self.window_steps * self.batch_size / (now - self.window_start)

    def restart_window(self) -> None:
        self.window_start, self.window_steps = time.perf_counter(), 0

    def epoch_seconds(self) -> float:
        return round(time.perf_counter() - self.epoch_start, 3)


def write_log(log: TextIO, record: dict) -> None:
    log.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")
    log.flush()


def trim_log(log_path: Path, global_step: int) -> None:
    """Drop log lines written after the checkpoint a resumed run starts from."""
    if not log_path.is_file():
        return
    kept = [line for line in log_path.read_text().splitlines()
            if line.strip() and json.loads(line).get("global_step", 0) <= global_step]
    log_path.write_text("".join(line + "\n" for line in kept))


@torch.no_grad()
def validate(generator: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 32) -> dict:
    """Quick scores on validation photos (uint8 (V, 3, S, S)), centred, no augmentation:
    l1 (normalised ab, as the training loss without lambda), psnr (dB, sRGB) and ab_error
    (mean Euclidean ab distance in Lab units)."""
    was_training = generator.training
    generator.eval()
    totals = {"l1": 0.0, "psnr": 0.0, "ab_error": 0.0}
    for start in range(0, len(images), batch_size):
        rgb = images[start:start + batch_size].float() / 255
        L, ab = rgb_to_model_pair(rgb)
        with autocast(device):
            fake_ab = generator(L).float()
        totals["l1"] += F.l1_loss(fake_ab, ab, reduction="none").flatten(1).mean(1).sum().item()
        totals["psnr"] += metrics.psnr(model_pair_to_rgb(L, fake_ab), rgb).sum().item()
        totals["ab_error"] += (denormalize_ab(fake_ab - ab)).pow(2).sum(1).sqrt().flatten(1).mean(1).sum().item()
    generator.train(was_training)
    return {name: round(value / max(len(images), 1), 4) for name, value in totals.items()}


@torch.no_grad()
def sample_grid(generator: nn.Module, images: torch.Tensor, device: torch.device, path: Path) -> Path:
    """A PNG with one column per photo: grayscale input, generated colour, ground truth."""
    was_training = generator.training
    generator.eval()
    rgb = images.float() / 255  # (N, 3, S, S)
    L, _ = rgb_to_model_pair(rgb)
    with autocast(device):
        fake_ab = generator(L).float()
    generator.train(was_training)
    rows = [model_pair_to_rgb(L, torch.zeros_like(fake_ab)), model_pair_to_rgb(L, fake_ab), rgb]
    rows = [F.pad(row, (0, 2, 0, 2), value=1.0) for row in rows]  # white gutters
    grid = torch.cat([torch.cat(list(row), dim=2) for row in rows], dim=1)  # (3, 3(S+2), N(S+2))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()).save(path)
    return path


def plot_curves(log_path: Path, path: Path, gan_start: int) -> Path:
    """The losses of every logged step, as the paper's figures 6-8."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps, series = [], {name: [] for name in LOSS_NAMES}
    for line in log_path.read_text().splitlines():
        record = json.loads(line)
        if record.get("kind") == "step":
            steps.append(record["global_step"])
            for name in LOSS_NAMES:
                value = record["losses"].get(name)
                series[name].append(math.nan if value is None else value)
    figure = Figure(figsize=(12, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    panels = [("Discriminator", ("D_real", "D_fake")), ("Generator GAN", ("G_GAN",)), ("Generator L1 (x lambda)",
                                                                                       ("G_L1",))]
    for index, (title, names) in enumerate(panels):
        axis = figure.add_subplot(1, 3, index + 1)
        for name in names:
            axis.plot(steps, series[name], label=name, linewidth=1)
        if gan_start > 0 and steps and steps[-1] > gan_start:
            axis.axvline(gan_start, color="gray", linestyle="--", linewidth=0.8)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.legend(loc="upper right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
