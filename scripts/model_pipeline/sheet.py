"""A before/after sheet for the model card: each real B&W photo beside its colorization.

    make_sheet("colorizer/weights/default.safetensors", "../shared/datasets/bw_samples", "docs/bw_samples_sheet.png")

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


def make_sheet(weights: str | Path, samples: str | Path, out: str | Path, height: int = 200, columns: int = 3,
               max_bytes: int = 1_500_000, device: str = "auto") -> str:
    """Colorize every image of `samples` with `weights` and write the sheet to `out`; returns a one-line report."""
    from colorizer.data import list_image_files
    from colorizer.inference import Colorizer

    files, _ = list_image_files(samples)
    if not files:
        raise ValueError(f"no images in {samples}")
    colorizer = Colorizer.load(weights, device=device)
    pairs = []
    for path in files:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail((4 * height * 2, 4 * height))  # the sheet never shows more: colorize a copy this big
            before = image.convert("RGB")
            after = colorizer.colorize(image).convert("RGB")
        pairs.append((before, after))
    for attempt in range(12):
        size = max(48, round(height * SHRINK**attempt))
        data = render(pairs, size, columns)
        if len(data) <= max_bytes or size == 48:
            break
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return f"{out}: {len(pairs)} photos, {size} px high, {len(data) / 1e6:.2f} MB"


def render(pairs: list[tuple[Image.Image, Image.Image]], height: int, columns: int) -> bytes:
    """The sheet as PNG bytes, photos `height` pixels high."""
    cells = []
    for before, after in pairs:
        scaled = [fit_height(image, height) for image in (before, after)]
        cell = Image.new("RGB", (scaled[0].width + GUTTER + scaled[1].width, height), "white")
        cell.paste(scaled[0], (0, 0))
        cell.paste(scaled[1], (scaled[0].width + GUTTER, 0))
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
