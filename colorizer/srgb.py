"""sRGB and CIE Lab (D65) on numpy arrays, float64: the constants and the scalar curves.

No torch here: colorizer.color builds its tensor tables from these, and colorizer.photos
judges a photo's colour with them in processes that never load a network (the web app).
"""

from __future__ import annotations

import numpy as np

WHITE_D65 = (0.95047, 1.0, 1.08883)
# XYZ (D65) -> linear sRGB.
XYZ_TO_RGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314],
     [-0.9692660, 1.8760108, 0.0415560],
     [0.0556434, -0.2040259, 1.0572252]],
    dtype=np.float64,
)
RGB_TO_Y = np.array([0.2126729, 0.7151522, 0.0721750], dtype=np.float64)  # linear sRGB -> Y
_DELTA = 6 / 29  # the knee of CIE f(t)


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    values = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


def lab_f(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    return np.where(t > _DELTA**3, np.cbrt(t), t / (3 * _DELTA**2) + 4 / 29)


def y_to_lightness(y: np.ndarray) -> np.ndarray:
    """Relative luminance Y in [0, 1] -> CIE L* in [0, 100]."""
    return 116.0 * lab_f(y) - 16.0


def lightness_to_y(L: np.ndarray) -> np.ndarray:
    """CIE L* -> relative luminance Y."""
    f = (np.asarray(L, dtype=np.float64) + 16.0) / 116.0
    return np.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4 / 29))
