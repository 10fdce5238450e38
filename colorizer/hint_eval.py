"""Score a hint-capable generator with N ground-truth hints per photo: the protocol of Zhang et al.
2017 (section 4.2): N 5x5 patches at seeded random places of the network input, each carrying the
true photo's mean a/b there.

    result = evaluate_hints("hints.safetensors", "photos/val", counts=(0, 1, 5, 10))
    print(format_hint_table(result))      # PSNR and AuC per N

Each photo runs through the product's path (its upright luminance, the render size, the colour
merged with the photo's own luminance at full resolution), with the hints given at the network's size.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from colorizer import color, metrics
from colorizer.evaluate import _open_rgb, _scan_truth, _tensor
from colorizer.hints import MAX_HINTS, truth_hints
from colorizer.inference import DEFAULT_RENDER_SIZE, Colorizer, network_input, network_size, prepare_image

TRUTH_PATCH = 5  # side of each ground-truth hint patch, in network pixels (the paper)


def evaluate_hints(model: Colorizer | str | os.PathLike, data_dir: str | os.PathLike, counts: Sequence[int],
                   limit: int | None = None, render_size: int = DEFAULT_RENDER_SIZE, seed: int = 0,
                   device: str = "auto", progress: bool = False) -> dict:
    """{"hints": {N: {"psnr", "auc"}}, ...}: means over the photos under `data_dir` for each hint count N."""
    colorizer = model if isinstance(model, Colorizer) else Colorizer.load(model, device=device)
    if not colorizer.takes_hints and set(counts) != {0}:  # a model without hints is scored with none, to compare
        raise ValueError("this generator does not take colour hints (its config has hints: false): use --hints 0")
    if any(not 0 <= n <= MAX_HINTS for n in counts):
        raise ValueError(f"hint counts must be between 0 and {MAX_HINTS}")
    scan = _scan_truth(data_dir, limit)
    scores = {n: {"psnr": [], "auc": []} for n in counts}
    for index, path in enumerate(tqdm(scan.paths, disable=not progress, unit="photo")):
        truth = _open_rgb(path)
        item = prepare_image(truth)
        size = network_size(*item.levels.shape, render_size, colorizer.config.size_multiple)
        L = network_input(item, size)[None]  # (1, 1, h, w)
        small = _tensor(truth.resize((size[1], size[0]), Image.BILINEAR))  # (1, 3, h, w)
        real_ab = color.normalize_ab(color.rgb_to_lab(small)[:, 1:])  # (1, 2, h, w)
        truth_rgb = _tensor(truth)
        truth_lab = color.rgb_to_lab(truth_rgb)
        for n in counts:
            places = torch.Generator().manual_seed(seed * 1_000_003 + index)  # the same places for every model
            hints = truth_hints(real_ab, n, places, side=TRUTH_PATCH)  # (1, 3, h, w)
            ab = colorizer.predict_ab(L, hints=hints if colorizer.takes_hints else None)[0]  # (2, h, w) Lab units
            output = _tensor(colorizer._compose(item, ab).convert("RGB"))
            scores[n]["psnr"].append(metrics.psnr(output, truth_rgb).item())
            scores[n]["auc"].append(metrics.ab_auc(metrics.delta_ab(color.rgb_to_lab(output), truth_lab)).item())
    return {"data_dir": str(data_dir), "images": len(scan.paths), "render_size": render_size, "seed": seed,
            "hints": {n: {key: round(float(np.mean(values)), 4) for key, values in row.items()}
                      for n, row in scores.items()}}


def format_hint_table(result: dict) -> str:
    lines = [f"{result['images']} photos from {result['data_dir']} (render size {result['render_size']}; "
             f"ground-truth {TRUTH_PATCH}x{TRUTH_PATCH} hints, seed {result['seed']})",
             f"{'hints':>6}{'PSNR (dB)':>12}{'AuC':>10}"]
    for n, row in result["hints"].items():
        lines.append(f"{n:>6}{row['psnr']:>12.2f}{row['auc']:>10.4f}")
    return "\n".join(lines)
