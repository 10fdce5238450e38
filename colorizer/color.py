"""sRGB <-> CIE Lab (D65) and the network's normalisation of each channel.

The tensor conversions are kornia's. The network sees L/50 - 1 and predicts ab/110, both
in [-1, 1].

`compose_srgb` is the full-resolution path of inference: it keeps the original photo's
luminance exactly and adds upsampled colour. At 12 megapixels the per-pixel maths is the
whole cost, so the photo's luminance travels as integer levels with per-level tables
(an 8-bit gray has only 256 possible L* values), and the maths runs in torch over row
chunks with preallocated buffers, ending in a lookup table for the sRGB encoding.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import lab_to_rgb as _kornia_lab_to_rgb
from kornia.color import rgb_to_lab as _kornia_rgb_to_lab

from colorizer.srgb import (  # noqa: F401 (the numpy formulas, importable from here too)
    _DELTA, RGB_TO_Y, WHITE_D65, XYZ_TO_RGB, lab_f, lightness_to_y, linear_to_srgb, srgb_to_linear, y_to_lightness)

AB_SCALE = 110.0  # |a|, |b| of sRGB colours stay below ~110 after clamping
_CHUNK_PIXELS = 1 << 18  # per-pixel maths runs over row chunks this big: amortises per-op overhead


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
# Luminance as integer levels.


@dataclass(frozen=True)
class LevelTables:
    """What one integer luminance level means: its linear Y and its CIE f(Y) = (L* + 16) / 116."""

    Y: torch.Tensor  # (levels,) float32
    f: torch.Tensor  # (levels,) float32
    Y_step: float = 0.0  # when Y is simply level * Y_step (linear levels), which beats a lookup

    def lightness(self, levels: torch.Tensor) -> torch.Tensor:
        """Integer levels (any shape) -> CIE L* in [0, 100], float32."""
        return self.f[levels.long()] * 116.0 - 16.0


def _tables(Y: np.ndarray) -> LevelTables:
    return LevelTables(Y=torch.from_numpy(Y.astype(np.float32)), f=torch.from_numpy(lab_f(Y).astype(np.float32)))


@functools.cache
def gray_levels(bits: int) -> LevelTables:
    """Levels of an sRGB-encoded gray with `bits` bits (8: mode "L"; 16: mode "I;16")."""
    return _tables(srgb_to_linear(np.arange(2**bits) / (2**bits - 1)))


@functools.cache
def linear_levels() -> LevelTables:
    """Linear luminance quantised to 16 bits: the levels of a colour photo's luminance.
    One level is at most 0.014 L* (at black)."""
    tables = _tables(np.arange(65536) / 65535.0)
    return LevelTables(Y=tables.Y, f=tables.f, Y_step=1 / 65535.0)


_Y16_OF_8BIT = torch.from_numpy(  # (3, 256): each channel's share of Y, in 16-bit linear levels
    np.stack([srgb_to_linear(np.arange(256) / 255.0) * w * 65535.0 for w in RGB_TO_Y]).astype(np.float32))


def rgb8_to_linear_levels(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> torch.Tensor:
    """uint8 sRGB planes (H, W) -> (H, W) int32 levels of `linear_levels()` (the photo's luminance)."""
    height, width = red.shape
    planes = [torch.as_tensor(np.ascontiguousarray(plane)).view(-1) for plane in (red, green, blue)]
    levels = torch.empty((height, width), dtype=torch.int32)
    flat = levels.view(-1)
    chunk = max(1, _CHUNK_PIXELS // width) * width
    index = torch.empty(chunk, dtype=torch.int32)
    share = torch.empty(chunk)
    total = torch.empty(chunk)
    for start in range(0, height * width, chunk):
        n = min(chunk, height * width - start)
        for k, plane in enumerate(planes):
            index[:n].copy_(plane[start:start + n])
            torch.index_select(_Y16_OF_8BIT[k], 0, index[:n], out=total[:n] if k == 0 else share[:n])
            if k:
                total[:n].add_(share[:n])
        flat[start:start + n].copy_(total[:n].add_(0.5))  # rounds: the sum is >= 0
    return levels


# --------------------------------------------------------------------------------------
# Full-resolution composition: the photo's own luminance plus upsampled colour.

_ENCODE_STEPS = 16384
# linear [0, 1] (quantised to 1/16383) -> 8-bit sRGB; error below half a level.
_ENCODE_LUT = torch.from_numpy(
    np.round(linear_to_srgb(np.linspace(0.0, 1.0, _ENCODE_STEPS)) * 255.0).astype(np.uint8))
# Columns of XYZ -> linear RGB that act on X and Z, with the white point folded in. Since
# white maps to (1, 1, 1), rgb - Y = MX * (X/Xn - Y) + MZ * (Z/Zn - Y), exactly.
_MX = (XYZ_TO_RGB[:, 0] * WHITE_D65[0]).tolist()
_MZ = (XYZ_TO_RGB[:, 2] * WHITE_D65[2]).tolist()


def compose_srgb(levels: torch.Tensor, tables: LevelTables, ab: torch.Tensor) -> np.ndarray:
    """Luminance levels (H, W) and colour ab (2, h, w) in Lab units -> uint8 sRGB (H, W, 3).

    `ab` is usually the network's low-resolution prediction: it is upsampled bilinearly
    (pixel centres aligned, as F.interpolate with align_corners=False) on the fly.

    The luminance of the result equals the levels' luminance: colours outside the sRGB
    gamut are pulled towards the gray of the same luminance (in linear RGB, which keeps Y
    exact) instead of being clipped per channel, which would shift their lightness.
    """
    height, width = levels.shape
    small_h = ab.shape[1]
    ab = torch.nan_to_num(ab.detach().float().cpu()).clamp_(-AB_SCALE * 1.2, AB_SCALE * 1.2)
    # Horizontal upsampling at the low height is cheap; rows are interpolated per chunk.
    ab_rows = F.interpolate(ab[None], size=(small_h, width), mode="bilinear", align_corners=False)[0]
    ab_rows[0] *= 1 / 500  # f(X/Xn) = f(Y) + a/500
    ab_rows[1] *= -1 / 200  # f(Z/Zn) = f(Y) - b/200
    first, second, weight = _interpolation_rows(height, small_h)

    out = torch.empty((height, width, 3), dtype=torch.uint8)
    rows = max(1, min(height, 512, _CHUNK_PIXELS // width))  # 512: keeps `mix` small for tall photos
    scratch = torch.empty(9, rows * width)
    index = torch.empty(rows * width, 3, dtype=torch.int32)
    codes = torch.empty(rows * width, dtype=torch.int32)
    flat_levels = levels.reshape(-1)
    flat_out = out.view(-1)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        n = (bottom - top) * width
        Y, fy, fx, fz, tc, hi, lo, r, tmp = (buffer[:n] for buffer in scratch)
        code = codes[:n].copy_(flat_levels[top * width:bottom * width])  # index_select wants int32/int64
        if tables.Y_step:
            torch.mul(code, tables.Y_step, out=Y)
        else:
            torch.index_select(tables.Y, 0, code, out=Y)
        torch.index_select(tables.f, 0, code, out=fy)
        # Vertical interpolation of the few low-res rows this chunk spans, as one small matmul.
        lo_row, hi_row = int(first[top]), int(second[bottom - 1])
        mix = torch.zeros(bottom - top, hi_row - lo_row + 1)
        span = torch.arange(bottom - top)
        mix[span, first[top:bottom] - lo_row] += 1 - weight[top:bottom]
        mix[span, second[top:bottom] - lo_row] += weight[top:bottom]
        torch.mm(mix, ab_rows[0, lo_row:hi_row + 1], out=fx.view(bottom - top, width))
        torch.mm(mix, ab_rows[1, lo_row:hi_row + 1], out=fz.view(bottom - top, width))
        fx.add_(fy)
        fz.add_(fy)
        _lab_rows_to_srgb8(Y, fx, fz, (tc, hi, lo, r, tmp), index[:n], flat_out[top * width * 3:bottom * width * 3])
    return out.numpy()


def _interpolation_rows(size: int, small: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each of `size` output rows: the two source rows of `small` and the second's weight."""
    source = ((torch.arange(size, dtype=torch.float64) + 0.5) * (small / size) - 0.5).clamp(min=0)
    first = source.floor().long().clamp(max=small - 1)
    second = (first + 1).clamp(max=small - 1)
    return first, second, (source - first).float()


def _lab_rows_to_srgb8(Y: torch.Tensor, fx: torch.Tensor, fz: torch.Tensor, scratch, index: torch.Tensor,
                       out: torch.Tensor) -> None:
    """Flat Y, f(X/Xn), f(Z/Zn) (n,) -> interleaved uint8 sRGB (3n,) in `out`. Clobbers its inputs."""
    tc, hi, lo, r, tmp = scratch
    for t in (fx, fz):  # t <- f^-1(t) - Y: the cube above the knee, its tangent below it
        torch.clamp_min(t, _DELTA, out=tc)
        t.sub_(tc).mul_(3 * _DELTA**2)
        torch.mul(tc, tc, out=tmp)
        t.addcmul_(tmp, tc).sub_(Y)
    dX, dZ = fx, fz
    channels = (r, tmp, tc)  # rgb - Y, per channel
    for k, channel in enumerate(channels):
        torch.mul(dX, _MX[k], out=channel).add_(dZ, alpha=_MZ[k])
    torch.maximum(torch.maximum(channels[0], channels[1], out=hi), channels[2], out=hi)
    torch.minimum(torch.minimum(channels[0], channels[1], out=lo), channels[2], out=lo)
    # Shrink rgb - Y by s >= 1 so that Y + (rgb - Y) / s stays in [0, 1] in every channel;
    # the epsilon keeps black and white finite (they end up gray, as they must).
    torch.neg(Y, out=dX).add_(1 + 1e-7)
    hi.div_(dX)  # how far above 1 the brightest channel would go, relative to the room left
    torch.neg(Y, out=dX).sub_(1e-7)
    lo.div_(dX)  # same below 0
    torch.maximum(hi, lo, out=hi).clamp_min_(1.0)
    scale = torch.reciprocal(hi, out=dZ).mul_(_ENCODE_STEPS - 1)
    Y.mul_(_ENCODE_STEPS - 1).add_(0.5)
    for k, channel in enumerate(channels):
        torch.addcmul(Y, channel, scale, out=lo)  # in [0.5, steps - 0.5]: truncation rounds
        index[:, k].copy_(lo)
    torch.index_select(_ENCODE_LUT, 0, index.view(-1), out=out)

