"""How a training run starts: its folder, its generator's config and starting weights, its photos,
and its networks. colorizer.train's Trainer calls these once, in this order, before the first step.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from colorizer.checkpoint import load_generator
from colorizer.data import Augmentation, TrainingPhotos, cache_bytes, load_photo, scan_images
from colorizer.hints import with_hint_inputs
from colorizer.model import GeneratorConfig, build_discriminator, build_generator
from colorizer.pix2pix import EMA, Pix2Pix

if TYPE_CHECKING:
    from colorizer.train_config import TrainConfig


def use_fast_cuda_kernels() -> None:
    """TF32 matmuls and convolutions (tensor cores, ample precision for training) and cuDNN autotuning."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True  # every batch has the same shape


def start_run_folder(out_dir: Path, checkpoint_dir: Path, resuming: bool) -> None:
    """A fresh run forgets an earlier run's checkpoint and log (its samples are overwritten)."""
    if not resuming and out_dir.exists():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        (out_dir / "log.jsonl").unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def resolve_generator(config: TrainConfig, checkpoint_dir: Path | None) -> tuple[TrainConfig, dict | None]:
    """(config with the generator's real config, the weights to start from). The generator is fresh,
    fine-tuned from init_generator, or resumed from checkpoint_dir; a weight file's config wins."""
    generator_config, init_weights = config.generator, None
    if checkpoint_dir is not None or config.init_generator:
        source = checkpoint_dir / "generator.safetensors" if checkpoint_dir is not None else config.init_generator
        init_weights, generator_dict, _ = load_generator(source)
        generator_config = GeneratorConfig.from_dict(generator_dict)
    if (config.hints or config.hints_only) and not generator_config.hints:
        # A given generator gains hint inputs, zero-initialised: it starts out as itself.
        generator_config = GeneratorConfig.from_dict({**generator_config.to_dict(), "hints": True})
        if init_weights is not None:
            init_weights = with_hint_inputs(init_weights, generator_config)
    crop_size = config.crop_size or config.image_size
    for name, size in (("image_size", config.image_size), ("crop_size", crop_size)):
        if size % generator_config.size_multiple:
            raise ValueError(f"{name} {size} must be a multiple of {generator_config.size_multiple} for this generator")
    return type(config).from_dict({**config.to_dict(), "generator": generator_config.to_dict()}), init_weights


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


@dataclass
class TrainingData:
    """The photos a run learns from and watches, and how they are served."""

    photos: TrainingPhotos  # the training photos, decoded per epoch or cached on the device
    val_batch: torch.Tensor  # uint8 (V, 3, S, S) on the device: validation photos, centred, unaugmented
    augmentation: Augmentation  # random resized crop and rotation, drawn per training batch
    batch_size: int  # photos per step: config.batch_size, capped at the number of training photos
    steps_per_epoch: int  # full batches per epoch (a remainder is dropped)
    summary: dict  # what the photo scans kept and skipped, per folder


def load_data(config: TrainConfig, device: torch.device) -> TrainingData:
    """The photos, split and served. cache_images=None caches them on a GPU that they fill < 1/4 of."""
    train_paths, val_paths, summary = split_photos(config)
    batch_size = min(config.batch_size, len(train_paths))
    use_cache = config.cache_images
    if use_cache is None:
        use_cache = device.type == "cuda" and (cache_bytes(len(train_paths), config.image_size)
                                               < torch.cuda.get_device_properties(device).total_memory / 4)
    photos = TrainingPhotos(train_paths, config.image_size, device, cache=use_cache, num_workers=config.num_workers)
    val_batch = torch.stack([load_photo(p, config.image_size) for p in val_paths]).to(device)  # uint8 (V, 3, S, S)
    augmentation = Augmentation(config.min_crop_scale, config.max_rotation, max_crop_scale=config.max_crop_scale,
                                out_size=config.crop_size or config.image_size)
    return TrainingData(photos, val_batch, augmentation, batch_size, len(photos) // batch_size, summary)


def build_networks(config: TrainConfig, init_weights: dict | None, device: torch.device) -> tuple[Pix2Pix, EMA | None]:
    """G (fresh or from init_weights) and D with their optimisers, and G's EMA when ema_decay > 0."""
    torch.manual_seed(config.seed)  # the same seed, the same initial weights
    generator = build_generator(config.generator, load_pretrained=init_weights is None)
    if init_weights is not None:
        generator.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in init_weights.items()})
    if config.hints_only:
        if not hasattr(generator, "freeze_all_but_hints"):
            raise ValueError("hints_only trains the hint inputs of a generator with a pretrained encoder "
                             "(efficientnet_lite0 or resnet18), not of a plain U-Net")
        generator.freeze_all_but_hints()
    model = Pix2Pix(generator, build_discriminator(config.discriminator), config, device)
    return model, EMA(model.G, config.ema_decay) if config.ema_decay > 0 else None
