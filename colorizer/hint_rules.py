"""What a usable list of colour hints is, in one place for the engine and the web app (which never
loads torch, so nothing here does): at most MAX_HINTS points inside the upright photo, each with a
colour of three whole numbers 0-255.

    hints = check_hints([(12.5, 40, (200, 30, 40))], size=(480, 640))   # HintError says what is wrong
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

MAX_HINTS = 64  # the most hints one colorization takes

Hint = tuple[float, float, tuple[int, int, int]]  # (x, y, (r, g, b)): upright photo pixels, sRGB 0-255


class HintError(ValueError):
    """Hints that cannot be used: malformed, out of the photo, too many, or for a model without hint inputs."""


def check_count(count: int) -> None:
    if count > MAX_HINTS:
        raise HintError(f"Too many colour hints: at most {MAX_HINTS} ({count} given).")


def is_finite_number(value) -> bool:
    """A real number (not a bool, not text) that is neither infinite nor NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def check_hints(hints: Sequence | None, size: tuple[int, int]) -> list[Hint]:
    """Hints as clean (x, y, (r, g, b)) tuples, checked against the upright photo's size (H, W)."""
    if hints is None:
        return []
    if isinstance(hints, (str, bytes)) or not isinstance(hints, Sequence):
        raise HintError("Colour hints must be a list of (x, y, (r, g, b)).")
    check_count(len(hints))
    height, width = size
    clean = []
    for number, hint in enumerate(hints, start=1):
        try:
            x, y, rgb = hint
            r, g, b = rgb
        except (TypeError, ValueError):
            raise HintError(f"Colour hint {number} is not (x, y, (r, g, b)).") from None
        if not (is_finite_number(x) and is_finite_number(y)):
            raise HintError(f"Colour hint {number}: x and y must be numbers.")
        x, y = float(x), float(y)
        if not (0 <= x < width and 0 <= y < height):
            raise HintError(f"Colour hint {number} at ({x:g}, {y:g}) is outside the {width} × {height} photo.")
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v <= 255 for v in (r, g, b)):
            raise HintError(f"Colour hint {number}: its colour must be three whole numbers from 0 to 255.")
        clean.append((x, y, (int(r), int(g), int(b))))
    return clean
