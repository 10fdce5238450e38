"""A before/after sheet for the model card: each real B&W photo beside its colorization (or beside
the colorizations of several models, in the order given, to compare candidates side by side).

    make_sheet("colorizer/weights/default.safetensors", "bw_samples", "docs/bw_samples_sheet.png")
    make_sheet(["candidate_a.safetensors", "candidate_b.safetensors"], "bw_samples", "docs/candidates.png")

Pairs are laid out in a grid, each photo scaled to `height` pixels (aspect kept). The PNG is
shrunk step by step until it fits `max_bytes`.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

GUTTER = 6  # pixels between the two photos of a pair
MARGIN = 16  # pixels between pairs and around the sheet
SHRINK = 0.85  # each retry scales the photos by this much
MAX_ASPECT = 1.6  # a photo wider than this many times its height is cropped to it (panoramas)


def make_sheet(weights: str | Path | list, samples: str | Path, out: str | Path, height: int = 200,
               columns: int = 3, max_bytes: int = 1_500_000, device: str = "auto") -> str:
    """Colorize every image of `samples` with `weights` (one generator file or several) and write the
    sheet to `out`; returns a one-line report."""
    from colorizer.data import list_image_files
    from colorizer.inference import Colorizer

    files, _ = list_image_files(samples)
    if not files:
        raise ValueError(f"no images in {samples}")
    colorizers = [Colorizer.load(w, device=device) for w in (weights if isinstance(weights, list) else [weights])]
    pairs = []
    for path in files:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail((4 * height * 2, 4 * height))  # the sheet never shows more: colorize a copy this big
            before = image.convert("RGB")
            afters = [colorizer.colorize(image).convert("RGB") for colorizer in colorizers]
        pairs.append((before, *afters))
    for attempt in range(12):
        size = max(48, round(height * SHRINK**attempt))
        data = render(pairs, size, columns)
        if len(data) <= max_bytes or size == 48:
            break
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return f"{out}: {len(pairs)} photos, {size} px high, {len(data) / 1e6:.2f} MB"


def render(pairs: list[tuple[Image.Image, ...]], height: int, columns: int) -> bytes:
    """The sheet as PNG bytes, photos `height` pixels high; each cell is one photo and its versions."""
    cells = []
    for images in pairs:
        scaled = [fit_height(image, height) for image in images]
        cell = Image.new("RGB", (sum(i.width for i in scaled) + GUTTER * (len(scaled) - 1), height), "white")
        x = 0
        for image in scaled:
            cell.paste(image, (x, 0))
            x += image.width + GUTTER
        cells.append(cell)
    columns = max(1, min(columns, len(cells)))
    rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    width = max(sum(c.width for c in row) + MARGIN * (len(row) + 1) for row in rows)
    sheet = Image.new("RGB", (width, len(rows) * (height + MARGIN) + MARGIN), "white")
    for r, row in enumerate(rows):
        x = MARGIN
        for cell in row:
            sheet.paste(cell, (x, MARGIN + r * (height + MARGIN)))
            x += cell.width + MARGIN
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def fit_height(image: Image.Image, height: int) -> Image.Image:
    width = round(image.width * height / image.height)
    if width > MAX_ASPECT * height:  # centre-crop panoramas so one photo does not widen the whole grid
        return ImageOps.fit(image, (round(MAX_ASPECT * height), height), Image.LANCZOS)
    return image.resize((max(1, width), height), Image.LANCZOS)
