"""Frozen-encoder features, computed once per photo and read back every epoch.

With the encoder frozen, its output for a given photo and augmentation never changes, yet it
costs a large part of every training step. The cache holds, for `variants` seeded augmentations
of every photo at the training size, the encoder's feature maps, L and the true a/b, as fp16
.npy files that are memory-mapped: a run reads them at page-cache speed, and a restarted run (or
the next recipe on the same photos) reuses them. Variant 0 is the plain photo; the others are
random crops, mirrors and rotations (the paper's augmentation), fixed per variant.

    cache = FeatureCache.build(paths, encoder, folder, size=128, variants=3)
    features, L, ab = cache.batch(indices, variant)  # [(B, C_i, H_i, W_i)], (B, 1, S, S), (B, 2, S, S)

A cache knows what built it (photo list, size, variants, encoder fingerprint); `build` on a folder
holding another cache starts over, and an interrupted build continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from colorizer.color import rgb_to_model_pair
from colorizer.data import Augmentation, PhotoFolder, augment

CHUNK = 64  # photos encoded per forward pass; the build's progress is saved after each


def encoder_fingerprint(encoder: nn.Module) -> str:
    """A short hash of the encoder's weights: a cache built by other weights is not reused."""
    digest = hashlib.sha256()
    for name, tensor in sorted(encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


class FeatureCache:
    def __init__(self, folder: str | os.PathLike, variants: int | None = None, in_memory: bool = False):
        """Open a built cache: its first `variants` variants (all by default), memory-mapped, or read
        into memory with `in_memory` (a training run reads photos in random order, which a disk
        serves slowly; one sequential read at the start costs seconds)."""
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "meta.json").read_text())
        self.variants = min(variants or self.meta["variants"], self.meta["variants"])

        def open_array(name: str) -> np.ndarray:
            array = np.load(self.folder / f"{name}.npy", mmap_mode="r")[:self.variants]
            return np.array(array) if in_memory else array  # a copy: ascontiguousarray would keep the map

        self.L = open_array("L")  # (V, N, 1, S, S) fp16
        self.ab = open_array("ab")  # (V, N, 2, S, S) fp16
        self.features = [open_array(f"f{i}")  # (V, N, C_i, H_i, W_i) fp16
                         for i in range(len(self.meta["feature_shapes"]))]

    @property
    def count(self) -> int:
        return self.meta["count"]

    def batch(self, indices: torch.Tensor | list[int], variant: int | torch.Tensor = 0,
              device: torch.device | str = "cpu") -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Float32 encoder features (channels_last), L and a/b of photos `indices` in `variant`
        (one variant for all, or one per photo), on `device`."""
        device = torch.device(device)
        rows = np.asarray(indices, dtype=np.int64)
        variant = np.broadcast_to(np.asarray(variant, dtype=np.int64), rows.shape)

        def read(array: np.ndarray) -> torch.Tensor:
            half = torch.from_numpy(np.ascontiguousarray(array[variant, rows]))
            if device.type == "cuda":
                half = half.pin_memory().to(device, non_blocking=True)
            return half.float()

        features = [read(f).contiguous(memory_format=torch.channels_last) for f in self.features]
        return features, read(self.L), read(self.ab)

    # ------------------------------------------------------------------------------

    @classmethod
    def build(cls, paths: list[Path], encoder: nn.Module, folder: str | os.PathLike, size: int = 128,
              variants: int = 3, decode_size: int = 256, seed: int = 0, num_workers: int = 2,
              augmentation: Augmentation | None = None, progress=None, device: torch.device | str = "cpu",
              in_memory: bool = False) -> "FeatureCache":
        """Encode every photo in `variants` augmentations (or reuse/continue a matching cache; one
        built with more variants serves the first `variants` of them)."""
        folder = Path(folder)
        device = torch.device(device)
        encoder = encoder.eval().to(device)
        identity = {
            "photos": hashlib.sha256("\n".join(str(p) for p in paths).encode()).hexdigest()[:16],
            "count": len(paths), "size": size, "variants": variants, "decode_size": decode_size, "seed": seed,
            "encoder": encoder_fingerprint(encoder),
        }
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
        same = meta is not None and all(meta.get(k) == v for k, v in identity.items() if k != "variants")
        if same and meta["variants"] >= variants and meta.get("done") == meta["variants"] * len(paths):
            return cls(folder, variants=variants, in_memory=in_memory)
        if not (same and meta["variants"] == variants):
            meta = cls._allocate(folder, identity, encoder, size, device)
        augmentation = augmentation or Augmentation(min_crop_scale=0.5, max_rotation=10.0, out_size=size)
        augmentation.out_size = size
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r+")
                  for name in ["L", "ab"] + [f"f{i}" for i in range(len(meta["feature_shapes"]))]}
        dataset = PhotoFolder(paths, decode_size)
        total = variants * len(paths)
        for variant in range(variants):
            start_photo = max(0, meta["done"] - variant * len(paths))
            if start_photo >= len(paths):
                continue
            indices = list(range(start_photo, len(paths)))
            loader = DataLoader(dataset, batch_size=CHUNK, sampler=indices, num_workers=num_workers,
                                generator=torch.Generator())
            row = start_photo
            for images in loader:  # uint8 (B, 3, D, D)
                rng = torch.Generator().manual_seed(seed * 1_000_003 + variant * 100_003 + row)
                if variant == 0:
                    rgb = torch.nn.functional.interpolate(images.float() / 255, size=(size, size), mode="bilinear",
                                                          antialias=True, align_corners=False).clamp(0, 1)
                else:
                    rgb = augment(images.to(device), augmentation, generator=rng)
                L, ab = rgb_to_model_pair(rgb.to(device))  # (B, 1, S, S), (B, 2, S, S)
                with torch.inference_mode():
                    features = encoder(L.contiguous(memory_format=torch.channels_last))
                end = row + len(images)
                arrays["L"][variant, row:end] = L.half().cpu().numpy()
                arrays["ab"][variant, row:end] = ab.half().cpu().numpy()
                for i, feature in enumerate(features):
                    arrays[f"f{i}"][variant, row:end] = feature.half().contiguous().cpu().numpy()
                for array in arrays.values():
                    array.flush()
                row = end
                meta["done"] = variant * len(paths) + row
                _write_json(meta_path, meta)
                if progress:
                    progress(meta["done"], total)
        return cls(folder, in_memory=in_memory)

    @staticmethod
    def _allocate(folder: Path, identity: dict, encoder: nn.Module, size: int, device: torch.device) -> dict:
        folder.mkdir(parents=True, exist_ok=True)
        with torch.inference_mode():
            probe = encoder(torch.zeros(1, 1, size, size, device=device))
        shapes = [list(f.shape[1:]) for f in probe]
        count, variants = identity["count"], identity["variants"]
        np.lib.format.open_memmap(folder / "L.npy", mode="w+", dtype=np.float16, shape=(variants, count, 1, size, size))
        for name, shape in [("ab", [2, size, size])] + [(f"f{i}", shape) for i, shape in enumerate(shapes)]:
            np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=np.float16,
                                      shape=(variants, count, *shape))
        meta = {**identity, "feature_shapes": shapes, "done": 0}
        _write_json(folder / "meta.json", meta)
        return meta


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
