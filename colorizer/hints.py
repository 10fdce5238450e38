"""User colour hints (Zhang et al., "Real-Time User-Guided Image Colorization with Learned Deep
Priors", SIGGRAPH 2017): sparse a/b patches and a mask beside L.

A hint tensor is (B, 3, H, W) at the network's size: normalised a, b (colorizer.color.normalize_ab)
where a patch is hinted and 0 elsewhere, and a mask channel, 1 on hinted pixels. All zeros means
no hints, which a hint-capable generator treats exactly as the generator it started from.

    hints = sample_hints(real_ab, rng)                  # training: the paper's simulated hints
    hints = encode_hints([(x, y, (r, g, b))], (H, W), (h, w))   # inference: a user's clicks
    state = with_hint_inputs(state, hint_config)        # an existing generator's weights, hint inputs zero
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from colorizer import color
from colorizer.hint_rules import MAX_HINTS, Hint, HintError, check_hints  # noqa: F401 (the engine's names)

HINT_CHANNELS = 3  # a, b, mask
USER_PATCH = 3  # side, in network pixels, of the patch one user hint fills (the paper's training: 1-9)

@dataclass
class HintSampling:
    """How training simulates a user's hints (the paper's section 3.3)."""

    stop_probability: float = 0.125  # hints per photo ~ Geometric(p) on 0, 1, 2...: P(none) = p, mean (1 - p) / p
    max_hints: int = MAX_HINTS  # the count is capped here, as at inference
    min_patch: int = 1  # smallest side of a hinted patch, in pixels
    max_patch: int = 9  # largest side; each patch carries the mean a/b of the true photo under it


def sample_hints(real_ab: torch.Tensor, generator: torch.Generator, sampling: HintSampling | None = None
                 ) -> torch.Tensor:
    """Simulated hints for a training batch: real ab (B, 2, H, W) normalised -> hints (B, 3, H, W)."""
    sampling = sampling or HintSampling()
    B, _, H, W = real_ab.shape
    hints = torch.zeros(B, HINT_CHANNELS, H, W, dtype=real_ab.dtype, device=real_ab.device)
    uniform = torch.rand(B, generator=generator)  # (B,) one draw per photo gives its geometric count
    counts = torch.floor(torch.log1p(-uniform) / math.log1p(-sampling.stop_probability)).long()
    for row, count in enumerate(counts.clamp(max=sampling.max_hints).tolist()):
        for _ in range(count):
            side = int(torch.randint(sampling.min_patch, sampling.max_patch + 1, (1,), generator=generator))
            side = min(side, H, W)
            top = int(torch.randint(0, H - side + 1, (1,), generator=generator))
            left = int(torch.randint(0, W - side + 1, (1,), generator=generator))
            patch = (slice(top, top + side), slice(left, left + side))
            hints[row, :2, patch[0], patch[1]] = real_ab[row, :, patch[0], patch[1]].mean(dim=(1, 2))[:, None, None]
            hints[row, 2, patch[0], patch[1]] = 1.0
    return hints


def encode_hints(hints: Sequence[Hint], photo_size: tuple[int, int], network_size: tuple[int, int]) -> torch.Tensor:
    """Checked user hints on a photo of photo_size (H, W) -> the hint tensor (3, h, w) at network_size.
    A hint fills a USER_PATCH square around where its point lands; a later hint wins where two overlap."""
    height, width = photo_size
    h, w = network_size
    encoded = torch.zeros(HINT_CHANNELS, h, w)
    if not hints:
        return encoded
    rgb = torch.tensor([list(c) for _, _, c in hints], dtype=torch.float32) / 255  # (N, 3)
    ab = color.normalize_ab(color.rgb_to_lab(rgb[:, :, None, None])[:, 1:, 0, 0])  # (N, 2)
    for (x, y, _), colour in zip(hints, ab):
        column, row = min(w - 1, int(x * w / width)), min(h - 1, int(y * h / height))
        top, left = max(0, row - USER_PATCH // 2), max(0, column - USER_PATCH // 2)
        rows, columns = slice(top, row + USER_PATCH // 2 + 1), slice(left, column + USER_PATCH // 2 + 1)
        encoded[:2, rows, columns] = colour[:, None, None]
        encoded[2, rows, columns] = 1.0
    return encoded


def truth_hints(real_ab: torch.Tensor, count: int, generator: torch.Generator, side: int = 5) -> torch.Tensor:
    """The paper's evaluation hints: `count` side x side patches at seeded random places, each with the
    true mean a/b under it. real ab (B, 2, H, W) normalised -> hints (B, 3, H, W)."""
    B, _, H, W = real_ab.shape
    side = min(side, H, W)
    hints = torch.zeros(B, HINT_CHANNELS, H, W, dtype=real_ab.dtype)
    for row in range(B):
        for _ in range(count):
            top = int(torch.randint(0, H - side + 1, (1,), generator=generator))
            left = int(torch.randint(0, W - side + 1, (1,), generator=generator))
            rows, columns = slice(top, top + side), slice(left, left + side)
            hints[row, :2, rows, columns] = real_ab[row, :, rows, columns].mean(dim=(1, 2))[:, None, None]
            hints[row, 2, rows, columns] = 1.0
    return hints


def with_hint_inputs(state: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    """The weights of a generator without hint inputs, made into those of `config`'s hint-capable one:
    every new input starts at zero, so with no hints it computes exactly what the given one did.
    Tensors of the same shape are copied; a first layer that gained input channels keeps its own in
    the leading ones (the U-Net concatenates the hints after L); new tensors (the pretrained encoder's
    hint convolution) are zeros."""
    from colorizer.model import build_generator

    if not config.hints:
        raise ValueError("with_hint_inputs needs a hint-capable config")
    with torch.device("meta"):
        target = build_generator(config, load_pretrained=False).state_dict()
    result = {}
    for name, meta in target.items():
        old = state.get(name)
        if old is not None and old.shape == meta.shape:
            result[name] = old
        elif old is not None and old.dim() == meta.dim() and old.shape[0] == meta.shape[0] and old.dim() > 1 \
                and old.shape[2:] == meta.shape[2:] and old.shape[1] < meta.shape[1]:
            grown = torch.zeros(meta.shape, dtype=old.dtype)
            grown[:, :old.shape[1]] = old
            result[name] = grown
        elif old is None:  # the pretrained encoder's hint convolution
            result[name] = torch.zeros(meta.shape, dtype=meta.dtype)
        else:
            raise ValueError(f"{name}: weights of shape {tuple(old.shape)} do not fit {tuple(meta.shape)}")
    return result
