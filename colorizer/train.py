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
"""

from __future__ import annotations

import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

# Callers import recover_checkpoint (webapp.finetune) and Pix2Pix (colorizer.bench) from here too.
from colorizer.checkpoint import load_checkpoint, load_generator, recover_checkpoint, save_checkpoint, save_generator
from colorizer.color import rgb_to_model_pair
from colorizer.data import Augmentation, TrainingPhotos, augment, cache_bytes, epoch_order, load_photo, scan_images
from colorizer.inference import pick_device
from colorizer.model import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator
from colorizer.monitor import mean_losses, plot_curves, sample_grid, trim_log, validate, write_log
from colorizer.pix2pix import EMA, Pix2Pix

@dataclass
class TrainConfig:
    # data
    train_dir: str = "data/train"  # folder tree of colour photos (grayscale and unreadable files are skipped)
    out_dir: str = "runs/colorizer"  # the run folder: checkpoints, logs, samples, final generator
    val_dir: str | None = None  # validation photos; None holds out val_split of train_dir
    val_split: float = 0.05  # share of train_dir held out for validation when val_dir is None (seeded)
    max_images: int | None = None  # use at most this many photos of train_dir (a seeded subset, before the split)
    image_size: int = 256  # photos are decoded at image_size x image_size (the paper: 256)
    crop_size: int | None = None  # side of the training crops; None = image_size. Smaller trains on native-scale
    #                               patches (with min/max_crop_scale near (crop_size/image_size)**2), cheaper per step
    min_crop_scale: float = 0.5  # random resized crop keeps at least this share of the photo's area
    max_crop_scale: float = 1.0  # ... and at most this share
    max_rotation: float = 10.0  # random rotation in degrees, either way (the paper's augmentation)
    # networks
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)  # ignored when resuming or init_generator
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)  # the 70x70 PatchGAN
    init_generator: str | None = None  # generator .safetensors to fine-tune from; its config wins over `generator`
    # optimisation
    l1_epochs: int = 0  # stage 1: the generator alone on L1 (the paper pre-trains its ResNet18 U-Net so)
    gan_epochs: int = 20  # stage 2: alternating D and G steps on GAN + lambda_l1 * L1
    batch_size: int = 16  # photos per step (capped at the number of training photos)
    lr: float = 2e-4  # Adam learning rate of both networks (the paper)
    beta1: float = 0.5  # Adam momentum (the paper)
    beta2: float = 0.999  # Adam second moment (the paper)
    lambda_l1: float = 100.0  # weight of L1 against the GAN loss (the paper)
    gan_mode: str = "vanilla"  # "vanilla" (the paper), "lsgan" or "hinge"
    ema_decay: float = 0.999  # exponential moving average of the generator's weights, exported; 0 turns it off
    max_steps: int | None = None  # stop after this many steps in all (quick runs, tests)
    # system
    seed: int = 0  # seeds initialisation, the split, shuffling, augmentation and dropout
    device: str = "auto"  # "auto" (CUDA when present), "cuda", "cuda:1", "cpu"
    compile: bool = False  # torch.compile both networks (CUDA; pays off on long runs)
    channels_last: bool | None = None  # NHWC tensors; None: on CUDA, and on the CPU for pretrained encoders
    #                                    (their depthwise convs train ~40% faster; the U-Net's do not)
    num_workers: int = 4  # DataLoader processes decoding photos (when not cached)
    cache_images: bool | None = None  # decode once, keep on the device; None: on CUDA when it takes < 1/4 of memory
    resume: bool = True  # continue from out_dir/checkpoints when it holds a checkpoint; False starts over
    checkpoint_every: int = 1  # epochs between checkpoints (the last epoch, a cancel and a max_steps stop always save)
    # reporting
    log_every: int = 10  # steps between log lines and "step" progress events
    val_images: int = 64  # validation photos scored at the end of each epoch
    sample_count: int = 6  # columns of the sample grids
    progress_bar: bool = True  # tqdm on stderr

    def to_dict(self) -> dict:
        data = asdict(self)
        data["generator"] = self.generator.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        if isinstance(data.get("generator"), dict):
            data["generator"] = GeneratorConfig.from_dict(data["generator"])
        if isinstance(data.get("discriminator"), dict):
            data["discriminator"] = DiscriminatorConfig.from_dict(data["discriminator"])
        return cls(**data)


@dataclass
class TrainResult:
    generator_path: str  # the final generator (fp16, EMA weights when ema_decay > 0): Colorizer.load reads it
    history: list[dict]  # one entry per finished epoch: stage, losses, val metrics, timing
    val_metrics: dict  # the latest validation metrics: l1, psnr, ab_error
    sample_grid: str | None  # the latest sample grid (PNG)
    curves: str | None  # the loss curves (PNG)
    checkpoint_dir: str  # where train(resume=True) continues from
    cancelled: bool  # should_stop() ended the run early
    global_step: int = 0  # optimisation steps done, over all sessions
    data: dict = field(default_factory=dict)  # what the photo scans kept and skipped, per folder


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
    out_dir = Path(config.out_dir)
    checkpoint_dir = out_dir / "checkpoints"
    device = pick_device(config.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    resuming = config.resume and recover_checkpoint(checkpoint_dir)
    if not resuming and out_dir.exists():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        (out_dir / "log.jsonl").unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    notify = on_progress or (lambda event: None)
    stop_requested = should_stop or (lambda: False)

    # ---- the generator: fresh, fine-tuned from a generator file, or resumed (its file's config wins)
    generator_config, init_state = config.generator, None
    if resuming or config.init_generator:
        source = checkpoint_dir / "generator.safetensors" if resuming else config.init_generator
        init_state, generator_dict, _ = load_generator(source)
        generator_config = GeneratorConfig.from_dict(generator_dict)
    crop_size = config.crop_size or config.image_size
    for name, size in (("image_size", config.image_size), ("crop_size", crop_size)):
        if size % generator_config.size_multiple:
            raise ValueError(f"{name} {size} must be a multiple of {generator_config.size_multiple} for this generator")
    config = TrainConfig.from_dict({**config.to_dict(), "generator": generator_config.to_dict()})

    # ---- data
    train_paths, val_paths, data_summary = split_photos(config)
    batch_size = min(config.batch_size, len(train_paths))
    use_cache = config.cache_images
    if use_cache is None:
        use_cache = cuda and (cache_bytes(len(train_paths), config.image_size)
                              < torch.cuda.get_device_properties(device).total_memory / 4)
    photos = TrainingPhotos(train_paths, config.image_size, device, cache=use_cache, num_workers=config.num_workers)
    val_batch = torch.stack([load_photo(p, config.image_size) for p in val_paths]).to(device)  # uint8 (V, 3, S, S)
    augmentation = Augmentation(config.min_crop_scale, config.max_rotation, max_crop_scale=config.max_crop_scale,
                                out_size=crop_size)
    steps_per_epoch = len(photos) // batch_size
    total_epochs = config.l1_epochs + config.gan_epochs
    total_steps = total_epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)

    # ---- networks, optimisers, random streams
    torch.manual_seed(config.seed)
    generator = build_generator(generator_config, load_pretrained=init_state is None)
    if init_state is not None:
        generator.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in init_state.items()})
    model = Pix2Pix(generator, build_discriminator(config.discriminator), config, device)
    ema = EMA(model.G, config.ema_decay) if config.ema_decay > 0 else None
    augment_rng = torch.Generator().manual_seed(config.seed)
    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "history": [], "epoch_sums": [0.0] * 4}
    if resuming:
        state = resume_run(checkpoint_dir, model, ema, augment_rng, device)
        trim_log(out_dir / "log.jsonl", state["global_step"])

    # ---- the loop
    log = open(out_dir / "log.jsonl", "a")
    write_log(log, {"kind": "data", "global_step": state["global_step"], **data_summary})
    if config.progress_bar:
        for name, scan in data_summary.items():
            tqdm.write(f"{name}: {scan['summary']} in {scan['root']}")
    bar = tqdm(total=total_steps, initial=min(state["global_step"], total_steps), disable=not config.progress_bar,
               unit="step", dynamic_ncols=True)
    session_start, session_steps = time.perf_counter(), 0
    cancelled = stopped = False
    last_grid = state["history"][-1]["sample_grid"] if state["history"] else None
    curves_path = None
    try:
        for epoch in range(state["epoch"], total_epochs):
            if state["global_step"] >= total_steps:
                break
            stage = "l1" if epoch < config.l1_epochs else "gan"
            epoch_start = window_start = time.perf_counter()
            window_steps = 0
            sums = torch.tensor(state["epoch_sums"], device=device)
            for images in photos.batches(epoch_order(len(photos), config.seed, epoch), batch_size,
                                         skip=state["step_in_epoch"]):
                rgb = augment(images, augmentation, augment_rng)  # (B, 3, S, S) in [0, 1]
                L, real_ab = rgb_to_model_pair(rgb)  # (B, 1, S, S), (B, 2, S, S)
                sums += model.optimize(L, real_ab, adversarial=stage == "gan")
                state["step_in_epoch"] += 1
                state["global_step"] += 1
                session_steps += 1
                window_steps += 1
                if ema is not None:
                    ema.update(model.G, state["global_step"])
                bar.update(1)
                last_of_epoch = state["step_in_epoch"] == steps_per_epoch
                if state["global_step"] % config.log_every == 0 or last_of_epoch:
                    losses = mean_losses(sums, state["step_in_epoch"], stage == "gan")
                    now = time.perf_counter()
                    eta = (total_steps - state["global_step"]) * (now - session_start) / session_steps
                    event = progress_event("step", stage, epoch, config, state, steps_per_epoch, total_steps, losses,
                                           eta, images_per_second=window_steps * batch_size / (now - window_start))
                    write_log(log, event)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if v is not None}, refresh=False)
                    notify(event)
                    window_start, window_steps = time.perf_counter(), 0
                if stop_requested():
                    cancelled = True
                    break
                if state["global_step"] >= total_steps and not last_of_epoch:
                    stopped = True  # max_steps, mid-epoch
                    break
            state["epoch_sums"] = sums.tolist()
            if cancelled:
                break
            if stopped or state["step_in_epoch"] < steps_per_epoch:
                stopped = True
                break
            # ---- end of epoch: validate, draw, checkpoint
            net = ema.model if ema is not None else model.G
            val = validate(net, val_batch, device)
            last_grid = str(sample_grid(net, val_batch[:config.sample_count], device,
                                        out_dir / "samples" / f"epoch_{epoch + 1:03d}.png"))
            record = {"epoch": epoch + 1, "stage": stage, "stage_epoch": stage_epoch(epoch, config),
                      "global_step": state["global_step"], "losses": mean_losses(sums, steps_per_epoch, stage == "gan"),
                      "val": val, "seconds": round(time.perf_counter() - epoch_start, 3), "sample_grid": last_grid}
            state["history"].append(record)
            state.update(epoch=epoch + 1, step_in_epoch=0, epoch_sums=[0.0] * 4)
            checkpointed = ((epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == total_epochs
                            or state["global_step"] >= total_steps)  # max_steps ended the run on an epoch boundary
            if checkpointed:  # a big U-Net's checkpoint takes seconds: a short GPU run may want fewer
                checkpoint_run(checkpoint_dir, model, ema, augment_rng, state, config)
            curves_path = str(plot_curves(out_dir / "log.jsonl", out_dir / "curves.png", config.l1_epochs
                                          * steps_per_epoch))
            write_log(log, {"kind": "epoch", **record})
            eta = (total_steps - state["global_step"]) * (time.perf_counter() - session_start) / max(session_steps, 1)
            event = progress_event("epoch", stage, epoch, config, state, steps_per_epoch, total_steps,
                                   record["losses"], eta, steps_per_epoch * batch_size / max(record["seconds"], 1e-9))
            notify({**event, "val": val, "sample_grid": last_grid, **({"checkpoint": str(checkpoint_dir)} if checkpointed else {})})
    finally:
        bar.close()
        log.close()

    # ---- the end: a checkpoint of where we are, the final generator, a last look
    net = ema.model if ema is not None else model.G
    if cancelled or stopped:
        checkpoint_run(checkpoint_dir, model, ema, augment_rng, state, config)
    val = state["history"][-1]["val"] if state["history"] else {}
    if stopped and not cancelled:  # max_steps ended the run mid-epoch: score what we have
        val = validate(net, val_batch, device)
        last_grid = str(sample_grid(net, val_batch[:config.sample_count], device, out_dir / "samples" / "final.png"))
    if curves_path is None and (out_dir / "log.jsonl").is_file():
        curves_path = str(plot_curves(out_dir / "log.jsonl", out_dir / "curves.png",
                                      config.l1_epochs * steps_per_epoch))
    generator_path = out_dir / "generator.safetensors"
    save_generator(generator_path, net.state_dict(), generator_config.to_dict(), extra={
        "trained_by": "colorizer.train", "arch": generator_config.arch, "train_dir": str(config.train_dir),
        "init_generator": config.init_generator, "images": len(train_paths), "image_size": config.image_size,
        "epochs": len(state["history"]), "global_step": state["global_step"], "ema": ema is not None,
        "val": val, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    result = TrainResult(generator_path=str(generator_path), history=state["history"], val_metrics=val,
                         sample_grid=last_grid, curves=curves_path, checkpoint_dir=str(checkpoint_dir),
                         cancelled=cancelled, global_step=state["global_step"], data=data_summary)
    notify({"kind": "cancelled" if cancelled else "done", "global_step": state["global_step"],
            "total_steps": total_steps, "generator_path": result.generator_path, "val": val,
            "sample_grid": last_grid, "curves": curves_path, "checkpoint": str(checkpoint_dir),
            "data": data_summary})
    return result


# --------------------------------------------------------------------------------------
# Pieces of the loop.


def split_photos(config: TrainConfig) -> tuple[list[Path], list[Path], dict]:
    """(training photos, validation photos, a summary of what the scans skipped)."""
    workers = min(16, os.cpu_count() or 4)  # the scan decodes every photo once: use the machine
    scan = scan_images(config.train_dir, limit=config.max_images, seed=config.seed, workers=workers)
    summary = {"train": {**scan.to_dict(), "summary": scan.summary()}}
    paths = list(scan.paths)
    if config.val_dir is not None:
        val_scan = scan_images(config.val_dir, limit=config.val_images, seed=config.seed, workers=workers)
        summary["val"] = {**val_scan.to_dict(), "summary": val_scan.summary()}
        val_paths = val_scan.paths
    else:
        random.Random(config.seed).shuffle(paths)
        held_out = max(1, round(len(paths) * config.val_split)) if config.val_split > 0 and len(paths) > 1 else 0
        val_paths, paths = sorted(paths[:held_out]), sorted(paths[held_out:])
    if not paths:
        raise ValueError(f"no usable colour photos in {config.train_dir}: {scan.summary()}")
    if not val_paths:
        val_paths = paths  # nothing held out: watch the training photos instead
    return paths, list(val_paths)[:config.val_images], summary


def stage_epoch(epoch: int, config: TrainConfig) -> int:
    """1-based epoch number within its stage."""
    return epoch + 1 if epoch < config.l1_epochs else epoch - config.l1_epochs + 1


def progress_event(kind: str, stage: str, epoch: int, config: TrainConfig, state: dict, steps_per_epoch: int,
                   total_steps: int, losses: dict, eta: float, images_per_second: float) -> dict:
    """The dict on_progress receives for "step" and "epoch" (which adds val, sample_grid, checkpoint)."""
    return {"kind": kind, "stage": stage, "epoch": stage_epoch(epoch, config),
            "epochs": config.l1_epochs if stage == "l1" else config.gan_epochs,
            "step": state["step_in_epoch"] if kind == "step" else steps_per_epoch, "steps_per_epoch": steps_per_epoch,
            "global_step": state["global_step"], "total_steps": total_steps, "losses": losses,
            "eta_seconds": round(max(eta, 0.0), 1), "images_per_second": round(images_per_second, 1)}


# --------------------------------------------------------------------------------------
# Checkpoints (the files: colorizer.checkpoint).


def checkpoint_run(directory: Path, model: Pix2Pix, ema: EMA | None, augment_rng: torch.Generator, state: dict,
                   config: TrainConfig) -> None:
    rng = {"cpu": torch.get_rng_state(), "augment": augment_rng.get_state()}
    if model.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(model.device)
    save_checkpoint(directory, generator=model.G, generator_config=config.generator.to_dict(),
                    ema_generator=ema.model if ema is not None else None, discriminator=model.D,
                    discriminator_config=config.discriminator.to_dict(),
                    optimizers={"G": model.opt_G, "D": model.opt_D}, rng=rng, state={**state, "config": config.to_dict()})


def resume_run(directory: Path, model: Pix2Pix, ema: EMA | None, augment_rng: torch.Generator,
               device: torch.device) -> dict:
    """Restore networks, optimizers and RNG streams; returns the loop state."""
    state, rng = load_checkpoint(directory, generator=model.G, ema_generator=ema.model if ema is not None else None,
                                 discriminator=model.D, optimizers={"G": model.opt_G, "D": model.opt_D}, device=device)
    torch.set_rng_state(rng["cpu"])
    augment_rng.set_state(rng["augment"])
    if device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], device)
    state.pop("config", None)
    return state
