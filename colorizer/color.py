"""sRGB <-> CIE Lab (D65) and the network's normalisation of each channel.

The tensor conversions are kornia's. The network sees L/50 - 1 and predicts ab/110, both
in [-1, 1]. `merge_luminance_ab` is the full-resolution path of inference: it keeps the
original photo's luminance exactly and adds upsampled colour, with lookup tables for the
per-pixel non-linearities because at 12 megapixels float maths dominates the run time.
"""

from __future__ import annotations

import numpy as np
import torch
from kornia.color import lab_to_rgb as _kornia_lab_to_rgb
from kornia.color import rgb_to_lab as _kornia_rgb_to_lab

AB_SCALE = 110.0  # |a|, |b| of sRGB colours stay below ~110 after clamping
WHITE_D65 = (0.95047, 1.0, 1.08883)
# XYZ (D65) -> linear sRGB.
XYZ_TO_RGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314],
     [-0.9692660, 1.8760108, 0.0415560],
     [0.0556434, -0.2040259, 1.0572252]],
    dtype=np.float32,
)
RGB_TO_Y = np.array([0.2126729, 0.7151522, 0.0721750], dtype=np.float32)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(*, 3, H, W) sRGB in [0, 1] -> (*, 3, H, W) Lab, L in [0, 100]."""
    return _kornia_rgb_to_lab(rgb)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """(*, 3, H, W) Lab -> sRGB in [0, 1] (clipped unless clip=False)."""
    return _kornia_lab_to_rgb(lab, clip=clip)


def normalize_l(L: torch.Tensor) -> torch.Tensor:
    return L / 50.0 - 1.0


def denormalize_l(L: torch.Tensor) -> torch.Tensor:
    return (L + 1.0) * 50.0


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab / AB_SCALE


def denormalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab * AB_SCALE


def rgb_to_model_pair(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB (B, 3, H, W) in [0, 1] -> network input L (B, 1, H, W) and target ab (B, 2, H, W)."""
    lab = rgb_to_lab(rgb.float())
    return normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:]).clamp(-1, 1)


def model_pair_to_rgb(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Normalised L (B, 1, H, W) and ab (B, 2, H, W) -> sRGB (B, 3, H, W) in [0, 1]."""
    lab = torch.cat([denormalize_l(L.float()), denormalize_ab(ab.float())], dim=1)
    return lab_to_rgb(lab)


# --------------------------------------------------------------------------------------
# Full-resolution merge with lookup tables (numpy, float32).


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    values = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def lab_f(t: np.ndarray) -> np.ndarray:
    delta = 6 / 29
    return np.where(t > delta**3, np.cbrt(t), t / (3 * delta**2) + 4 / 29)


def y_to_lightness(y: np.ndarray) -> np.ndarray:
    """Relative luminance Y in [0, 1] -> CIE L* in [0, 100]."""
    return 116.0 * lab_f(np.asarray(y, dtype=np.float64)) - 16.0


_ENCODE_STEPS = 16384
# linear [0, 1] (quantised to 1/16383) -> 8-bit sRGB; error below half a level.
_ENCODE_LUT = np.round(linear_to_srgb(np.linspace(0.0, 1.0, _ENCODE_STEPS)) * 255.0).astype(np.uint8)


def luminance_tables(levels: int) -> tuple[np.ndarray, np.ndarray]:
    """For gray levels 0..levels-1 read as sRGB gray: (linear Y, CIE L*) per level."""
    y = srgb_to_linear(np.arange(levels) / (levels - 1))
    return y.astype(np.float32), y_to_lightness(y).astype(np.float32)


_Y8, _L8 = luminance_tables(256)


def gray_to_lightness(gray: np.ndarray) -> np.ndarray:
    """uint8 (H, W) gray -> float32 L* (H, W)."""
    return _L8[gray]


def merge_luminance_ab(Y: np.ndarray, ab: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Linear luminance Y (H, W) and Lab ab (2, H, W) -> uint8 sRGB (H, W, 3).

    The luminance of the result equals Y: colours outside the sRGB gamut are pulled
    towards the gray of the same luminance (in linear RGB, which keeps Y exact) instead of
    being clipped per channel, which would shift their lightness.
    """
    Y = np.asarray(Y, dtype=np.float32)
    fy = lab_f(Y).astype(np.float32)
    a, b = ab[0].astype(np.float32, copy=False), ab[1].astype(np.float32, copy=False)
    fx = fy + a / 500.0
    fz = fy - b / 200.0
    X = _lab_f_inverse(fx) * WHITE_D65[0]
    Z = _lab_f_inverse(fz) * WHITE_D65[2]
    rgb = np.empty((3,) + Y.shape, dtype=np.float32)
    for channel in range(3):
        m = XYZ_TO_RGB[channel]
        rgb[channel] = m[0] * X + m[1] * Y + m[2] * Z
    # Largest t in [0, 1] with Y + t * (rgb - Y) inside [0, 1] for every channel.
    high = rgb.max(axis=0)
    low = rgb.min(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_high = np.where(high > 1.0, (1.0 - Y) / (high - Y), 1.0)
        t_low = np.where(low < 0.0, Y / (Y - low), 1.0)
    t = np.clip(np.minimum(t_high, t_low), 0.0, 1.0)
    rgb -= Y
    rgb *= t
    rgb += Y
    index = np.clip(rgb * (_ENCODE_STEPS - 1) + 0.5, 0, _ENCODE_STEPS - 1).astype(np.int32)
    if out is None:
        out = np.empty(Y.shape + (3,), dtype=np.uint8)
    for channel in range(3):
        out[..., channel] = _ENCODE_LUT[index[channel]]
    return out


def _lab_f_inverse(t: np.ndarray) -> np.ndarray:
    delta = 6 / 29
    return np.where(t > delta, t * t * t, 3 * delta**2 * (t - 4 / 29)).astype(np.float32)


def lightness_to_y(L: np.ndarray) -> np.ndarray:
    return _lab_f_inverse((np.asarray(L, dtype=np.float32) + 16.0) / 116.0)
