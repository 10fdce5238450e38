"""Colorize photos at their full resolution with a trained generator.

    colorizer = Colorizer.load("model.safetensors")
    result = colorizer.colorize(Image.open("old.jpg"))               # PIL RGB, same size
    variant = colorizer.colorize(Image.open("old.jpg"), seed=7)      # dropout noise on

The network runs at a render size (default 256 px, about that many pixels per side,
aspect kept); its ab prediction is upsampled to the photo's size and merged with the
photo's own luminance, which the result keeps exactly.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import dataclass
from typing import BinaryIO, Iterable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageOps

from colorizer import color
from colorizer.checkpoint import load_generator
from colorizer.model import GeneratorConfig, build_generator

DEFAULT_RENDER_SIZE = 256
MIN_RENDER_SIZE = 64
MAX_RENDER_SIZE = 2048


def pick_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class PreparedImage:
    """A photo reduced to what colorization needs."""

    Y: np.ndarray  # (H, W) float32 linear luminance in [0, 1]: kept exactly in the output
    alpha: np.ndarray | None  # (H, W) uint8 alpha channel, re-attached to the output


def prepare_image(image: Image.Image) -> PreparedImage:
    """Luminance (and alpha) of any Pillow image, upright per its EXIF orientation.

    Colour photos are reduced to their luminance; 16-bit and float grays keep their depth.
    """
    image = ImageOps.exif_transpose(image)
    alpha = None
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.uint8).copy()
        image = image.convert("L" if mode in ("LA", "La") else "RGB")
        mode = image.mode
    if mode == "1":
        image, mode = image.convert("L"), "L"
    if mode == "L":
        Y = color._Y8[np.asarray(image, dtype=np.uint8)]
    elif mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float32)
        top = 65535.0 if mode.startswith("I") and values.max(initial=0) > 255 else 255.0
        if mode == "F" and values.max(initial=0) <= 1.0:
            top = 1.0
        Y = color.srgb_to_linear(np.clip(values / top, 0.0, 1.0)).astype(np.float32)
    else:
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
        Y = (color._Y8[rgb[..., 0]] * color.RGB_TO_Y[0] + color._Y8[rgb[..., 1]] * color.RGB_TO_Y[1]
             + color._Y8[rgb[..., 2]] * color.RGB_TO_Y[2])
    return PreparedImage(Y=np.ascontiguousarray(Y, dtype=np.float32), alpha=alpha)


def network_size(height: int, width: int, render_size: int, multiple: int) -> tuple[int, int]:
    """Network input size: about render_size**2 pixels, the photo's aspect, sides a multiple of `multiple`."""
    scale = render_size / math.sqrt(height * width)
    return (max(multiple, round(height * scale / multiple) * multiple),
            max(multiple, round(width * scale / multiple) * multiple))


class Colorizer:
    """A loaded generator. Thread-safe; batches on the GPU."""

    def __init__(self, generator: nn.Module, config: GeneratorConfig, device: str | torch.device = "auto",
                 info: dict | None = None):
        self.config = config
        self.device = pick_device(device)
        self.info = info or {}
        self.generator = generator.to(self.device).eval()
        if self.device.type == "cuda":
            self.generator = self.generator.to(memory_format=torch.channels_last)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, source: str | os.PathLike | BinaryIO | bytes, device: str | torch.device = "auto") -> "Colorizer":
        """Load a generator file written by `colorizer.checkpoint.save_generator` (never unpickles)."""
        state, config_dict, extra = load_generator(source)
        config = GeneratorConfig.from_dict(config_dict)
        generator = build_generator(config, load_pretrained=False)
        generator.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        return cls(generator, config, device=device, info=extra)

    # ------------------------------------------------------------------------------

    def colorize(self, image: Image.Image, render_size: int = DEFAULT_RENDER_SIZE, seed: int | None = None) -> Image.Image:
        """A full-resolution colour version of `image` (RGB, or RGBA when it had alpha)."""
        return self.colorize_batch([image], render_size=render_size, seed=seed)[0]

    def colorize_batch(self, images: Iterable[Image.Image], render_size: int = DEFAULT_RENDER_SIZE,
                       seed: int | None = None, batch_size: int | None = None) -> list[Image.Image]:
        """Colorize several photos; those sharing a network size run as one batch."""
        if not MIN_RENDER_SIZE <= render_size <= MAX_RENDER_SIZE:
            raise ValueError(f"render size must be between {MIN_RENDER_SIZE} and {MAX_RENDER_SIZE}")
        prepared = [prepare_image(image) for image in images]
        batch_size = batch_size or (64 if self.device.type == "cuda" else 4)
        groups: dict[tuple[int, int], list[int]] = {}
        for index, item in enumerate(prepared):
            size = network_size(*item.Y.shape, render_size, self.config.size_multiple)
            groups.setdefault(size, []).append(index)
        results: list[Image.Image | None] = [None] * len(prepared)
        for size, indices in groups.items():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start:start + batch_size]
                L = torch.stack([self._network_input(prepared[i].Y, size) for i in chunk])  # (B, 1, h, w)
                ab = self.predict_ab(L, seed=seed)  # (B, 2, h, w) Lab units
                for row, i in enumerate(chunk):
                    results[i] = self._compose(prepared[i], ab[row])
        return results

    def predict_ab(self, L: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        """Normalised L (B, 1, h, w) -> a/b in Lab units (B, 2, h, w), float32 on the CPU."""
        with self._lock, torch.inference_mode(), self._noise(seed), self._autocast():
            x = L.to(self.device, non_blocking=True)
            if self.device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            ab = self.generator(x)
        return color.denormalize_ab(ab.float()).cpu()

    # ------------------------------------------------------------------------------

    @staticmethod
    def _network_input(Y: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        small = F.interpolate(torch.from_numpy(Y)[None, None], size=size, mode="bilinear", align_corners=False,
                              antialias=True)[0]
        lightness = 116.0 * torch.where(small > (6 / 29) ** 3, small.clamp_min(0).pow(1 / 3),
                                        small / (3 * (6 / 29) ** 2) + 4 / 29) - 16.0
        return color.normalize_l(lightness)  # (1, h, w)

    @staticmethod
    def _compose(item: PreparedImage, ab: torch.Tensor) -> Image.Image:
        height, width = item.Y.shape
        full_ab = F.interpolate(ab[None], size=(height, width), mode="bilinear", align_corners=False)[0]
        rgb = color.merge_luminance_ab(item.Y, full_ab.numpy())
        result = Image.fromarray(rgb, "RGB")
        if item.alpha is not None:
            result.putalpha(Image.fromarray(item.alpha, "L"))
        return result

    @contextlib.contextmanager
    def _noise(self, seed: int | None):
        """With a seed, dropout stays on (the paper's noise) and is reproducible."""
        if seed is None:
            yield
            return
        dropouts = [m for m in self.generator.modules() if isinstance(m, nn.Dropout) and m.p > 0]
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            for module in dropouts:
                module.train()
            try:
                yield
            finally:
                for module in dropouts:
                    module.eval()

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()
