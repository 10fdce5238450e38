"""Train every recipe in one device call and write what comes back (run ON the GPU machine).

    summary = train_rows(Path(".devicepack"), Path(os.environ["OUT"]), RECIPES, budget_seconds=540)

The whole call fits in `budget_seconds`: each row gets a share of the time still left when
it starts (so time a quick row leaves over goes to the later ones), each stage a share of
its row, and a stage that reaches its deadline stops through the engine's should_stop with
a usable generator. What comes back ($OUT, flat, within the device's return limits):

    summary.json                 device, timings, steps, epochs, val scores, files and their sha256
    rowN.tar                     row.json + per stage: log.jsonl, curves.png, samples.jpg (last grid);
                                 rows that return no weights add predictions/<photo>.jpg: every val
                                 photo colorized from its gray input (JPEG)
    rowN.safetensors.part0..     fp16 generator weights, in parts of at most 15 MiB (rows that return weights)
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from scripts.tools.model_pipeline.limits import MiB, PART_BYTES, RETURN_FILE_BYTES, return_problems, sha256_of, split_file
from scripts.tools.model_pipeline.recipes import Recipe, Stage, split_seconds, tiny

NEEDED_MODULES = ("kornia", "kornia_rs", "efficientnet_lite_pytorch")  # missing on the device: carried as wheels
FINAL_RESERVE = 10.0  # seconds kept back for the summary at the very end
WEIGHTS_RESERVE = 8.0  # seconds a row that returns weights keeps after training: export, split, tar
PREDICTIONS_RESERVE = 15.0  # ... one that returns predictions: colorize and encode every val photo, tar
PREDICTION_QUALITIES = (90, 85, 80, 75, 70)  # JPEG quality of the predictions: the first whose tar fits
TAR_BYTES = RETURN_FILE_BYTES - 256 * 1024  # a row's tar stays this far under the per-file limit
PREDICTION_BATCH = 64
MIN_ROW_SECONDS = 30.0  # a row with less time than this left is skipped: it would overrun the budget


def ensure_packages(pack: Path) -> str | None:
    """Install the pack's wheels into a temporary site folder when a needed module is missing
    (the device has no network); returns that folder, or None when nothing was missing."""
    missing = [name for name in NEEDED_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    wheels = sorted(str(p) for p in (pack / "wheels").glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"{', '.join(missing)} missing and no wheels in {pack / 'wheels'}")
    target = tempfile.mkdtemp(prefix="hue-site-")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--no-cache-dir", "--target", target, *wheels], check=True)
    sys.path.insert(0, target)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [target, os.environ.get("PYTHONPATH")]))
    importlib.invalidate_caches()
    print(f"installed {len(wheels)} carried wheels into {target} ({', '.join(missing)} were missing)", flush=True)
    return target


def default_work_dir() -> Path:
    """Run folders on tmpfs when it has room: the engine checkpoints every epoch (~1 GB for the U-Net)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 8 << 30:
        return Path(tempfile.mkdtemp(prefix="hue-train-", dir=shm))
    return Path(tempfile.mkdtemp(prefix="hue-train-"))


def train_rows(pack: Path, out: Path, recipes: tuple[Recipe, ...], budget_seconds: float = 540.0,
               tiny_run: bool = False, work: Path | None = None, device: str = "auto", num_workers: int = 12,
               started: float | None = None) -> dict:
    """Train `recipes` in order within `budget_seconds` (counted from `started`, a
    time.monotonic() value, default now) and write the return layout into `out`."""
    started = time.monotonic() if started is None else started
    deadline = started + budget_seconds
    ensure_packages(pack)
    import torch  # after ensure_packages: colorizer imports kornia

    from colorizer.inference import pick_device

    manifest = json.loads((pack / "manifest.json").read_text())
    if tiny_run:
        recipes = tuple(tiny(recipe) for recipe in recipes)
        device, num_workers = "cpu", 0
    torch_device = pick_device(device)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work) if work else default_work_dir()
    device_name = torch.cuda.get_device_name(torch_device) if torch_device.type == "cuda" else platform.processor()
    summary = {"device": device_name or torch_device.type, "torch": torch.__version__,
               "python": platform.python_version(), "budget_seconds": budget_seconds, "tiny": tiny_run,
               "pack": {k: manifest[k] for k in ("image_size", "train", "val_gray") if k in manifest},
               "rows": {}}
    print(f"training {len(recipes)} rows on {summary['device']} (torch {torch.__version__}) in {budget_seconds:.0f} s; "
          f"run folders in {work}", flush=True)
    for index, recipe in enumerate(recipes):
        row_start = time.monotonic()
        seconds = split_seconds(deadline - FINAL_RESERVE - row_start, [r.share for r in recipes[index:]])
        if seconds < MIN_ROW_SECONDS and not tiny_run:
            row = {"title": recipe.title, "error": f"skipped: only {seconds:.0f} s were left for it"}
        else:
            try:
                row = run_row(recipe, pack, manifest, out, work, torch_device, num_workers, row_start + seconds,
                              tiny_run)
            except Exception:  # one failed row must not cost the others their time
                row = {"title": recipe.title, "error": traceback.format_exc()}
        if "error" in row:
            print(f"{recipe.name} FAILED: {row['error']}", flush=True)
        row.update(budget_seconds=round(seconds, 1), seconds=round(time.monotonic() - row_start, 1))
        summary["rows"][recipe.name] = row
    summary["seconds"] = round(time.monotonic() - started, 1)
    summary["files"] = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}  # besides this one
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    summary["files"]["summary.json"] = (out / "summary.json").stat().st_size
    summary["problems"] = return_problems(out)
    print(timing_table(summary), flush=True)
    for problem in summary["problems"]:
        print(f"WARNING: {problem}: that will not come back from the device", flush=True)
    return summary


def run_row(recipe: Recipe, pack: Path, manifest: dict, out: Path, work: Path, device, num_workers: int,
            row_deadline: float, tiny_run: bool) -> dict:
    """Train one recipe's stages, then write its tar (and weight parts)."""
    from colorizer.model import GeneratorConfig
    from colorizer.train import TrainConfig, train

    image_size = manifest["image_size"]
    generator = dict(recipe.generator)
    if generator.get("encoder_weights") == "imagenet":
        generator["encoder_weights"] = str(pack / "encoder" / manifest["encoder"]["file"])
    row_dir = work / recipe.name
    shutil.rmtree(row_dir, ignore_errors=True)
    stages, generator_path = [], None
    for index, stage in enumerate(recipe.stages):
        now = time.monotonic()
        reserve = WEIGHTS_RESERVE if recipe.returns_weights else PREDICTIONS_RESERVE
        stage_end = now + split_seconds(row_deadline - reserve - now, [s.share for s in recipe.stages[index:]])
        stage_dir = row_dir / stage_folder(index, stage.kind)
        config = TrainConfig(
            train_dir=str(pack / "train"), val_dir=str(pack / "val_watch"), out_dir=str(stage_dir),
            max_images=recipe.max_images, image_size=image_size,
            generator=GeneratorConfig.from_dict(generator), init_generator=generator_path,
            l1_epochs=stage.epochs if stage.kind == "l1" else 0, gan_epochs=stage.epochs if stage.kind == "gan" else 0,
            batch_size=stage.batch_size, lr=stage.lr, beta1=stage.beta1, lambda_l1=stage.lambda_l1,
            ema_decay=stage.ema_decay, max_steps=2 if tiny_run else None, seed=0, device=str(device),
            num_workers=num_workers, cache_images=True, resume=False, log_every=1 if tiny_run else 25,
            checkpoint_every=stage.epochs,  # nothing resumes on the device: save once (a U-Net checkpoint is 655 MB)
            val_images=4 if tiny_run else 64, sample_count=2 if tiny_run else 6, progress_bar=False)
        if stage.kind == "nogan":
            began = time.monotonic()
            generator_path, summary = run_nogan_stage(stage, generator_path, pack, stage_dir, recipe, device,
                                                      image_size, stage_end, tiny_run)
            stages.append({**summary, "seconds": round(time.monotonic() - began, 1),
                           "budget_seconds": round(stage_end - began, 1)})
            continue
        reporter = Reporter(recipe.name, stage.kind)
        began = time.monotonic()
        result = train(config, on_progress=reporter, should_stop=lambda end=stage_end: time.monotonic() >= end)
        generator_path = result.generator_path
        stages.append({"kind": stage.kind, "settings": asdict(stage), "seconds": round(time.monotonic() - began, 1),
                       "budget_seconds": round(stage_end - began, 1), "global_step": result.global_step,
                       "epochs_done": len(result.history), "epochs": stage.epochs, "stopped_at_deadline":
                       result.cancelled, "images_per_second": reporter.images_per_second,
                       "photos": reporter.photos, "val": result.val_metrics, "history": result.history})
    row = {"title": recipe.title, "generator": generator_summary(generator_path), "stages": stages,
           "returns_weights": recipe.returns_weights, "max_images": recipe.max_images,
           "metadata": recipe.metadata}
    members = stage_files(row_dir, recipe)
    if recipe.returns_weights:
        weights = export_weights(generator_path, recipe, stages, row_dir / "generator.safetensors")
        parts = split_file(weights, out / f"{recipe.name}.safetensors", PART_BYTES)
        row["weights"] = {"bytes": weights.stat().st_size, "sha256": sha256_of(weights),
                          "parts": [p.name for p in parts]}
    else:
        images = predict(generator_path, pack / "val_gray", image_size, device)
        quality, predictions = fit_predictions(images, TAR_BYTES - sum(len(v) for v in members.values()) - 64 * 1024)
        members.update(predictions)
        row["predictions"] = {"count": len(images), "jpeg_quality": quality,
                              "bytes": sum(len(v) for v in predictions.values())}
    members["row.json"] = json.dumps(row, indent=1).encode()
    write_tar(out / f"{recipe.name}.tar", members)
    row["tar_bytes"] = (out / f"{recipe.name}.tar").stat().st_size
    for stage in row["stages"]:
        stage.pop("history")  # kept in the tar's row.json; summary.json stays short
    return row


def run_nogan_stage(stage: Stage, init_generator: str | None, pack: Path, stage_dir: Path, recipe: Recipe, device,
                    image_size: int, stage_end: float, tiny_run: bool) -> tuple[str, dict]:
    """The NoGAN recipe (colorizer.nogan) from the previous stage's generator; returns the generator
    it ends with (its last snapshot) and the stage's summary."""
    from colorizer.nogan import NoGANConfig, train_nogan

    if init_generator is None:
        raise ValueError(f"{recipe.name}: a nogan stage starts from an earlier stage's generator")
    options = dict(stage.options)
    size = options.pop("image_size", min(image_size, 32 if tiny_run else 128))
    config = NoGANConfig(train_dir=str(pack / "train"), init_generator=init_generator, out_dir=str(stage_dir),
                         image_size=size, max_images=recipe.max_images, generator_epochs=stage.epochs,
                         batch_size=stage.batch_size, lr=stage.lr, device=str(device), log_every=1 if tiny_run else 25,
                         **options)
    state = train_nogan(config, log=lambda line: print(f"[{recipe.name} nogan] {line}", flush=True),
                        should_stop=lambda: time.monotonic() >= stage_end)
    written = (sorted(stage_dir.glob("generator_gan_*.safetensors"))
               or sorted(stage_dir.glob("generator_epoch_*.safetensors")))
    if not written:
        raise RuntimeError(f"{recipe.name}: the nogan stage ended before its first generator")
    summary = {"kind": "nogan", "settings": asdict(stage), "phase": state.phase,
               "stopped_at_deadline": state.phase != "done",
               "global_step": state.total_steps, "epochs_done": state.epoch, "epochs": stage.epochs,
               "images_per_second": None, "photos": None, "val": {}, "history": state.history,
               "generator": written[-1].name}
    return str(written[-1]), summary


def stage_folder(index: int, kind: str) -> str:
    return f"{index}-{kind}"


class Reporter:
    """on_progress for train(): a line per epoch, and the last throughput and data summary."""

    def __init__(self, row: str, stage: str):
        self.row, self.stage = row, stage
        self.started = time.monotonic()
        self.images_per_second = None
        self.photos = None

    def __call__(self, event: dict) -> None:
        if "images_per_second" in event:
            self.images_per_second = event["images_per_second"]
        elapsed = time.monotonic() - self.started
        if event["kind"] == "epoch":
            val = event.get("val", {})
            print(f"{self.row} {self.stage} epoch {event['epoch']}/{event['epochs']}: step {event['global_step']}, "
                  f"{event['images_per_second']:.0f} img/s, val psnr {val.get('psnr')} ab error {val.get('ab_error')} "
                  f"[{elapsed:.0f} s]", flush=True)
        elif event["kind"] in ("done", "cancelled"):
            self.photos = event.get("data")
            how = "stopped at its deadline" if event["kind"] == "cancelled" else "done"
            print(f"{self.row} {self.stage} {how} after {event['global_step']} steps [{elapsed:.0f} s]", flush=True)


def generator_summary(path: str) -> dict:
    from colorizer.checkpoint import read_generator_config

    return read_generator_config(path)


def stage_files(row_dir: Path, recipe: Recipe) -> dict[str, bytes]:
    """Per stage: the log, the loss curves and the last sample grid (as JPEG: a tenth of the PNG)."""
    from PIL import Image

    members = {}
    for index, stage in enumerate(recipe.stages):
        folder = row_dir / stage_folder(index, stage.kind)
        prefix = stage_folder(index, stage.kind)
        for name in ("log.jsonl", "curves.png"):
            if (folder / name).is_file():
                members[f"{prefix}/{name}"] = (folder / name).read_bytes()
        grids = sorted((folder / "samples").glob("*.png"), key=lambda p: p.stat().st_mtime)
        if grids:
            buffer = io.BytesIO()
            with Image.open(grids[-1]) as grid:
                grid.convert("RGB").save(buffer, "JPEG", quality=90)
            members[f"{prefix}/samples.jpg"] = buffer.getvalue()
    return members


def export_weights(generator_path: str, recipe: Recipe, stages: list[dict], destination: Path) -> Path:
    """The final generator as fp16, its config naming the ImageNet encoder as "imagenet" (the
    pack's path means nothing elsewhere) and its extra recording the recipe."""
    from colorizer.checkpoint import load_generator, save_generator

    state, config, extra = load_generator(generator_path)
    if recipe.generator.get("encoder_weights") == "imagenet":
        config["encoder_weights"] = "imagenet"
    extra.update(recipe=recipe.name, recipe_title=recipe.title, stages=[
        {k: stage[k] for k in ("kind", "settings", "seconds", "global_step", "epochs_done", "stopped_at_deadline")}
        for stage in stages])
    save_generator(destination, state, config, extra=extra)
    return destination


def predict(generator_path: str, gray_dir: Path, render_size: int, device) -> dict[str, "Image.Image"]:
    """{relative path without suffix: colorized PIL image} for every gray input of the pack."""
    from PIL import Image

    from colorizer.data import list_image_files
    from colorizer.inference import Colorizer

    colorizer = Colorizer.load(generator_path, device=device)
    files, _ = list_image_files(gray_dir)
    results = {}
    for start in range(0, len(files), PREDICTION_BATCH):
        chunk = files[start:start + PREDICTION_BATCH]
        images = []
        for path in chunk:
            with Image.open(path) as image:
                images.append(image.convert("L"))
        for path, output in zip(chunk, colorizer.colorize_batch(images, render_size=render_size)):
            results[path.relative_to(gray_dir).with_suffix("").as_posix()] = output
    return results


def fit_predictions(images: dict, budget: int) -> tuple[int, dict[str, bytes]]:
    """JPEG files of the predictions at the best quality of PREDICTION_QUALITIES that fits `budget` bytes."""
    for quality in PREDICTION_QUALITIES:
        files = {}
        for key, image in images.items():
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=quality)
            files[f"predictions/{key}.jpg"] = buffer.getvalue()
        if sum(len(v) for v in files.values()) <= budget:
            return quality, files
    raise ValueError(f"{len(images)} predictions do not fit {budget / MiB:.1f} MiB even at JPEG quality {quality}")


def write_tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))


def timing_table(summary: dict) -> str:
    lines = [f"{'row':<6}{'stage':<8}{'seconds':>9}{'budget':>8}{'steps':>8}{'epochs':>9}{'img/s':>8}"
             f"{'val psnr':>10}{'ab err':>8}  stopped"]
    for name, row in summary["rows"].items():
        if "error" in row:
            lines.append(f"{name:<6}{'FAILED':<8}{row['seconds']:>9.1f}{row['budget_seconds']:>8.0f}")
            continue
        for stage in row["stages"]:
            val = stage["val"] or {}
            lines.append(f"{name:<6}{stage['kind']:<8}{stage['seconds']:>9.1f}{stage['budget_seconds']:>8.0f}"
                         f"{stage['global_step']:>8}{stage['epochs_done']:>5}/{stage['epochs']:<3}"
                         f"{stage['images_per_second'] or 0:>8.0f}{val.get('psnr', float('nan')):>10.2f}"
                         f"{val.get('ab_error', float('nan')):>8.2f}  "
                         f"{'deadline' if stage['stopped_at_deadline'] else 'epochs'}")
        lines.append(f"{name:<6}{'(row)':<8}{row['seconds']:>9.1f}{row['budget_seconds']:>8.0f}  "
                     f"tar {row['tar_bytes'] / MiB:.1f} MiB"
                     + (f", weights {row['weights']['bytes'] / MiB:.1f} MiB in {len(row['weights']['parts'])} parts"
                        if "weights" in row else "")
                     + (f", {row['predictions']['count']} predictions at JPEG q{row['predictions']['jpeg_quality']}"
                        if "predictions" in row else ""))
    total = sum(summary["files"].values())
    lines.append(f"total {summary['seconds']:.1f} s of {summary['budget_seconds']:.0f} s; "
                 f"{len(summary['files'])} files, {total / MiB:.1f} MiB to bring back")
    return "\n".join(lines)
