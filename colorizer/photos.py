"""Which files are photos, and does a photo carry colour (numpy and Pillow only, no torch).

One definition for the engine (scanning training folders) and the web app (checking uploads):

    IMAGE_EXTENSIONS               the suffixes of the image files Hue reads
    colour_verdict(image)          "ok" (colour), "grayscale" or "monotone" (sepia, cyanotype)
    is_grayscale(image)            True when the photo carries no usable colour
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from colorizer.srgb import WHITE_D65, XYZ_TO_RGB, lab_f, srgb_to_linear

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# Thresholds measured on real scans and on 660 colour photos: gray scans stored as RGB reach
# chroma 7.5, toned prints a residual of 5.7; no colour photo went below 10 and 8.1.
GRAY_CHROMA = 8.0  # grayscale: 99% of pixels have a Lab chroma below this
MONOTONE_RESIDUAL = 7.0  # monotone: 99% of pixels are this close to the mean ab of their lightness
CHECK_SIZE = 96  # photos are judged on a thumbnail about this big


def is_grayscale(image: Image.Image) -> bool:
    """True when a photo carries no usable colour: a gray mode, gray pixels in a colour mode,
    or a monotone print (sepia, cyanotype: one hue throughout)."""
    return colour_verdict(image) != "ok"


def colour_verdict(image: Image.Image) -> str:
    """"ok", "grayscale" or "monotone" for a loaded image."""
    if image.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return "grayscale"
    thumb = image.convert("RGB")
    thumb.thumbnail((CHECK_SIZE, CHECK_SIZE))
    L, a, b = _lab_pixels(np.asarray(thumb))
    if np.quantile(np.hypot(a, b), 0.99) < GRAY_CHROMA:
        return "grayscale"
    # Monotone (sepia, cyanotype, a tinted gray): the colour is a function of the lightness
    # alone, so ab barely strays from the mean ab of pixels in the same lightness band.
    band = np.clip(L // 10, 0, 9).astype(np.int64)
    counts = np.maximum(np.bincount(band, minlength=10), 1)
    mean_a = np.bincount(band, weights=a, minlength=10) / counts
    mean_b = np.bincount(band, weights=b, minlength=10) / counts
    if np.quantile(np.hypot(a - mean_a[band], b - mean_b[band]), 0.99) < MONOTONE_RESIDUAL:
        return "monotone"
    return "ok"


_LINEAR_8BIT = srgb_to_linear(np.arange(256) / 255.0)
_RGB_TO_XYZ = np.linalg.inv(XYZ_TO_RGB) / np.array(WHITE_D65)[:, None]  # rows normalised by the white


def _lab_pixels(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 (H, W, 3) sRGB -> flat L, a, b (float64): a few thousand pixels, numpy is quickest."""
    xyz = _LINEAR_8BIT[rgb.reshape(-1, 3)] @ _RGB_TO_XYZ.T  # (N, 3), X/Xn, Y, Z/Zn
    fx, fy, fz = lab_f(xyz).T
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)
