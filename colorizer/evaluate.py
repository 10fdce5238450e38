"""Score colorizations against the colour photos they came from, beside the grayscale baseline.

    result = evaluate("model.safetensors", "photos/val", baseline="gray")     # a dict, JSON-ready
    result = evaluate_predictions("runs/paper/predictions", "photos/val")     # images made elsewhere
    print(format_table(result))

`evaluate` colorizes each photo from its own luminance through the product's full-resolution
path (`Colorizer.colorize_batch`). `evaluate_predictions` scores images colorized elsewhere
(another machine, another program): each prediction is matched to its photo by relative
path without the suffix, and only its colour (a/b) is kept, recombined with the photo's own
luminance exactly as the product composes its output. That is what the product shows (it
never changes the input's luminance), and it cancels what a lossy file did to the
prediction's L. Both feed one `Scoreboard`: metrics are averaged per photo (see
colorizer/metrics.py); FID compares the set of outputs with the set of originals. The
grayscale baseline is the photo's own L with a = b = 0.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm import tqdm

from colorizer import metrics
from colorizer.color import compose_srgb, lab_to_rgb, rgb_to_lab
from colorizer.data import IMAGE_EXTENSIONS, list_image_files, scan_images
from colorizer.inference import DEFAULT_RENDER_SIZE, Colorizer, luminance_levels, pick_device
from colorizer.metric_names import METRICS  # noqa: F401 (colorizer.evaluate.METRICS: the one table)

BASELINES = ("gray",)
PER_PHOTO = tuple(key for key, _, _ in METRICS if key not in ("fid", "colorfulness_gap"))


class Scoreboard:
    """Per-photo metrics of several methods against the truth, and Inception features for FID.

    add() takes one photo and what each method made of it; flush() runs the Inception
    network over what was added since the last flush (one batch per kind of image).
    """

    def __init__(self, methods: list[str], baseline: str | None, inception: metrics.InceptionFeatures | None):
        if baseline is not None and baseline not in BASELINES:
            raise ValueError(f"unknown baseline {baseline!r}; expected one of {BASELINES}")
        self.methods = list(methods) + ([baseline] if baseline else [])
        self.baseline = baseline
        self.inception = inception
        self.scores = {method: {key: [] for key in PER_PHOTO} for method in self.methods}
        self.truth_colorfulness: list[float] = []
        self.features = {name: [] for name in self.methods + ["truth"]}
        self.pending = {name: [] for name in self.features}

    def add(self, truth: torch.Tensor, outputs: Mapping[str, torch.Tensor]) -> None:
        """truth and each output: (1, 3, H, W) sRGB in [0, 1], the same size."""
        truth_lab = rgb_to_lab(truth)
        candidates = dict(outputs)
        if self.baseline == "gray":
            gray_lab = torch.cat([truth_lab[:, :1], torch.zeros_like(truth_lab[:, 1:])], dim=1)
            candidates["gray"] = (lab_to_rgb(gray_lab) * 255).round() / 255  # an 8-bit image, like outputs
        self.truth_colorfulness.append(metrics.colorfulness(truth).item())
        self.pending["truth"].append(truth)
        for method, rgb in candidates.items():
            lab = rgb_to_lab(rgb)
            error_ab = metrics.delta_ab(lab, truth_lab)
            row = self.scores[method]
            row["psnr"].append(metrics.psnr(rgb, truth).item())
            row["ssim"].append(metrics.ssim(rgb, truth).item())
            row["ciede2000"].append(metrics.ciede2000(lab, truth_lab).mean().item())
            row["delta_e_ab"].append(error_ab.mean().item())
            row["auc"].append(metrics.ab_auc(error_ab).item())
            row["colorfulness"].append(metrics.colorfulness(rgb).item())
            self.pending[method].append(rgb)

    def flush(self) -> None:
        if self.inception is not None:
            for name, images in self.pending.items():
                if images:
                    self.features[name].append(self.inception(images))
        self.pending = {name: [] for name in self.features}

    def summary(self) -> dict:
        """{"colorfulness_truth": ..., method: {metric: mean}} (FID only with an Inception network)."""
        self.flush()
        truth = round(float(np.mean(self.truth_colorfulness)), 4)
        result = {"colorfulness_truth": truth}
        for method in self.methods:
            summary = {key: round(float(np.mean(values)), 4) for key, values in self.scores[method].items()}
            summary["colorfulness_gap"] = round(summary["colorfulness"] - truth, 4)
            if self.inception is not None:
                distance = metrics.frechet_distance(torch.cat(self.features[method]), torch.cat(self.features["truth"]))
                summary["fid"] = None if np.isnan(distance) else round(distance, 4)
            result[method] = summary
        return result


def evaluate(model: Colorizer | str | os.PathLike, data_dir: str | os.PathLike, baseline: str | None = None,
             fid: bool = True, limit: int | None = None, render_size: int = DEFAULT_RENDER_SIZE,
             batch_size: int = 16, device: str = "auto", progress: bool = False) -> dict:
    """Metrics of `model` (a Colorizer or a generator file) on the colour photos under
    `data_dir` (at most `limit`, a seeded subset), and of the baseline when given."""
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; expected one of {BASELINES}")
    colorizer = model if isinstance(model, Colorizer) else Colorizer.load(model, device=device)
    scan = _scan_truth(data_dir, limit)
    board = Scoreboard(["model"], baseline, metrics.InceptionFeatures(colorizer.device) if fid else None)
    for start in tqdm(range(0, len(scan.paths), batch_size), disable=not progress, unit="batch"):
        truths = [_open_rgb(path) for path in scan.paths[start:start + batch_size]]
        outputs = colorizer.colorize_batch(truths, render_size=render_size)
        for truth_image, output_image in zip(truths, outputs):
            board.add(_tensor(truth_image), {"model": _tensor(output_image)})
        board.flush()
    return {"data_dir": str(data_dir), "images": len(scan.paths), "skipped": scan.counts,
            "render_size": render_size, "generator": colorizer.config.to_dict(), **board.summary()}


def evaluate_predictions(predictions: str | os.PathLike | Mapping[str, str | os.PathLike],
                         data_dir: str | os.PathLike, baseline: str | None = None, fid: bool = True,
                         limit: int | None = None, batch_size: int = 16, device: str = "auto",
                         progress: bool = False) -> dict:
    """Metrics of colorized images made elsewhere, on the colour photos under `data_dir`.

    `predictions` is a folder or a tar file of images, or {name: folder or tar} to score
    several sets in one pass (each becomes a key of the result; a single set is "model").
    A photo `sub/name.jpg` of `data_dir` is matched by the prediction whose path without
    suffix is `sub/name` or ends in `/sub/name` (so a tar may keep them under a folder).
    Every photo needs a prediction. Each prediction keeps its a/b only, resized to the
    photo when their sizes differ, recombined with the photo's luminance.
    """
    sets = {"model": predictions} if isinstance(predictions, (str, os.PathLike)) else dict(predictions)
    if not sets:
        raise ValueError("no prediction sets to score")
    clashes = set(sets) & set(BASELINES)
    if clashes:
        raise ValueError(f"prediction set names {sorted(clashes)} clash with baselines")
    scan = _scan_truth(data_dir, limit)
    keys = [_key(path.relative_to(data_dir)) for path in scan.paths]
    sources = {name: PredictionSource(path) for name, path in sets.items()}
    try:
        matches = {name: source.match(keys) for name, source in sources.items()}
        inception = metrics.InceptionFeatures(pick_device(device)) if fid else None
        board = Scoreboard(list(sets), baseline, inception)
        for start in tqdm(range(0, len(scan.paths), batch_size), disable=not progress, unit="batch"):
            for index in range(start, min(start + batch_size, len(scan.paths))):
                truth_image = _open_rgb(scan.paths[index])
                levels, tables = luminance_levels(truth_image)
                outputs = {}
                for name, source in sources.items():
                    prediction = _tensor(source.open(matches[name][index]))
                    ab = rgb_to_lab(prediction)[0, 1:]  # (2, h, w): its colour, upsampled if smaller
                    outputs[name] = _tensor(Image.fromarray(compose_srgb(levels, tables, ab), "RGB"))
                board.add(_tensor(truth_image), outputs)
            board.flush()
    finally:
        for source in sources.values():
            source.close()
    return {"data_dir": str(data_dir), "images": len(scan.paths), "skipped": scan.counts, "render_size": None,
            "generator": None, "predictions": {name: str(path) for name, path in sets.items()},
            "methods": list(sets), **board.summary()}


class PredictionSource:
    """Images in a folder tree or a tar file, addressed by their relative path without suffix."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.tar = None
        if self.path.is_dir():
            files, _ = list_image_files(self.path)
            self.members = {_key(file.relative_to(self.path)): file for file in files}
        elif self.path.is_file() and tarfile.is_tarfile(self.path):
            self.tar = tarfile.open(self.path)
            self.members = {_key(Path(member.name)): member for member in self.tar.getmembers()
                            if member.isfile() and member.name.lower().endswith(IMAGE_EXTENSIONS)}
        else:
            raise FileNotFoundError(f"no folder or tar file of predictions at {self.path}")

    def match(self, keys: list[str]) -> list[str]:
        """The member key predicting each photo key; ValueError naming those without one."""
        by_suffix: dict[str, list[str]] = {}
        for member in self.members:
            parts = member.split("/")
            for start in range(len(parts)):
                by_suffix.setdefault("/".join(parts[start:]), []).append(member)
        found, missing, ambiguous = [], [], []
        for key in keys:
            candidates = [key] if key in self.members else by_suffix.get(key, [])
            if len(candidates) == 1:
                found.append(candidates[0])
            else:
                (ambiguous if candidates else missing).append(key)
        if missing or ambiguous:
            problems = []
            if missing:
                problems.append(f"{len(missing)} photos have no prediction (e.g. {missing[:3]})")
            if ambiguous:
                problems.append(f"{len(ambiguous)} photos match several predictions (e.g. {ambiguous[:3]})")
            raise ValueError(f"predictions in {self.path}: " + "; ".join(problems))
        return found

    def open(self, key: str) -> Image.Image:
        if self.tar is None:
            return _open_rgb(self.members[key])
        with self.tar.extractfile(self.members[key]) as handle, Image.open(handle) as image:
            return ImageOps.exif_transpose(image).convert("RGB")

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


def format_table(result: dict) -> str:
    """The metrics as a plain-text table, the model(s) beside the baseline."""
    methods = [m for m in list(result.get("methods", ["model"])) + list(BASELINES) if m in result]
    size = f"render size {result['render_size']}" if result.get("render_size") else "predictions"
    lines = [f"{result['images']} photos from {result['data_dir']} ({size}; "
             f"truth colorfulness {result['colorfulness_truth']:.2f})",
             f"{'metric':<34}{'better':>24}" + "".join(f"{m:>12}" for m in methods)]
    for key, label, better in METRICS:
        if not any(key in result[m] for m in methods):
            continue
        cells = []
        for method in methods:
            value = result[method].get(key)
            cells.append(f"{'n/a' if value is None else f'{value:.4f}':>12}")
        lines.append(f"{label:<34}{better:>24}" + "".join(cells))
    return "\n".join(lines)


def _scan_truth(data_dir: str | os.PathLike, limit: int | None):
    scan = scan_images(data_dir, limit=limit)
    if not scan.paths:
        raise ValueError(f"no colour photos to evaluate in {data_dir}: {scan.summary()}")
    return scan


def _key(relative: Path) -> str:
    """A photo's identity across formats: its relative path without suffix, '/'-separated."""
    return relative.with_suffix("").as_posix()


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def _tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
