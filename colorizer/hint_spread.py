"""Spreading sparse colour hints over their regions, for the pretrained-encoder U-Net.

A hint fed only into the encoder must be carried across its object by layers that were trained
without hints, and a fine-tune on a CPU budget measurably did not get there (10 hints moved val
PSNR by 0.03 dB after an epoch). So a hint-capable network also gets the hints already spread:
normalised convolution (a Gaussian-weighted average of the hinted a/b, and how much hint weight
lies near each pixel) at a small and a large scale, and a learned, zero-initialised gate over the
decoder's last features that decides, pixel by pixel, how far to move its own colour toward them:

    ab = ab + sum_s gate_s(features) * confidence_s * (spread_s - ab)

The gate sees the decoder's features, so it can stop at an object's edge; with no hints every
confidence is 0 and the network computes exactly what it did without them.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

SCALES = (1 / 32, 1 / 8)  # Gaussian sigmas as fractions of the photo's shorter side: an object part, a region
POOL = 4  # the spreading runs at 1/POOL resolution (a hint's colour is constant over its patch anyway)
GATE_GAIN = 20.0  # the gate starts at zero; as with pretrained_unet.HINT_GAIN, Adam needs this to wake it


def spread_hints(hints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """hints (B, 3, H, W) -> spread a/b (B, 2S, H, W) and confidence (B, S, H, W), one pair per scale.
    Confidence is 1/2 where the hint weight is that of one hinted pixel two sigmas away."""
    B, _, H, W = hints.shape
    mask = hints[:, 2:3]
    pooled = F.avg_pool2d(torch.cat([hints[:, :2] * mask, mask], dim=1), POOL, ceil_mode=True)  # (B, 3, h, w)
    spreads, confidences = [], []
    for fraction in SCALES:
        sigma = max(0.5, fraction * min(H, W) / POOL)  # in pooled pixels
        blurred = gaussian_blur(pooled, sigma)  # (B, 3, h, w)
        weight = blurred[:, 2:3]
        one_pixel_two_sigmas = math.exp(-2) / (2 * math.pi * sigma ** 2 * POOL ** 2)
        spreads.append(blurred[:, :2] / weight.clamp_min(1e-12))
        confidences.append(weight / (weight + one_pixel_two_sigmas))
    spread = F.interpolate(torch.cat(spreads, 1), size=(H, W), mode="bilinear", align_corners=False)
    confidence = F.interpolate(torch.cat(confidences, 1), size=(H, W), mode="bilinear", align_corners=False)
    return spread, confidence


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable, normalised Gaussian blur with zero padding (x: (B, C, h, w))."""
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-taps ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), padding=(0, radius), groups=channels)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), padding=(radius, 0), groups=channels)


class HintBlend(nn.Module):
    """The learned gate: decoder features (B, C, h, w) -> how far each pixel moves toward each spread."""

    def __init__(self, feature_channels: int):
        super().__init__()
        self.gate = nn.Conv2d(feature_channels, len(SCALES), 3, padding=1)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)

    def forward(self, ab: torch.Tensor, features: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
        """Normalised ab (B, 2, H, W), the features it came from, hints (B, 3, H, W) -> ab (B, 2, H, W)."""
        spread, confidence = spread_hints(hints.float())  # (B, 2S, H, W), (B, S, H, W)
        gate = GATE_GAIN * self.gate(features)  # (B, S, h, w)
        if gate.shape[-2:] != ab.shape[-2:]:  # the bins head decodes at half resolution
            gate = F.interpolate(gate, size=ab.shape[-2:], mode="bilinear", align_corners=False)
        moved = ab.float()
        for scale in range(len(SCALES)):
            pull = gate[:, scale:scale + 1].float() * confidence[:, scale:scale + 1]  # (B, 1, H, W)
            moved = moved + pull * (spread[:, 2 * scale:2 * scale + 2] - ab.float())
        return moved.clamp(-1, 1).to(ab.dtype)
