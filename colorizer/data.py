"""Training photos: scanning a folder tree, decoding, and augmenting on the device.

    report = scan_images("photos/")        # kept paths + what was skipped and why
    photos = TrainingPhotos(report.paths, image_size=256, device=device, cache=True)
    for images in photos.batches(epoch_order(len(photos), seed, epoch), batch_size=16):  # uint8 (B, 3, S, S)
        rgb = augment(images, Augmentation(), generator)   # float (B, 3, S, S) in [0, 1]

Decoding happens once per photo: to the shorter side S, centre-cropped to S x S. Every
random transform (random resized crop, horizontal flip, small rotation) is one affine
sampling grid per image, applied to the whole batch on the device, so on a GPU the
augmentation and the Lab conversion cost next to nothing; with `cache=True` the decoded
photos stay on the GPU too and the data pipeline never touches the CPU after the first
pass.
"""

from __future__ import annotations

import math
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from colorizer.photos import (  # noqa: F401 (is_grayscale: importable from here too)
    CHECK_SIZE, IMAGE_EXTENSIONS, colour_verdict, is_grayscale)



# --------------------------------------------------------------------------------------
# Scanning.


@dataclass
class ScanReport:
    """What `scan_images` found under a folder."""

    root: str
    paths: list[Path] = field(default_factory=list)  # usable colour photos, sorted
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> relative paths
    ignored: int = 0  # files without an image extension, and hidden files

    @property
    def counts(self) -> dict[str, int]:
        """How many files were skipped for each reason ("unreadable", "grayscale", "monotone")."""
        return {reason: len(paths) for reason, paths in self.skipped.items()}

    def summary(self) -> str:
        parts = [f"{len(self.paths)} colour photos"]
        parts += [f"{count} {reason}" for reason, count in self.counts.items() if count]
        if self.ignored:
            parts.append(f"{self.ignored} other files ignored")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {"root": self.root, "kept": len(self.paths), "skipped": self.counts, "ignored": self.ignored,
                "examples": {reason: paths[:10] for reason, paths in self.skipped.items()}}


def list_image_files(root: str | os.PathLike) -> tuple[list[Path], int]:
    """Image files under `root` (recursively, sorted) and how many other files were ignored."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such folder: {root}")
    found, ignored = [], 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for name in files:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(folder) / name)
            else:
                ignored += 1
    return sorted(found), ignored


def scan_images(root: str | os.PathLike, limit: int | None = None, seed: int = 0, workers: int = 4) -> ScanReport:
    """Every readable colour photo under `root`; unreadable and grayscale/monotone files are
    counted (with their paths) instead.

    With `limit`, a seeded random subset: files are visited in a shuffled order until
    `limit` photos are kept (the returned paths are sorted). Files are checked by `workers`
    threads (decoding releases the GIL).
    """
    files, ignored = list_image_files(root)
    if limit is not None:
        random.Random(seed).shuffle(files)
    report = ScanReport(root=str(root), ignored=ignored,
                        skipped={"unreadable": [], "grayscale": [], "monotone": []})
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(files), 256):
            chunk = files[start:start + 256]
            for path, verdict in zip(chunk, pool.map(check_image, chunk)):
                if limit is not None and len(report.paths) >= limit:
                    break
                if verdict == "ok":
                    report.paths.append(path)
                else:
                    report.skipped[verdict].append(str(path.relative_to(root)))
            if limit is not None and len(report.paths) >= limit:
                break
    report.paths.sort()
    return report


def check_image(path: str | os.PathLike) -> str:
    """"ok", "unreadable", "grayscale" or "monotone"."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (CHECK_SIZE, CHECK_SIZE))  # JPEG: decode at 1/2..1/8 scale, fast
            image.load()
            return colour_verdict(image)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return "unreadable"


# --------------------------------------------------------------------------------------
# Decoding.


def load_photo(path: str | os.PathLike, size: int) -> torch.Tensor:
    """uint8 (3, size, size) RGB: upright, shorter side resized to `size`, centre crop."""
    with Image.open(path) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale that stays >= size
        image = ImageOps.exif_transpose(image).convert("RGB")
        image = ImageOps.fit(image, (size, size), Image.BICUBIC)
        return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()


class PhotoFolder(Dataset):
    """Decoded photos, one uint8 (3, S, S) tensor per item."""

    def __init__(self, paths: list[Path], image_size: int):
        self.paths = list(paths)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return load_photo(self.paths[index], self.image_size)


def epoch_order(count: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of one epoch: a function of (seed, epoch) only, so a resumed run
    sees the same batches as an uninterrupted one."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


class TrainingPhotos:
    """A photo set served as uint8 (B, 3, S, S) batches on the device.

    With `cache`, every photo is decoded once into one tensor on the device (on a GPU the
    pipeline then never touches the CPU again); otherwise a DataLoader decodes each epoch.
    """

    def __init__(self, paths: list[Path], image_size: int, device: torch.device, cache: bool = False,
                 num_workers: int = 0):
        self.dataset = PhotoFolder(paths, image_size)
        self.device = device
        self.num_workers = num_workers
        self.images: torch.Tensor | None = None  # (N, 3, S, S) uint8 on device, when cached
        if cache:
            self.images = torch.empty((len(paths), 3, image_size, image_size), dtype=torch.uint8, device=device)
            start = 0
            for batch in self._loader(list(range(len(paths))), batch_size=64, drop_last=False):
                self.images[start:start + len(batch)].copy_(batch)
                start += len(batch)

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(self, order: torch.Tensor, batch_size: int, skip: int = 0) -> Iterator[torch.Tensor]:
        """Full batches in `order` (a remainder is dropped), starting after `skip` batches."""
        order = order[skip * batch_size:]
        if self.images is not None:
            order = order.to(self.device)
            for start in range(0, len(order) - batch_size + 1, batch_size):
                yield self.images[order[start:start + batch_size]]
            return
        for batch in self._loader(order.tolist(), batch_size, drop_last=True):
            yield batch.to(self.device, non_blocking=True)

    def _loader(self, indices: list[int], batch_size: int, drop_last: bool) -> DataLoader:
        # Its own generator: creating an iterator must not draw from the global RNG (dropout's).
        return DataLoader(self.dataset, batch_size=batch_size, sampler=indices, drop_last=drop_last,
                          num_workers=self.num_workers, pin_memory=self.device.type == "cuda",
                          generator=torch.Generator())


def cache_bytes(count: int, image_size: int) -> int:
    """Device memory that caching `count` decoded photos takes."""
    return count * 3 * image_size * image_size


# --------------------------------------------------------------------------------------
# Augmentation on the device.


@dataclass
class Augmentation:
    min_crop_scale: float = 0.5  # random resized crop: smallest area fraction kept (1 = no crop)
    max_rotation: float = 10.0  # degrees, uniform in [-max, max]; the paper's random rotation
    hflip: bool = True  # mirror half the photos left-right
    max_crop_scale: float = 1.0  # largest area fraction kept
    out_size: int | None = None  # side of the output crops; None keeps the input size


def augment(images: torch.Tensor, augmentation: Augmentation, generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 (B, 3, S, S) -> float (B, 3, C, C) in [0, 1], randomly cropped, flipped and rotated
    (C = augmentation.out_size or S).

    One affine map per image: a crop of area fraction s in [min_crop_scale, max_crop_scale] with aspect
    in [3/4, 4/3], anywhere in the photo, mirrored with p=0.5 and rotated by up to
    max_rotation degrees; corners the rotation uncovers are filled by reflection. The random
    numbers are drawn on the CPU (from `generator`) so that runs are reproducible on any device.
    """
    batch, _, height, width = images.shape
    x = images.float().div_(255)
    rand = torch.rand(batch, 5, generator=generator)  # (B, 5): scale, aspect, x, y, angle
    flip = torch.rand(batch, generator=generator) < 0.5
    low, high = augmentation.min_crop_scale, augmentation.max_crop_scale
    area = low + (high - low) * rand[:, 0]
    # Aspect in [3/4, 4/3], narrowed so that a crop of this area still fits in the photo.
    log_aspect = (rand[:, 1] * 2 - 1) * torch.minimum(-area.log(), torch.tensor(math.log(4 / 3)))
    sx = (area * log_aspect.exp()).sqrt()  # half-widths of the crop in [-1, 1] coordinates
    sy = (area / log_aspect.exp()).sqrt()
    tx = (rand[:, 2] * 2 - 1) * (1 - sx)  # the crop stays inside the photo
    ty = (rand[:, 3] * 2 - 1) * (1 - sy)
    angle = (rand[:, 4] * 2 - 1) * math.radians(augmentation.max_rotation)
    cos, sin = angle.cos(), angle.sin()
    if augmentation.hflip:
        sx = torch.where(flip, -sx, sx)
    theta = torch.stack([torch.stack([sx * cos, -sy * sin, tx], dim=1),
                         torch.stack([sx * sin, sy * cos, ty], dim=1)], dim=1)  # (B, 2, 3)
    theta = theta.to(x.device)
    out_h, out_w = (augmentation.out_size, augmentation.out_size) if augmentation.out_size else (height, width)
    grid = F.affine_grid(theta, [batch, 3, out_h, out_w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False).clamp_(0, 1)
