"""Score a generator on a folder of colour photos, beside the grayscale baseline.

    result = evaluate("model.safetensors", "photos/val", baseline="gray")     # a dict, JSON-ready
    print(format_table(result))

Each photo is colorized from its own luminance through the product's full-resolution path
(`Colorizer.colorize_batch`) and compared with itself. Metrics are averaged per photo
(see colorizer/metrics.py); FID compares the set of outputs with the set of originals.
The grayscale baseline is the photo's own L with a = b = 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from colorizer import metrics
from colorizer.color import lab_to_rgb, rgb_to_lab
from colorizer.data import scan_images
from colorizer.inference import DEFAULT_RENDER_SIZE, Colorizer

# (key, label, which way is better) in table order.
METRICS = (
    ("psnr", "PSNR (dB)", "higher"),
    ("ssim", "SSIM", "higher"),
    ("ciede2000", "CIEDE2000", "lower"),
    ("delta_e_ab", "deltaE76 on ab", "lower"),
    ("auc", "AuC ab error 0..150", "higher"),
    ("colorfulness", "colorfulness", "closer to truth"),
    ("colorfulness_gap", "colorfulness - truth", "closer to 0"),
    ("fid", "FID", "lower"),
)
BASELINES = ("gray",)


def evaluate(model: Colorizer | str | os.PathLike, data_dir: str | os.PathLike, baseline: str | None = None,
             fid: bool = True, limit: int | None = None, render_size: int = DEFAULT_RENDER_SIZE,
             batch_size: int = 16, device: str = "auto", progress: bool = False) -> dict:
    """Metrics of `model` (a Colorizer or a generator file) on the colour photos under
    `data_dir` (at most `limit`, a seeded subset), and of the baseline when given."""
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; expected one of {BASELINES}")
    colorizer = model if isinstance(model, Colorizer) else Colorizer.load(model, device=device)
    scan = scan_images(data_dir, limit=limit)
    if not scan.paths:
        raise ValueError(f"no colour photos to evaluate in {data_dir}: {scan.summary()}")
    methods = ["model"] + ([baseline] if baseline else [])
    scores = {method: {key: [] for key, _, _ in METRICS if key not in ("fid", "colorfulness_gap")}
              for method in methods}
    truth_colorfulness: list[float] = []
    inception = metrics.InceptionFeatures(colorizer.device) if fid else None
    features = {name: [] for name in methods + ["truth"]}

    for start in tqdm(range(0, len(scan.paths), batch_size), disable=not progress, unit="batch"):
        truths = [_open_rgb(path) for path in scan.paths[start:start + batch_size]]
        outputs = colorizer.colorize_batch(truths, render_size=render_size)
        pending = {name: [] for name in features}
        for truth_image, output_image in zip(truths, outputs):
            truth = _tensor(truth_image)  # (1, 3, H, W) in [0, 1]
            truth_lab = rgb_to_lab(truth)
            candidates = {"model": _tensor(output_image)}
            if baseline == "gray":
                gray_lab = torch.cat([truth_lab[:, :1], torch.zeros_like(truth_lab[:, 1:])], dim=1)
                candidates["gray"] = (lab_to_rgb(gray_lab) * 255).round() / 255  # an 8-bit image, like outputs
            truth_colorfulness.append(metrics.colorfulness(truth).item())
            pending["truth"].append(truth)
            for method, rgb in candidates.items():
                lab = rgb_to_lab(rgb)
                error_ab = metrics.delta_ab(lab, truth_lab)
                row = scores[method]
                row["psnr"].append(metrics.psnr(rgb, truth).item())
                row["ssim"].append(metrics.ssim(rgb, truth).item())
                row["ciede2000"].append(metrics.ciede2000(lab, truth_lab).mean().item())
                row["delta_e_ab"].append(error_ab.mean().item())
                row["auc"].append(metrics.ab_auc(error_ab).item())
                row["colorfulness"].append(metrics.colorfulness(rgb).item())
                pending[method].append(rgb)
        if inception is not None:  # one Inception batch per kind of image
            for name, images in pending.items():
                features[name].append(inception(images))

    result = {"data_dir": str(data_dir), "images": len(scan.paths), "skipped": scan.counts,
              "render_size": render_size, "generator": colorizer.config.to_dict(),
              "colorfulness_truth": round(float(np.mean(truth_colorfulness)), 4)}
    for method in methods:
        summary = {key: round(float(np.mean(values)), 4) for key, values in scores[method].items()}
        summary["colorfulness_gap"] = round(summary["colorfulness"] - result["colorfulness_truth"], 4)
        if inception is not None:
            distance = metrics.frechet_distance(torch.cat(features[method]), torch.cat(features["truth"]))
            summary["fid"] = None if np.isnan(distance) else round(distance, 4)
        result[method] = summary
    return result


def format_table(result: dict) -> str:
    """The metrics as a plain-text table, the model beside the baseline."""
    methods = [m for m in ("model",) + BASELINES if m in result]
    lines = [f"{result['images']} photos from {result['data_dir']} (render size {result['render_size']}; "
             f"truth colorfulness {result['colorfulness_truth']:.2f})",
             f"{'metric':<24}{'better':>16}" + "".join(f"{m:>12}" for m in methods)]
    for key, label, better in METRICS:
        if not any(key in result[m] for m in methods):
            continue
        cells = []
        for method in methods:
            value = result[method].get(key)
            cells.append(f"{'n/a' if value is None else f'{value:.4f}':>12}")
        lines.append(f"{label:<24}{better:>16}" + "".join(cells))
    return "\n".join(lines)


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def _tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
