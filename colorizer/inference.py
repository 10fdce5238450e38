"""Colorize photos at their full resolution with a trained generator.

    colorizer = Colorizer.load("model.safetensors")
    result = colorizer.colorize(Image.open("old.jpg"))               # PIL RGB, same size
    variant = colorizer.colorize(Image.open("old.jpg"), seed=7)      # dropout noise on
    hinted = colorizer.colorize(Image.open("old.jpg"), hints=[(120, 80, (200, 30, 40))])  # a hint-capable model

Hints (colorizer.hints) are (x, y, (r, g, b)): a point of the upright photo (after its EXIF
orientation) and the sRGB colour it should have; they are mapped to the render size.

The network runs at a render size (default 256 px, about that many pixels per side,
aspect kept) on a reduced copy of the photo; its ab prediction is upsampled to the
photo's size and merged with the photo's own luminance, which the result keeps exactly
(`colorizer.color.compose_srgb`).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn
from PIL import Image, ImageOps

from colorizer import color
from colorizer.checkpoint import load_generator
from colorizer.hints import HintError, check_hints, encode_hints
from colorizer.model import GeneratorConfig, build_generator
from colorizer.precision import autocast

DEFAULT_RENDER_SIZE = 256
MIN_INTENSITY, MAX_INTENSITY = 0.0, 2.0  # scale of the predicted a/b (1: as the model made them)
MIN_RENDER_SIZE = 64
MAX_RENDER_SIZE = 2048
EXIF_ORIENTATION = 0x0112


def pick_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class PreparedImage:
    """A photo reduced to what colorization needs."""

    source: Image.Image  # upright, mode "L", "RGB", "I" or "F": the network input is resized from it
    white: float  # value of white in `source` ("I" and "F" only)
    levels: torch.Tensor  # (H, W) integer luminance levels: kept exactly in the output
    tables: color.LevelTables  # what each level means
    alpha: Image.Image | None  # mode "L" alpha channel, re-attached to the output


def prepare_image(image: Image.Image) -> PreparedImage:
    """Luminance (and alpha) of any Pillow image, upright per its EXIF orientation.

    Colour photos are reduced to their luminance; 16-bit and float grays keep their depth.
    """
    image.load()
    if image.getexif().get(EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    alpha = None
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        alpha = image.getchannel("A")
        image = image.convert("L" if image.mode in ("LA", "La") else "RGB")
    white = 255.0
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode.startswith("I;16"):
        image, white = image.convert("I"), 65535.0
    elif image.mode == "I":
        white = 65535.0 if _max(image) > 255 else 255.0
    elif image.mode == "F":
        white = 1.0 if _max(image) <= 1.0 else 255.0
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX...
    levels, tables = luminance_levels(image, white)
    return PreparedImage(source=image, white=white, levels=levels, tables=tables, alpha=alpha)


def _max(image: Image.Image) -> float:
    return float(image.getextrema()[1])


def luminance_levels(image: Image.Image, white: float = 255.0) -> tuple[torch.Tensor, color.LevelTables]:
    """(H, W) integer luminance levels of an "L", "RGB", "I" or "F" image, and their tables."""
    if image.mode == "L":
        return torch.from_numpy(np.array(image, dtype=np.uint8)), color.gray_levels(8)
    if image.mode == "RGB":
        red, green, blue = (np.array(plane) for plane in image.split())  # writable, for torch
        if np.array_equal(red, green) and np.array_equal(red, blue):  # a gray photo stored as RGB: common
            return torch.from_numpy(red), color.gray_levels(8)
        return color.rgb8_to_linear_levels(red, green, blue), color.linear_levels()
    values = np.nan_to_num(np.asarray(image, dtype=np.float32) * (65535.0 / white))
    levels = np.clip(values + 0.5, 0, 65535).astype(np.int32)
    return torch.from_numpy(levels), color.gray_levels(16)


def network_size(height: int, width: int, render_size: int, multiple: int) -> tuple[int, int]:
    """Network input size: about render_size**2 pixels, the photo's aspect, sides a multiple of `multiple`.

    No side goes past 4 x render_size: a 1 x 100000 strip would otherwise ask for gigabytes
    of activations (the short side cannot go below `multiple`). Such photos are squeezed;
    their colour is stretched back to the full size anyway."""
    scale = render_size / math.sqrt(height * width)
    longest = max(multiple, 4 * render_size // multiple * multiple)
    return tuple(min(longest, max(multiple, round(side * scale / multiple) * multiple)) for side in (height, width))


def network_input(item: PreparedImage, size: tuple[int, int]) -> torch.Tensor:
    """Normalised L (1, h, w) of the photo resized to `size` (gamma-space resize, as the
    training photos were made)."""
    height, width = size
    small = item.source.resize((width, height), Image.BILINEAR, reducing_gap=2.0)
    levels, tables = luminance_levels(small, item.white)
    return color.normalize_l(tables.lightness(levels))[None]


class Colorizer:
    """A loaded generator. Thread-safe; batches on the GPU."""

    def __init__(self, generator: nn.Module, config: GeneratorConfig, device: str | torch.device = "auto",
                 info: dict | None = None):
        self.config = config
        self.device = pick_device(device)
        self.info = info or {}
        # channels_last suits oneDNN on the CPU as well as tensor cores.
        self.generator = generator.to(self.device).eval().to(memory_format=torch.channels_last)
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

    @property
    def takes_hints(self) -> bool:
        return bool(self.config.hints)

    def colorize(self, image: Image.Image, render_size: int = DEFAULT_RENDER_SIZE, seed: int | None = None,
                 intensity: float = 1.0, hints: Sequence | None = None) -> Image.Image:
        """A full-resolution colour version of `image` (RGB, or RGBA when it had alpha).

        `intensity` scales the predicted a/b before they are merged with the photo's own luminance:
        below 1 for quieter colours, above 1 for stronger ones; the luminance stays exact either way.
        `hints`: [(x, y, (r, g, b)), ...] in upright photo pixels and sRGB 0-255 (hint-capable models
        only; colorizer.hints.HintError, a ValueError, says what is wrong with unusable ones)."""
        return self.colorize_batch([image], render_size=render_size, seed=seed, intensity=intensity,
                                   hints=[hints])[0]

    def colorize_batch(self, images: Iterable[Image.Image], render_size: int = DEFAULT_RENDER_SIZE,
                       seed: int | None = None, batch_size: int | None = None,
                       intensity: float = 1.0, hints: Sequence[Sequence | None] | None = None) -> list[Image.Image]:
        """Colorize several photos; those sharing a network size run as one batch. `hints`: one list
        (or None) per photo."""
        if not MIN_RENDER_SIZE <= render_size <= MAX_RENDER_SIZE:
            raise ValueError(f"render size must be between {MIN_RENDER_SIZE} and {MAX_RENDER_SIZE}")
        if not MIN_INTENSITY <= intensity <= MAX_INTENSITY:
            raise ValueError(f"colour intensity must be between {MIN_INTENSITY} and {MAX_INTENSITY}")
        prepared = [prepare_image(image) for image in images]
        per_photo = list(hints) if hints is not None else [None] * len(prepared)
        if len(per_photo) != len(prepared):
            raise HintError("give one list of hints per photo")
        checked = [check_hints(h, tuple(item.levels.shape)) for h, item in zip(per_photo, prepared)]
        if any(checked) and not self.takes_hints:
            raise HintError("this model does not take colour hints")
        batch_size = batch_size or (64 if self.device.type == "cuda" else 4)
        groups: dict[tuple[int, int], list[int]] = {}
        for index, item in enumerate(prepared):
            size = network_size(*item.levels.shape, render_size, self.config.size_multiple)
            groups.setdefault(size, []).append(index)
        results: list[Image.Image | None] = [None] * len(prepared)
        for size, indices in groups.items():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start:start + batch_size]
                L = torch.stack([network_input(prepared[i], size) for i in chunk])  # (B, 1, h, w)
                hint_maps = None
                if any(checked[i] for i in chunk):
                    hint_maps = torch.stack([encode_hints(checked[i], tuple(prepared[i].levels.shape), size)
                                             for i in chunk])  # (B, 3, h, w)
                ab = self.predict_ab(L, seed=seed, hints=hint_maps)  # (B, 2, h, w) Lab units
                for row, i in enumerate(chunk):
                    results[i] = self._compose(prepared[i], ab[row] * intensity if intensity != 1.0 else ab[row])
        return results

    def predict_ab(self, L: torch.Tensor, seed: int | None = None, hints: torch.Tensor | None = None
                   ) -> torch.Tensor:
        """Normalised L (B, 1, h, w) and hints (B, 3, h, w) or None -> a/b in Lab units (B, 2, h, w),
        float32 on the CPU."""
        with self._lock, torch.inference_mode(), self._noise(seed), autocast(self.device):
            x = L.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            if hints is None:
                ab = self.generator(x)
            else:
                ab = self.generator(x, hints.to(self.device).contiguous(memory_format=torch.channels_last))
        return color.denormalize_ab(ab.float()).cpu()

    # ------------------------------------------------------------------------------

    @staticmethod
    def _compose(item: PreparedImage, ab: torch.Tensor) -> Image.Image:
        rgb = color.compose_srgb(item.levels, item.tables, ab)  # (H, W, 3) uint8
        result = Image.fromarray(rgb, "RGB")
        if item.alpha is not None:
            result.putalpha(item.alpha)
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
