"""Train the default model on a folder of photos, stage after stage, in one run folder.

    summary = train_default_model(Path("photos/train"), Path("runs/default"), DefaultRecipe(),
                                  val_photos=Path("photos/val"), bw_samples=Path("bw"))

The run folder (RUN) holds every stage's own folder and what the chain made of them:

    recipe.json                    the recipe the run was started with (a rerun must use the same)
    progress.json                  each finished stage's result; a rerun skips those
    1-l1/                          stage 1, colorizer.train's run folder (checkpoints, log, curves, samples)
    2-nogan/                       stage 2, colorizer.nogan's run folder (feature cache, checkpoints, snapshots)
    temperatures.json              the last snapshot scored at each temperature on held-out training photos
    tempered.safetensors           the last snapshot with the chosen temperature (fp16)
    3-hints/                       stage 3, colorizer.train's run folder: its colour-hint inputs alone
    generator.safetensors          the result: the tempered generator with its hint inputs (fp16)
    eval-l1.json, eval-default.json, model_metrics.json, model_metrics.md
                                   with validation photos: both stages' generators and the gray baseline
    bw_samples_sheet.png           with black-and-white samples: the before/after sheet

Stopped at any point (Ctrl-C, a lost machine), the same command continues: finished stages are
skipped and the unfinished one resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from scripts.tools.model_pipeline.recipe import DefaultRecipe

L1_TITLE = "stage 1: EfficientNet-Lite0 U-Net (ImageNet encoder), L1 with weight averaging"
DEFAULT_TITLE = ("default recipe: stage 1, then bins head + feature loss, critic, short GAN (NoGAN), "
                 "then colour-hint inputs")


def train_default_model(photos: Path, out: Path, recipe: DefaultRecipe, val_photos: Path | None = None,
                        bw_samples: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """Run (or continue) every stage; returns progress.json's content."""
    if not Path(photos).is_dir():
        raise FileNotFoundError(f"no such folder of photos: {photos}")
    out.mkdir(parents=True, exist_ok=True)
    check_recipe(out / "recipe.json", recipe)
    progress = Progress(out / "progress.json", log)
    l1 = progress.stage("l1", lambda: train_l1(photos, out / "1-l1", recipe, log))
    nogan = progress.stage("nogan", lambda: train_nogan_stage(photos, out / "2-nogan", l1["generator"], recipe, log))
    tempered = progress.stage("temperature", lambda: choose_temperature(out, nogan["generator"], recipe))
    final = progress.stage("hints", lambda: train_hints(photos, out, tempered["generator"], recipe, log))
    if val_photos is not None:
        progress.stage("eval", lambda: score(out, l1["generator"], final["generator"], val_photos, recipe))
    if bw_samples is not None:
        progress.stage("sheet", lambda: draw_sheet(out, final["generator"], bw_samples, recipe))
    return progress.done


def check_recipe(path: Path, recipe: DefaultRecipe) -> None:
    """A run folder continues only the recipe it was started with: a changed one would mix two runs."""
    wanted = json.loads(json.dumps(asdict(recipe)))  # tuples as lists, as the file holds them
    if path.is_file():
        started = json.loads(path.read_text())
        changed = sorted(key for key in set(started) | set(wanted) if started.get(key) != wanted.get(key))
        if changed:
            raise ValueError(f"{path.parent} was started with another recipe ({', '.join(changed)} differ): "
                             f"continue it with the same options, or start a new run folder")
    else:
        path.write_text(json.dumps(wanted, indent=1) + "\n")


class Progress:
    """progress.json: the result of each finished stage, written as soon as the stage ends."""

    def __init__(self, path: Path, log: Callable[[str], None]):
        self.path, self.log = path, log
        self.done = json.loads(path.read_text()) if path.is_file() else {}

    def stage(self, name: str, run: Callable[[], dict]) -> dict:
        if name in self.done:
            self.log(f"{name}: done earlier, skipped")
            return self.done[name]
        self.log(f"{name}: starting")
        self.done[name] = run()
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.done, indent=1) + "\n")
        temporary.replace(self.path)
        self.log(f"{name}: done {json.dumps(self.done[name])}")
        return self.done[name]


def train_l1(photos: Path, folder: Path, recipe: DefaultRecipe, log: Callable[[str], None]) -> dict:
    from colorizer.model import GeneratorConfig
    from colorizer.train import TrainConfig, train

    config = TrainConfig(
        train_dir=str(photos), out_dir=str(folder), val_split=recipe.val_split, image_size=recipe.l1_image_size,
        generator=GeneratorConfig(arch=recipe.arch, encoder_weights=recipe.encoder_weights,
                                  decoder_widths=recipe.decoder_widths),
        l1_epochs=recipe.l1_epochs, gan_epochs=0, batch_size=recipe.l1_batch_size, lr=recipe.l1_lr,
        beta1=recipe.l1_beta1, ema_decay=recipe.ema_decay, max_steps=recipe.l1_max_steps, seed=recipe.seed,
        device=recipe.device, num_workers=recipe.num_workers, resume=True, progress_bar=False)

    def report(event: dict) -> None:
        if event["kind"] == "epoch":
            log(f"l1: epoch {event['epoch']}/{event['epochs']}, step {event['global_step']}, val {event.get('val')}")

    result = train(config, on_progress=report)
    return {"generator": result.generator_path, "global_step": result.global_step, "val": result.val_metrics}


def train_nogan_stage(photos: Path, folder: Path, init_generator: str, recipe: DefaultRecipe,
                      log: Callable[[str], None]) -> dict:
    from colorizer.nogan import NoGANConfig, train_nogan

    config = NoGANConfig(
        train_dir=str(photos), init_generator=init_generator, out_dir=str(folder),
        image_size=recipe.nogan_image_size, variants=recipe.variants, holdout=recipe.holdout,
        generator_epochs=recipe.nogan_epochs, batch_size=recipe.nogan_batch_size, critic_steps=recipe.critic_steps,
        gan_steps=recipe.gan_steps, snapshot_every=recipe.snapshot_every, seed=recipe.seed, device=recipe.device)
    state = train_nogan(config, log=lambda line: log(f"nogan: {line}"))
    # The last snapshot goes on (DeOldify picks among them by eye; `python -m colorizer temperature`
    # scores any other snapshot of 2-nogan/ the same way).
    written = sorted(folder.glob("generator_gan_*.safetensors")) or sorted(folder.glob("generator_epoch_*.safetensors"))
    if state.phase != "done" or not written:
        raise RuntimeError(f"the NoGAN stage ended in phase {state.phase!r} without a generator")
    return {"generator": str(written[-1]), "steps": state.total_steps}


def choose_temperature(out: Path, snapshot: str, recipe: DefaultRecipe) -> dict:
    """Score the snapshot at each temperature on NoGAN's held-out training photos; keep the one
    whose colourfulness is closest to the photos' own (then the higher AuC)."""
    from colorizer.nogan import NoGANConfig
    from colorizer.nogan_export import sweep_temperatures, write_temperature

    config = NoGANConfig.from_dict(json.loads((out / "2-nogan" / "config.json").read_text()))
    result = sweep_temperatures(config, snapshot, list(recipe.temperatures), fid=recipe.temperature_fid)
    (out / "temperatures.json").write_text(json.dumps(result, indent=1) + "\n")
    generator = out / "tempered.safetensors"
    if result["methods"] == ["as trained"]:  # a regression head has no temperature
        shutil.copyfile(snapshot, generator)
        return {"generator": str(generator), "temperature": None}
    scores = {t: result[f"T={t:g}"] for t in recipe.temperatures}
    best = min(scores, key=lambda t: (abs(scores[t]["colorfulness_gap"]), -scores[t]["auc"]))
    write_temperature(snapshot, best, generator)
    return {"generator": str(generator), "temperature": best, "holdout": scores[best]}


def train_hints(photos: Path, out: Path, init_generator: str, recipe: DefaultRecipe,
                log: Callable[[str], None]) -> dict:
    """The tempered generator's colour-hint inputs alone, on simulated hints: with none it is unchanged."""
    from colorizer.train import TrainConfig, train

    config = TrainConfig(
        train_dir=str(photos), out_dir=str(out / "3-hints"), val_split=recipe.val_split,
        image_size=recipe.hint_image_size, init_generator=init_generator, hints=True, hints_only=True,
        l1_epochs=recipe.hint_epochs, gan_epochs=0, batch_size=recipe.nogan_batch_size, lr=recipe.hint_lr,
        ema_decay=recipe.ema_decay, max_steps=recipe.hint_max_steps, seed=recipe.seed, device=recipe.device,
        num_workers=recipe.num_workers, resume=True, progress_bar=False)

    def report(event: dict) -> None:
        if event["kind"] == "epoch":
            log(f"hints: epoch {event['epoch']}/{event['epochs']}, step {event['global_step']}")

    result = train(config, on_progress=report)
    generator = out / "generator.safetensors"
    shutil.copyfile(result.generator_path, generator)
    return {"generator": str(generator), "global_step": result.global_step}


def score(out: Path, l1_generator: str, generator: str, val_photos: Path, recipe: DefaultRecipe) -> dict:
    """Both stages' generators and the gray baseline on the validation photos; the metrics table."""
    from colorizer.evaluate import evaluate
    from scripts.tools.model_pipeline.score import table

    rows = {}
    for name, title, weights, baseline in (("l1", L1_TITLE, l1_generator, "gray"),
                                           ("default", DEFAULT_TITLE, generator, None)):
        path = out / f"eval-{name}.json"
        path.write_text(json.dumps(evaluate(weights, val_photos, baseline=baseline, fid=recipe.eval_fid,
                                            device=recipe.device, progress=True), indent=1))
        rows[name] = (title, path)
    result = table(rows, chosen="default", docs=out)
    return {"metrics": str(out / "model_metrics.json"), "model": result["rows"]["default"]["metrics"]}


def draw_sheet(out: Path, generator: str, bw_samples: Path, recipe: DefaultRecipe) -> dict:
    from scripts.tools.model_pipeline.sheet import make_sheet

    return {"sheet": make_sheet(generator, bw_samples, out / "bw_samples_sheet.png", device=recipe.device)}
