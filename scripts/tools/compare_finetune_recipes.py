"""Which fine-tuning recipe helps a model on a small set of photos? Fine-tune a base generator with
each recipe on the same photos, score every candidate and the base on the same held-out photos,
and print the table (figures, never asserted).

    .venv/bin/python scripts/tools/compare_finetune_recipes.py --photos FOLDER --base colorizer/weights/default.safetensors \
        --train 60 --held-out 60 --out /tmp/finetune-recipes

The recipes are those an admin can pick in the fine-tuning form (webapp/finetune); the form's
defaults are the one that did best here. The photos are split once (seeded): the first --train
go into every recipe, the next --held-out score them, as a fine-tuning job holds photos out.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# name: (l1_epochs, gan_epochs, learning rate, lambda_l1)
RECIPES = {
    "form defaults before (1 L1 + 3 GAN, lr 1e-4)": (1, 3, 1e-4, 100.0),
    "1 L1 + 1 GAN, lr 1e-4": (1, 1, 1e-4, 100.0),
    "2 L1, lr 2e-5": (2, 0, 2e-5, 100.0),
    "4 L1, lr 2e-5": (4, 0, 2e-5, 100.0),
    "2 L1 + 1 GAN, lr 2e-5": (2, 1, 2e-5, 100.0),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="a folder of colour photos (the admin's dataset)")
    parser.add_argument("--base", type=Path, required=True, help="the generator file to fine-tune")
    parser.add_argument("--out", type=Path, required=True, help="work folder (runs and the table)")
    parser.add_argument("--train", type=int, default=60, help="photos each recipe trains on")
    parser.add_argument("--held-out", type=int, default=60, help="photos every candidate is scored on")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--fid", action="store_true", help="also FID (noisy on few photos)")
    parser.add_argument("--only", action="append", help="run only recipes whose name contains this (repeat)")
    args = parser.parse_args(argv)

    from colorizer.data import scan_images
    from colorizer.evaluate import evaluate
    from colorizer.train import TrainConfig, train

    paths = scan_images(args.photos).paths
    if len(paths) < args.train + args.held_out:
        raise SystemExit(f"{args.photos} has {len(paths)} usable photos; {args.train + args.held_out} are needed")
    random.Random(0).shuffle(paths)
    train_dir, held_out_dir = args.out / "train", args.out / "held_out"
    split = {train_dir: paths[:args.train], held_out_dir: paths[args.train:args.train + args.held_out]}
    for folder, chosen in split.items():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for index, path in enumerate(chosen):
            shutil.copy(path, folder / f"{index:04d}{path.suffix.lower()}")

    def score(weights: Path) -> dict:
        return evaluate(str(weights), str(held_out_dir), fid=args.fid, render_size=args.image_size)["model"]

    rows = {"base (no fine-tuning)": {"metrics": score(args.base), "minutes": 0.0}}
    for name, (l1_epochs, gan_epochs, lr, lambda_l1) in RECIPES.items():
        if args.only and not any(part in name for part in args.only):
            continue
        started = time.time()
        result = train(TrainConfig(
            train_dir=str(train_dir), val_dir=str(held_out_dir), out_dir=str(args.out / "runs" / _slug(name)),
            init_generator=str(args.base), l1_epochs=l1_epochs, gan_epochs=gan_epochs, lr=lr, lambda_l1=lambda_l1,
            batch_size=args.batch_size, image_size=args.image_size, num_workers=0, resume=False, progress_bar=False,
            val_images=8))
        rows[name] = {"metrics": score(Path(result.generator_path)), "minutes": round((time.time() - started) / 60, 1)}
        print(f"{name}: {json.dumps(rows[name])}", flush=True)

    keys = ["auc", "ciede2000", "psnr", "colorfulness_gap"] + (["fid"] if args.fid else [])
    print(f"\n{args.train} training photos, {args.held_out} held-out photos of {args.photos}, base {args.base}\n")
    print("| recipe | " + " | ".join(keys) + " | minutes |")
    print("|---" * (len(keys) + 2) + "|")
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row['metrics'].get(k, float('nan')):.3f}" for k in keys)
              + f" | {row['minutes']} |")
    (args.out / "table.json").write_text(json.dumps(rows, indent=1))
    return 0


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")[:48]


if __name__ == "__main__":
    sys.exit(main())
