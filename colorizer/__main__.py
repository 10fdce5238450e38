"""The engine's command line.

    python -m colorizer train --train-dir photos/train --out-dir runs/unet --gan-epochs 20
    python -m colorizer nogan --train-dir photos/train --init colorizer/weights/default.safetensors --out-dir RUN
    python -m colorizer eval --weights runs/unet/generator.safetensors --data photos/val --baseline gray
    python -m colorizer eval --predictions runs/unet/predictions --data photos/val    # images made elsewhere
    python -m colorizer eval --weights hints.safetensors --data photos/val --hints 0,1,5,10  # N true hints
    python -m colorizer colorize old.jpg colour.jpg [--weights W] [--render-size 256] [--seed 7]
                                 [--hint 120,80,#c81e28 ...]    # a hint-capable model: colour hints
    python -m colorizer bench [--quick]
    python -m colorizer export --checkpoint runs/unet/checkpoints --out model.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "default.safetensors"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorizer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(commands.add_parser("train", help="train a generator (resumes from --out-dir)"))

    add_nogan_arguments(commands.add_parser("nogan", help="the default model's recipe: cached-encoder decoder "
                                                         "pre-training, critic, short GAN phase (resumes)"))

    sweep = commands.add_parser("temperature", help="score a generator at several annealed-mean "
                                                     "temperatures on a nogan run's held-out training photos")
    sweep.add_argument("--out-dir", required=True, help="the nogan run folder")
    sweep.add_argument("--weights", required=True, help="a generator file (a regression one is scored once)")
    sweep.add_argument("--values", default="0.2,0.3,0.38,0.5,0.7,1.0",
                       type=lambda text: [float(x) for x in text.split(",")], help="temperatures to score")
    sweep.add_argument("--no-fid", action="store_true")
    sweep.add_argument("--write", nargs=2, metavar=("T", "OUT"), help="instead of scoring: write the generator "
                                                                     "with annealed-mean temperature T to OUT")

    evaluate = commands.add_parser("eval", help="score a generator (or its predictions) on a folder of colour photos")
    scored = evaluate.add_mutually_exclusive_group(required=True)
    scored.add_argument("--weights", help="generator .safetensors")
    scored.add_argument("--predictions", help="folder or tar of colorized images named as the photos of --data "
                                              "(their a/b is scored with each photo's own L)")
    evaluate.add_argument("--data", required=True, help="folder tree of colour photos")
    evaluate.add_argument("--baseline", choices=["gray"], default=None, help="score a baseline beside the model")
    evaluate.add_argument("--json", dest="json_out", help="also write the results to this JSON file")
    evaluate.add_argument("--no-fid", action="store_true", help="skip FID (the Inception pass)")
    evaluate.add_argument("--limit", type=int, help="at most this many photos (a seeded subset)")
    evaluate.add_argument("--render-size", type=int, default=256)
    evaluate.add_argument("--hints", type=lambda text: [int(n) for n in text.split(",")],
                          help="a hint-capable generator: PSNR and AuC with each of these numbers of "
                               "ground-truth 5x5 hints per photo, e.g. 0,1,5,10 (seeded places)")
    evaluate.add_argument("--batch-size", type=int, default=16)
    evaluate.add_argument("--device", default="auto")

    colorize = commands.add_parser("colorize", help="colorize a photo (or every photo of a folder)")
    colorize.add_argument("input", help="an image file, or a folder of them")
    colorize.add_argument("output", help="the output file (its suffix picks the format), or a folder")
    colorize.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help=f"generator .safetensors "
                                                                         f"(default: {DEFAULT_WEIGHTS})")
    colorize.add_argument("--render-size", type=int, default=256, help="network resolution, ~pixels per side")
    colorize.add_argument("--seed", type=int, help="keep dropout on with this seed: another variation")
    colorize.add_argument("--quality", type=int, default=92, help="JPEG quality")
    colorize.add_argument("--hint", dest="hints", action="append", type=parse_hint, default=[],
                          metavar="X,Y,#RRGGBB", help="a colour hint at pixel X,Y of the upright photo "
                                                      "(repeatable; hint-capable models only)")
    colorize.add_argument("--device", default="auto")

    bench = commands.add_parser("bench", help="print speed figures")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions, no torch.compile")

    export = commands.add_parser("export", help="write the fp16 generator file of a training checkpoint")
    export.add_argument("--checkpoint", required=True, help="a run's checkpoints folder (or the run folder; a "
                                                            "nogan run's folder exports its last checkpoint)")
    export.add_argument("--out", required=True, help="destination .safetensors")
    export.add_argument("--ema", action=argparse.BooleanOptionalAction, default=True,
                        help="the moving average of the weights (default, when the run kept one) or the live ones")

    args = parser.parse_args(argv)
    try:
        return {"train": run_train, "nogan": run_nogan, "temperature": run_temperature, "eval": run_eval,
                "colorize": run_colorize, "bench": run_bench,
                "export": run_export}[args.command](args)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


# --------------------------------------------------------------------------------------


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    from colorizer.train import TrainConfig

    d = TrainConfig()
    g = d.generator
    parser.add_argument("--train-dir", required=True, help="folder tree of colour photos")
    parser.add_argument("--out-dir", default=d.out_dir, help="run folder (a checkpoint there is resumed)")
    parser.add_argument("--val-dir", help="validation photos (default: hold out --val-split of the training photos)")
    parser.add_argument("--val-split", type=float, default=d.val_split)
    parser.add_argument("--max-images", type=int, help="use at most this many training photos")
    parser.add_argument("--image-size", type=int, default=d.image_size, help="photos are decoded at this size")
    parser.add_argument("--crop-size", type=int, help="training crop side (default: --image-size)")
    parser.add_argument("--min-crop-scale", type=float, default=d.min_crop_scale, help="smallest crop area fraction")
    parser.add_argument("--max-crop-scale", type=float, default=d.max_crop_scale, help="largest crop area fraction")
    parser.add_argument("--decoder-widths", type=lambda text: tuple(int(w) for w in text.split(",")),
                        default=g.decoder_widths, help="pretrained-encoder decoder widths, e.g. 256,128,64,32,16")
    parser.add_argument("--arch", choices=["unet", "resnet18", "efficientnet_lite0"], default=g.arch)
    parser.add_argument("--base-width", type=int, default=g.base_width, help="unet: width of the first layer")
    parser.add_argument("--num-downs", type=int, default=g.num_downs, help="unet: stride-2 layers")
    parser.add_argument("--dropout", type=float, default=g.dropout)
    parser.add_argument("--encoder-weights", help='pretrained encoder: "imagenet" (efficientnet_lite0) or a file')
    parser.add_argument("--init-generator", help="fine-tune this generator .safetensors")
    parser.add_argument("--hints", action="store_true", help="train a hint-capable generator: one without "
                                                             "hint inputs gains them, zero-initialised")
    parser.add_argument("--hints-only", action="store_true", help="with --hints: train only the hint inputs, so "
                                                                  "with no hints the generator stays as it was")
    parser.add_argument("--l1-epochs", type=int, default=d.l1_epochs, help="stage 1: L1 only")
    parser.add_argument("--gan-epochs", type=int, default=d.gan_epochs, help="stage 2: GAN + lambda * L1")
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--beta1", type=float, default=d.beta1, help="Adam momentum (the paper: 0.5)")
    parser.add_argument("--lambda-l1", type=float, default=d.lambda_l1)
    parser.add_argument("--gan-mode", choices=["vanilla", "lsgan", "hinge"], default=d.gan_mode)
    parser.add_argument("--ema-decay", type=float, default=d.ema_decay, help="0 turns the weight average off")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--device", default=d.device)
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks (CUDA)")
    parser.add_argument("--num-workers", type=int, default=d.num_workers)
    parser.add_argument("--cache", dest="cache_images", action=argparse.BooleanOptionalAction, default=None,
                        help="keep decoded photos on the device (default: on CUDA when they fit)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if --out-dir has a checkpoint")
    parser.add_argument("--log-every", type=int, default=d.log_every)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_train(args) -> int:
    from colorizer.model import GeneratorConfig
    from colorizer.train import TrainConfig, train

    config = TrainConfig(
        train_dir=args.train_dir, out_dir=args.out_dir, val_dir=args.val_dir, val_split=args.val_split,
        max_images=args.max_images, image_size=args.image_size, crop_size=args.crop_size,
        min_crop_scale=args.min_crop_scale, max_crop_scale=args.max_crop_scale,
        generator=GeneratorConfig(arch=args.arch, base_width=args.base_width, num_downs=args.num_downs,
                                  dropout=args.dropout, encoder_weights=args.encoder_weights,
                                  decoder_widths=args.decoder_widths),
        init_generator=args.init_generator, hints=args.hints, hints_only=args.hints_only,
        l1_epochs=args.l1_epochs, gan_epochs=args.gan_epochs,
        batch_size=args.batch_size, lr=args.lr, beta1=args.beta1, lambda_l1=args.lambda_l1, gan_mode=args.gan_mode,
        ema_decay=args.ema_decay, max_steps=args.max_steps, seed=args.seed, device=args.device,
        compile=args.compile, num_workers=args.num_workers, cache_images=args.cache_images,
        resume=not args.no_resume, log_every=args.log_every, progress_bar=not args.no_progress)
    result = train(config)
    print(json.dumps({"generator": result.generator_path, "val": result.val_metrics, "curves": result.curves,
                      "samples": result.sample_grid, "global_step": result.global_step,
                      "data": {name: scan["summary"] for name, scan in result.data.items()}}, indent=1))
    return 0


def add_nogan_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per NoGANConfig field (--gan-steps for gan_steps), its default from the config."""
    import dataclasses

    from colorizer.nogan import NoGANConfig

    for f in dataclasses.fields(NoGANConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "init_generator":
            parser.add_argument("--init", dest=f.name, required=True, help="generator .safetensors to start from")
        elif f.default is dataclasses.MISSING:
            parser.add_argument(flag, dest=f.name, required=True)
        elif isinstance(f.default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default)
        elif isinstance(f.default, tuple):
            parser.add_argument(flag, dest=f.name, default=f.default,
                                type=lambda text: tuple(float(x) for x in text.split(",")))
        else:
            plain = type(f.default) if f.default is not None else str
            kind = {"int | None": int, "str | None": str}.get(str(f.type), plain)
            parser.add_argument(flag, dest=f.name, type=kind, default=f.default)


def run_nogan(args) -> int:
    import dataclasses

    from colorizer.nogan import NoGANConfig, train_nogan

    config = NoGANConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(NoGANConfig)})
    state = train_nogan(config)
    print(json.dumps({"phase": state.phase, "history": state.history}, indent=1))
    return 0


def run_temperature(args) -> int:
    from colorizer.evaluate import format_table
    from colorizer.nogan import NoGANConfig
    from colorizer.nogan_export import sweep_temperatures, write_temperature

    if args.write:
        write_temperature(args.weights, float(args.write[0]), args.write[1])
        print(args.write[1])
        return 0

    config = NoGANConfig.from_dict(json.loads((Path(args.out_dir) / "config.json").read_text()))
    result = sweep_temperatures(config, args.weights, args.values, fid=not args.no_fid)
    print(format_table(result))
    return 0


def run_eval(args) -> int:
    from colorizer.evaluate import evaluate, evaluate_predictions, format_table

    if args.hints is not None:
        if args.predictions:
            raise ValueError("--hints scores a generator (--weights), not predictions")
        from colorizer.hint_eval import evaluate_hints, format_hint_table

        result = evaluate_hints(args.weights, args.data, args.hints, limit=args.limit, render_size=args.render_size,
                                device=args.device, progress=True)
        print(format_hint_table(result))
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result, indent=1))
        return 0
    if args.predictions:
        result = evaluate_predictions(args.predictions, args.data, baseline=args.baseline, fid=not args.no_fid,
                                      limit=args.limit, batch_size=args.batch_size, device=args.device, progress=True)
    else:
        result = evaluate(args.weights, args.data, baseline=args.baseline, fid=not args.no_fid, limit=args.limit,
                          render_size=args.render_size, batch_size=args.batch_size, device=args.device,
                          progress=True)
    print(format_table(result))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1))
    return 0


def parse_hint(text: str) -> tuple[float, float, tuple[int, int, int]]:
    """"X,Y,#RRGGBB" -> (x, y, (r, g, b))."""
    try:
        x, y, colour = text.split(",")
        colour = colour.strip().lstrip("#")
        if len(colour) != 6:
            raise ValueError
        return float(x), float(y), tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a hint is X,Y,#RRGGBB (got {text!r})") from None


def run_colorize(args) -> int:
    from PIL import Image

    from colorizer.inference import Colorizer
    from colorizer.photos import IMAGE_EXTENSIONS

    weights = Path(args.weights)
    if not weights.is_file():
        raise FileNotFoundError(f"no generator weights at {weights}: pass --weights, or train one with "
                                f"`python -m colorizer train` and export it")
    source, target = Path(args.input), Path(args.output)
    if source.is_dir():
        pairs = [(p, target / (p.stem + ".jpg")) for p in sorted(source.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS]
        target.mkdir(parents=True, exist_ok=True)
    else:
        pairs = [(source, target)]
    if args.hints and len(pairs) != 1:
        raise ValueError("--hint places a colour on one photo: give a file, not a folder")
    colorizer = Colorizer.load(weights, device=args.device)
    for src, dst in pairs:
        with Image.open(src) as image:
            result = colorizer.colorize(image, render_size=args.render_size, seed=args.seed, hints=args.hints)
        if dst.suffix.lower() in (".jpg", ".jpeg"):
            result.convert("RGB").save(dst, quality=args.quality)  # JPEG has no alpha
        else:
            result.save(dst)
        print(dst)
    return 0


def run_bench(args) -> int:
    from colorizer.bench import run

    run(quick=args.quick)
    return 0


def run_export(args) -> int:
    from colorizer.checkpoint import load_generator, save_generator

    folder = Path(args.checkpoint)
    if (folder / "checkpoints" / "last.json").is_file():  # a nogan run
        from colorizer.nogan import NoGANConfig
        from colorizer.nogan_export import export_checkpoint

        config = NoGANConfig.from_dict(json.loads((folder / "config.json").read_text()))
        state = export_checkpoint(config, args.out, average=args.ema)
        print(f"{args.out} (phase {state.phase}, epoch {state.epoch}, step {state.step})")
        return 0
    if (folder / "checkpoints" / "state.json").is_file():
        folder = folder / "checkpoints"
    state_file = folder / "state.json"
    if not state_file.is_file():
        raise FileNotFoundError(f"no training checkpoint in {args.checkpoint} (state.json missing)")
    ema_file = folder / "generator_ema.safetensors"
    source = ema_file if args.ema and ema_file.is_file() else folder / "generator.safetensors"
    state_dict, config, _ = load_generator(source)
    state = json.loads(state_file.read_text())
    history = state.get("history") or [{}]
    save_generator(args.out, state_dict, config, extra={
        "trained_by": "colorizer.train", "arch": config.get("arch"), "epochs": len(state.get("history", [])),
        "global_step": state.get("global_step"), "ema": source == ema_file, "val": history[-1].get("val", {}),
        "train_dir": state.get("config", {}).get("train_dir")})
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
