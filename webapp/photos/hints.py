"""Colour hints on the web side: what a browser or an API client may send, checked before anything is
queued, stored with the colorization as [{"x": 12.5, "y": 40, "color": "#c81e28"}, ...] (x, y in the
upright photo's pixels), and handed to the engine (colorizer.hints) by the inference worker.
The rules themselves (how many, where, which colours) are the engine's: colorizer.hint_rules."""

from __future__ import annotations

import json
import re

from colorizer.hint_rules import MAX_HINTS, HintError, check_count, check_hints, is_finite_number

MAX_JSON_CHARS = MAX_HINTS * 80  # a full list of hints fits in this many characters of JSON
COLOR = re.compile(r"#[0-9a-fA-F]{6}")

InvalidHints = HintError  # a ValueError whose message says what to fix


def parse_hints(value, width: int, height: int) -> list[dict]:
    """Hints from a form (JSON text) or an API request (a list), checked against the photo's upright size."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        if len(value) > MAX_JSON_CHARS:
            check_count(MAX_HINTS + 1)
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InvalidHints("The colour hints are not readable (expected a JSON list).") from None
    if not isinstance(value, list):
        raise InvalidHints("The colour hints must be a list of {x, y, color}.")
    check_count(len(value))
    for number, hint in enumerate(value, start=1):
        if not isinstance(hint, dict) or set(hint) != {"x", "y", "color"}:
            raise InvalidHints(f"Colour hint {number} must have exactly x, y and color.")
        if not isinstance(hint["color"], str) or not COLOR.fullmatch(hint["color"]):
            raise InvalidHints(f"Colour hint {number}: color must look like #c81e28.")
        if not all(is_finite_number(hint[axis]) for axis in ("x", "y")):
            raise InvalidHints(f"Colour hint {number}: x and y must be numbers.")
    checked = check_hints([(h["x"], h["y"], _rgb(h["color"])) for h in value], (height, width))
    return [{"x": round(x, 1), "y": round(y, 1), "color": "#%02x%02x%02x" % rgb} for x, y, rgb in checked]


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def engine_hints(stored: list[dict]) -> list[tuple[float, float, tuple[int, int, int]]]:
    """Stored hints as colorizer.inference.Colorizer.colorize takes them."""
    return [(h["x"], h["y"], _rgb(h["color"])) for h in stored]


def takes_hints(version) -> bool:
    """Whether a model version's generator takes colour hints (the registry keeps each file's config)."""
    return version is not None and bool((version.config or {}).get("hints"))
