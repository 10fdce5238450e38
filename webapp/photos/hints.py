"""Colour hints on the web side: what a browser or an API client may send, checked before anything is
queued, stored with the colorization as [{"x": 12.5, "y": 40, "color": "#c81e28"}, ...] (x, y in the
upright photo's pixels), and handed to the engine (colorizer.hints) by the inference worker."""

from __future__ import annotations

import json
import math
import re

MAX_HINTS = 64  # colorizer.hints.MAX_HINTS (not imported: the web process never loads torch)
MAX_JSON_CHARS = 64 * 80  # a full list of hints fits in this many characters of JSON
COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class InvalidHints(ValueError):
    """A hint list that cannot be used; the message says what to fix."""


def parse_hints(value, width: int, height: int) -> list[dict]:
    """Hints from a form (JSON text) or an API request (a list), checked against the photo's upright size."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        if len(value) > MAX_JSON_CHARS:
            raise InvalidHints(f"Too many colour hints: at most {MAX_HINTS}.")
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InvalidHints("The colour hints are not readable (expected a JSON list).") from None
    if not isinstance(value, list):
        raise InvalidHints("The colour hints must be a list of {x, y, color}.")
    if len(value) > MAX_HINTS:
        raise InvalidHints(f"Too many colour hints: at most {MAX_HINTS}.")
    hints = []
    for number, hint in enumerate(value, start=1):
        if not isinstance(hint, dict) or set(hint) != {"x", "y", "color"}:
            raise InvalidHints(f"Colour hint {number} must have exactly x, y and color.")
        x, y, colour = hint["x"], hint["y"], hint["color"]
        if not all(_finite_number(v) for v in (x, y)):
            raise InvalidHints(f"Colour hint {number}: x and y must be numbers.")
        if not (0 <= x < width and 0 <= y < height):
            raise InvalidHints(f"Colour hint {number} at ({x:g}, {y:g}) is outside the {width} × {height} photo.")
        if not isinstance(colour, str) or not COLOR.fullmatch(colour):
            raise InvalidHints(f"Colour hint {number}: color must look like #c81e28.")
        hints.append({"x": round(float(x), 1), "y": round(float(y), 1), "color": colour.lower()})
    return hints


def _finite_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def engine_hints(stored: list[dict]) -> list[tuple[float, float, tuple[int, int, int]]]:
    """Stored hints as colorizer.inference.Colorizer.colorize takes them."""
    return [(h["x"], h["y"], tuple(int(h["color"][i:i + 2], 16) for i in (1, 3, 5))) for h in stored]


def takes_hints(version) -> bool:
    """Whether a model version's generator takes colour hints (the registry keeps each file's config)."""
    return version is not None and bool((version.config or {}).get("hints"))
