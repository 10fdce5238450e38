"""Train the default model on a folder of photos with one command, then score it and ship it.

On a machine with an NVIDIA GPU (a CPU works too, far slower), from the repository root:

    .venv/bin/python scripts/tools/default_model.py train --photos ~/photos/train --out ~/hue-runs/default \\
        --val-photos ~/photos/val --bw-samples ~/photos/bw

trains the recipe of docs/MODEL_CARD.md (an L1 stage on a pretrained encoder, then NoGAN),
chooses its colour temperature, trains its colour-hint inputs alone, scores it beside its first
stage and the grayscale baseline on
the validation photos (docs/model_metrics.md's table) and draws the before/after sheet. Stopped
at any point, the same command continues where it stopped. `--smoke` runs the same chain with
tiny networks in seconds first, to check the machine and the photos. `--install` then copies
the generator to colorizer/weights/default.safetensors and its metrics and sheet into docs/.

The metrics table of generators trained otherwise, from `python -m colorizer eval --json` files:

    .venv/bin/python scripts/tools/default_model.py score --row interim-l1 "L1 only" runs/eval-l1.json \\
        --row interim-gan "then GAN" runs/eval-gan.json --chosen interim-l1

Ship a generator trained otherwise as the default (its metadata's local paths cut to their last
two parts; the metrics files are written by `score`):

    .venv/bin/python scripts/tools/default_model.py install --generator runs/hints/generator.safetensors

Before/after sheet of any generator(s):

    .venv/bin/python scripts/tools/default_model.py sheet --weights colorizer/weights/default.safetensors \\
        --samples ~/photos/bw --out docs/bw_samples_sheet.png
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python scripts/tools/default_model.py` puts its own folder on the path

MAX_DEFAULT_BYTES = 40_000_000  # the shipped generator stays under this: the repository carries it


def main(argv: list[str] | None = None) -> int:
    from scripts.tools.model_pipeline.recipe import DefaultRecipe

    recipe = DefaultRecipe()
    parser = argparse.ArgumentParser(prog="scripts/tools/default_model.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train, score and draw the default model (resumable)")
    train.add_argument("--photos", type=Path, required=True, help="folder tree of colour training photos")
    train.add_argument("--out", type=Path, required=True, help="the run folder (rerun the command to continue)")
    train.add_argument("--val-photos", type=Path, help="colour photos never trained on: score the result on them")
    train.add_argument("--bw-samples", type=Path, help="real black-and-white photos: draw the before/after sheet")
    train.add_argument("--install", action="store_true", help="then copy the generator to colorizer/weights/ and "
                                                              "its metrics and sheet to docs/ (needs --val-photos)")
    train.add_argument("--smoke", action="store_true", help="tiny networks, a few steps, on the CPU: a check of the "
                                                            "chain in seconds, not a model")
    # The recipe's own values unless given (then they win over --smoke's too).
    train.add_argument("--device", help=f'"auto" (CUDA when present), "cuda" or "cpu" (default: {recipe.device})')
    train.add_argument("--l1-epochs", type=int, help=f"stage 1 epochs (default: {recipe.l1_epochs})")
    train.add_argument("--nogan-epochs", type=int, help=f"stage 2 pre-training epochs (default: {recipe.nogan_epochs})")
    train.add_argument("--gan-steps", type=int, help=f"stage 2 adversarial steps (default: {recipe.gan_steps})")
    train.add_argument("--num-workers", type=int, help=f"photo-decoding processes (default: {recipe.num_workers})")
    train.add_argument("--no-fid", action="store_true", help="skip FID when choosing the temperature and scoring")

    score = commands.add_parser("score", help="the metrics table of generators trained otherwise, from their "
                                               "`python -m colorizer eval --json` files")
    score.add_argument("--row", nargs=3, action="append", metavar=("NAME", "TITLE", "EVAL_JSON"), required=True,
                       help="a row of the table (repeat); one of the evaluations must include --baseline gray")
    score.add_argument("--chosen", required=True, help="the row that ships (version 1 takes its metrics)")
    score.add_argument("--docs", type=Path, default=ROOT / "docs", help="model_metrics.json/.md go here")

    ship = commands.add_parser("install", help="copy one generator file to colorizer/weights/default.safetensors")
    ship.add_argument("--generator", type=Path, required=True, help="an fp16 generator .safetensors")

    sheet = commands.add_parser("sheet", help="before/after sheet of real B&W photos for the model card")
    sheet.add_argument("--weights", type=Path, nargs="+", required=True,
                       help="a generator file, or several to show side by side in this order")
    sheet.add_argument("--samples", type=Path, required=True, help="a folder of real black-and-white photos")
    sheet.add_argument("--out", type=Path, default=ROOT / "docs" / "bw_samples_sheet.png")
    sheet.add_argument("--height", type=int, default=200, help="pixels per photo, before any shrinking to fit")
    sheet.add_argument("--columns", type=int, default=3, help="pairs per row")
    sheet.add_argument("--max-bytes", type=int, default=1_500_000)
    sheet.add_argument("--device", default="auto")

    args = parser.parse_args(argv)
    try:
        return {"train": run_train, "score": run_score, "sheet": run_sheet,
                "install": lambda args: install_generator(args.generator, ROOT) or 0}[args.command](args)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_train(args) -> int:
    from scripts.tools.model_pipeline.chain import train_default_model
    from scripts.tools.model_pipeline.recipe import DefaultRecipe

    if args.install and args.val_photos is None:
        raise ValueError("--install ships metrics with the generator: give --val-photos")
    if args.install and args.smoke:
        raise ValueError("a --smoke run's generator is not a model: it is never installed")
    recipe = DefaultRecipe().smoke() if args.smoke else DefaultRecipe()
    given = {name: getattr(args, name) for name in ("device", "l1_epochs", "nogan_epochs", "gan_steps", "num_workers")}
    recipe = replace(recipe, **{name: value for name, value in given.items() if value is not None})
    if args.no_fid:
        recipe = replace(recipe, temperature_fid=False, eval_fid=False)
    done = train_default_model(args.photos, args.out, recipe, val_photos=args.val_photos, bw_samples=args.bw_samples,
                               log=lambda line: print(line, flush=True))
    if args.install:
        install(args.out, ROOT)
    print(json.dumps({"generator": done["temperature"]["generator"],
                      "temperature": done["temperature"]["temperature"],
                      "metrics": done.get("eval", {}).get("metrics")}))
    return 0


def install(run: Path, root: Path) -> None:
    """The run's generator as the shipped model, its metrics (and sheet) beside the model card."""
    install_generator(run / "generator.safetensors", root)
    copies = {run / "model_metrics.json": root / "docs" / "model_metrics.json",
              run / "model_metrics.md": root / "docs" / "model_metrics.md"}
    if (run / "bw_samples_sheet.png").is_file():
        copies[run / "bw_samples_sheet.png"] = root / "docs" / "bw_samples_sheet.png"
    for source, target in copies.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)  # a reader never sees half a file
        print(f"installed {target}")


def install_generator(generator: Path, root: Path) -> None:
    """The generator as colorizer/weights/default.safetensors: fp16, under the size the repository
    carries, and with the paths its metadata recorded cut to their last two parts (photos/train),
    so the shipped file names no folder of the machine that trained it."""
    import torch

    from colorizer.checkpoint import load_generator, save_generator

    if generator.stat().st_size > MAX_DEFAULT_BYTES:
        raise ValueError(f"{generator} is {generator.stat().st_size / 1e6:.1f} MB, over the "
                         f"{MAX_DEFAULT_BYTES / 1e6:.0f} MB the repository ships")
    state, config, extra = load_generator(generator)
    if any(t.is_floating_point() and t.dtype != torch.float16 for t in state.values()):
        raise ValueError(f"{generator} is not fp16: export it with the engine (its runs write fp16 generators)")
    extra = {key: portable_path(value) if key in ("train_dir", "val_dir", "init_generator") else value
             for key, value in extra.items()}
    target = root / "colorizer" / "weights" / "default.safetensors"
    save_generator(target, state, config, extra=extra)
    print(f"installed {target}")


def portable_path(value):
    """An absolute path as its last two parts (/home/me/photos/train -> photos/train); anything else as is."""
    if isinstance(value, str) and Path(value).is_absolute():
        return str(Path(*Path(value).parts[-2:]))
    return value


def run_score(args) -> int:
    from scripts.tools.model_pipeline.score import markdown, table

    result = table({name: (title, path) for name, title, path in args.row}, args.chosen, args.docs)
    print(markdown(result))
    return 0


def run_sheet(args) -> int:
    from scripts.tools.model_pipeline.sheet import make_sheet

    print(make_sheet(list(args.weights), args.samples, args.out, height=args.height, columns=args.columns,
                     max_bytes=args.max_bytes, device=args.device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
