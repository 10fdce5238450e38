"""Score what a device run brought back, pick the default model, install it (run HERE).

    result = collect(Path("/work/.device/.../files"), Path("../shared/datasets/photos/val"), install=True)

Every row is scored the same way: its colorizations of the pack's gray val inputs, each
prediction's a/b recombined with the photo's own L (`colorizer.evaluate.evaluate_predictions`),
beside the grayscale baseline, FID included. Rows whose weights came back are colorized here
(their weights are joined from parts and checked against their sha256); the others brought
their predictions in their tar.

The pick follows the issue's acceptance rules against the paper's recipe (row2): FID at least
a quarter lower, colorfulness within 3 of the truth's, AuC not below row2's. The best FID
among the rows that meet all three wins.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

from scripts.tools.model_pipeline.limits import join_parts

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_WEIGHTS = ROOT / "colorizer" / "weights" / "default.safetensors"
REFERENCE = "row2"  # the paper's recipe: the bar
FID_GAIN = 0.25  # a candidate's FID must be at least this much lower than the reference's
COLORFULNESS_TOLERANCE = 3.0  # |colorfulness - truth's| at most this
MAX_DEFAULT_BYTES = 40_000_000  # the shipped weights stay under this (the repository carries them)
RULES = {"fid": f"FID <= {1 - FID_GAIN:g} x {REFERENCE}", "colorfulness": f"colorfulness within "
         f"{COLORFULNESS_TOLERANCE:g} of truth", "auc": f"AuC >= {REFERENCE}"}
COLUMNS = (("psnr", "PSNR", 2), ("ssim", "SSIM", 4), ("ciede2000", "CIEDE2000", 2), ("delta_e_ab", "ΔE ab", 2),
           ("auc", "AuC", 4), ("colorfulness", "colorfulness", 2), ("colorfulness_gap", "gap", 2), ("fid", "FID", 2))


def collect(source: Path, val_dir: Path, pack: Path = ROOT / ".devicepack",
            work: Path = ROOT / "runs" / "default_model", docs: Path = ROOT / "docs", fid: bool = True,
            reference: str = REFERENCE, install: bool = False, force: bool = False,
            weights_out: Path = DEFAULT_WEIGHTS, samples: Path | None = None, sheet_out: Path | None = None,
            batch_size: int = 16) -> dict:
    """Unpack, score and pick; write docs/model_metrics.{json,md}; with `install`, copy the pick
    to `weights_out` and draw the before/after sheet of `samples` into `sheet_out`."""
    from colorizer.evaluate import evaluate_predictions

    summary = json.loads((source / "summary.json").read_text())
    manifest = json.loads((pack / "manifest.json").read_text())
    rows = {}
    for name, row in summary["rows"].items():
        if "error" in row:
            rows[name] = {"title": row["title"], "error": row["error"].strip().splitlines()[-1]}
            continue
        rows[name] = unpack_row(name, row, source, work / name, pack / "val_gray", manifest["image_size"],
                                summary["rows"].get(reference, {}).get("predictions", {}).get("jpeg_quality", 90))
    scored = {name: work / name / "predictions" for name, row in rows.items() if "error" not in row}
    if reference not in scored:
        raise ValueError(f"the reference row {reference} did not come back: nothing to measure against")
    print(f"scoring {', '.join(scored)} and the gray baseline on {val_dir} (FID {'on' if fid else 'off'})", flush=True)
    metrics = evaluate_predictions(scored, val_dir, baseline="gray", fid=fid, batch_size=batch_size, progress=True)
    for name in scored:
        rows[name]["metrics"] = metrics[name]
    acceptance = {name: judge(rows[name]["metrics"], rows[reference]["metrics"])
                  for name in scored if name != reference and rows[name]["weights"]}
    chosen = pick(acceptance, rows)
    result = {"data_dir": str(val_dir), "images": metrics["images"],
              "colorfulness_truth": metrics["colorfulness_truth"],
              "device": summary["device"], "torch": summary["torch"], "budget_seconds": summary["budget_seconds"],
              "seconds": summary["seconds"], "pack": manifest_summary(manifest), "reference": reference,
              "rules": RULES, "gray": metrics["gray"], "rows": rows, "acceptance": acceptance, "chosen": chosen,
              "accepted": bool(chosen and acceptance[chosen]["accepted"])}
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "model_metrics.json").write_text(json.dumps(result, indent=1))
    (docs / "model_metrics.md").write_text(markdown(result))
    print(markdown(result), flush=True)
    if install:
        install_default(result, work, weights_out, force)
        if samples is not None:
            from scripts.tools.model_pipeline.sheet import make_sheet

            print(make_sheet(weights_out, samples, sheet_out or docs / "bw_samples_sheet.png"), flush=True)
    return result


def unpack_row(name: str, row: dict, source: Path, folder: Path, gray_dir: Path, render_size: int,
               quality: int) -> dict:
    """Extract the row's tar; join its weights and colorize the gray val inputs with them."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with tarfile.open(source / f"{name}.tar") as tar:
        tar.extractall(folder, filter="data")  # refuses absolute paths, '..' and links out
    details = json.loads((folder / "row.json").read_text())
    entry = {"title": row["title"], "weights": "weights" in row, "training": training_summary(row),
             "tar": str(source / f"{name}.tar")}
    if "weights" in row:
        weights = join_parts(source / f"{name}.safetensors", folder / "generator.safetensors", row["weights"]["sha256"])
        entry["weights_file"] = str(weights)
        entry["weights_bytes"] = weights.stat().st_size
        write_predictions(weights, gray_dir, folder / "predictions", render_size, quality)
    elif not (folder / "predictions").is_dir():
        raise ValueError(f"{name} brought neither weights nor predictions back")
    entry["generator"] = details.get("generator")
    return entry


def write_predictions(weights: Path, gray_dir: Path, destination: Path, render_size: int, quality: int) -> None:
    """What the device does for rows that return no weights, here: the same inputs, the same JPEG quality."""
    from scripts.tools.model_pipeline.device_train import predict

    if not gray_dir.is_dir():
        raise FileNotFoundError(f"no gray val inputs at {gray_dir}: collect needs the pack the run was made from")
    for key, image in predict(str(weights), gray_dir, render_size, "auto").items():
        target = destination / f"{key}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target, "JPEG", quality=quality)


def training_summary(row: dict) -> dict:
    return {"seconds": row["seconds"], "budget_seconds": row["budget_seconds"],
            "stages": [{k: stage[k] for k in ("kind", "epochs_done", "epochs", "global_step", "seconds",
                                              "images_per_second", "stopped_at_deadline", "settings", "val")}
                       for stage in row["stages"]]}


def judge(candidate: dict, reference: dict) -> dict:
    """The issue's three rules for a candidate against the reference row."""
    fid, reference_fid = candidate.get("fid"), reference.get("fid")
    verdict = {
        "fid": None if fid is None or reference_fid is None else fid <= (1 - FID_GAIN) * reference_fid,
        "colorfulness": abs(candidate["colorfulness_gap"]) <= COLORFULNESS_TOLERANCE,
        "auc": candidate["auc"] >= reference["auc"],
    }
    verdict["accepted"] = all(verdict[rule] is True for rule in RULES)
    return verdict


def pick(acceptance: dict, rows: dict) -> str | None:
    """The accepted row with the lowest FID; without one, the row that meets the most rules (then lowest FID)."""
    if not acceptance:
        return None

    def rank(name):
        metrics = rows[name]["metrics"]
        met = sum(acceptance[name][rule] is True for rule in RULES)
        fid = metrics.get("fid")
        return (not acceptance[name]["accepted"], -met, float("inf") if fid is None else fid, -metrics["auc"])

    return min(acceptance, key=rank)


def install_default(result: dict, work: Path, weights_out: Path, force: bool) -> None:
    chosen = result["chosen"]
    if chosen is None:
        raise ValueError("no row brought weights back: nothing to install")
    if not result["accepted"] and not force:
        failed = [RULES[rule] for rule, ok in result["acceptance"][chosen].items() if rule in RULES and ok is not True]
        raise ValueError(f"no row meets every acceptance rule (the best, {chosen}, fails: {'; '.join(failed)}); "
                         f"the metrics are written; --force installs {chosen} anyway")
    weights = work / chosen / "generator.safetensors"
    if weights.stat().st_size > MAX_DEFAULT_BYTES:
        raise ValueError(f"{chosen}'s weights are {weights.stat().st_size / 1e6:.1f} MB, over the "
                         f"{MAX_DEFAULT_BYTES / 1e6:.0f} MB the repository ships")
    weights_out.parent.mkdir(parents=True, exist_ok=True)
    temporary = weights_out.with_suffix(".tmp")
    shutil.copyfile(weights, temporary)
    os.replace(temporary, weights_out)
    print(f"installed {chosen} ({weights.stat().st_size / 1e6:.1f} MB) as {weights_out}", flush=True)


def manifest_summary(manifest: dict) -> dict:
    return {"image_size": manifest["image_size"], "train_photos": manifest["train"]["count"],
            "train_webp_quality": manifest["train"]["quality"], "train_psnr": manifest["train"]["psnr_mean"],
            "val_gray_quality": manifest["val_gray"]["quality"], "val_gray_psnr": manifest["val_gray"]["l_psnr_mean"]}


def markdown(result: dict) -> str:
    """The metrics table, the acceptance table and the pick, for docs/model_metrics.md."""
    pack = result["pack"]
    lines = [f"# Default model: metrics on {result['images']} validation photos", "",
             f"Trained on {result['device']} (torch {result['torch']}) in {result['seconds']:.0f} s of a "
             f"{result['budget_seconds']:.0f} s budget by `scripts/tools/default_model.py train`; scored here by "
             f"`scripts/tools/default_model.py collect`: each row colorized the gray val inputs, and each prediction's a/b "
             f"was recombined with the photo's own L (`colorizer.evaluate.evaluate_predictions`). Training photos: "
             f"{pack['train_photos']} re-encoded as WebP q{pack['train_webp_quality']} "
             f"(PSNR {pack['train_psnr']:.1f} dB "
             f"against the originals); gray inputs WebP q{pack['val_gray_quality']} (PSNR {pack['val_gray_psnr']:.1f} "
             f"dB). Truth colorfulness {result['colorfulness_truth']:.2f}.", "",
             "| row | recipe | " + " | ".join(label for _, label, _ in COLUMNS) + " | training |",
             "|---|---|" + "---:|" * len(COLUMNS) + "---|"]
    entries = [("gray", "grayscale baseline", result["gray"], "")]
    for name, row in result["rows"].items():
        if "error" in row:
            entries.append((name, row["title"], None, f"failed on the device: {row['error']}"))
        else:
            entries.append((name, row["title"], row["metrics"], describe_training(row["training"])))
    for name, title, metrics, training in entries:
        if metrics is None:
            cells = ["" for _ in COLUMNS]
        else:
            cells = ["n/a" if metrics.get(key) is None else f"{metrics[key]:.{digits}f}" for key, _, digits in COLUMNS]
        shown = f"**{name}**" if name == result["chosen"] else name
        lines.append(f"| {shown} | {title} | " + " | ".join(cells) + f" | {training} |")
    lines += ["", f"## Acceptance against {result['reference']}", "",
              "| row | " + " | ".join(RULES.values()) + " | accepted |", "|---|" + "---|" * (len(RULES) + 1)]
    for name, verdict in result["acceptance"].items():
        marks = ["n/a" if verdict[rule] is None else ("yes" if verdict[rule] else "no") for rule in RULES]
        lines.append(f"| {name} | " + " | ".join(marks) + f" | {'yes' if verdict['accepted'] else 'no'} |")
    if result["chosen"] is None:
        lines += ["", "No row brought weights back: nothing to ship."]
    elif result["accepted"]:
        lines += ["", f"Chosen: **{result['chosen']}** ({result['rows'][result['chosen']]['title']}), the lowest FID "
                      f"among the rows that meet every rule."]
    else:
        lines += ["", f"No row meets every rule; the closest is **{result['chosen']}** "
                      f"({result['rows'][result['chosen']]['title']})."]
    return "\n".join(lines) + "\n"


def describe_training(training: dict) -> str:
    stages = ", ".join(f"{s['kind']} {s['epochs_done']}/{s['epochs']} ep ({s['global_step']} steps)"
                       for s in training["stages"])
    return f"{stages}; {training['seconds']:.0f} s"
