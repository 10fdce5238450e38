"""What comes out of a NoGAN run: its colour temperature chosen on the run's held-out training
photos (`python -m colorizer temperature`), and a generator file from its last checkpoint
(`python -m colorizer export --checkpoint RUN`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from colorizer.checkpoint import load_state
from colorizer.feature_cache import FeatureCache
from colorizer.nogan import NoGANConfig, RunState, split_rows
from colorizer.nogan_networks import Recipe


@torch.no_grad()
def sweep_temperatures(config: NoGANConfig, weights: str | os.PathLike, temperatures: list[float],
                       fid: bool = True) -> dict:
    """Score one generator file on a run's held-out training photos (never val) at each
    annealed-mean temperature: PSNR, AuC, colourfulness gap and FID, as the engine's eval reports
    them. Lower T is more colourful; pick the T that trades accuracy for colour best. A generator
    with the regression head is scored once, as it is (a baseline on the same photos)."""
    from colorizer import metrics
    from colorizer.color import model_pair_to_rgb
    from colorizer.evaluate import Scoreboard
    from colorizer.inference import Colorizer

    cache = FeatureCache(config.cache_dir or Path(config.out_dir) / "feature_cache", variants=1)  # memory-mapped
    holdout, _ = split_rows(cache.count, config.holdout, config.seed)
    generator = Colorizer.load(weights, device="cpu").generator
    labels = {t: f"T={t:g}" for t in temperatures} if generator.bins is not None else {None: "as trained"}
    board = Scoreboard(list(labels.values()), baseline=None, inception=metrics.InceptionFeatures() if fid else None)
    for start in range(0, len(holdout), 32):
        _, L, ab = cache.batch(holdout[start:start + 32], 0)
        x = L.contiguous(memory_format=torch.channels_last)
        head_output = generator.decode(generator.encoder(x), x)  # its own encoder: the cache's may differ
        truth = model_pair_to_rgb(L, ab)
        outputs = {label: model_pair_to_rgb(L, generator.to_ab(head_output, L.shape[-2:], temperature=t))
                   for t, label in labels.items()}
        for row in range(len(L)):
            board.add(truth[row:row + 1], {label: (rgb[row:row + 1] * 255).round() / 255
                                           for label, rgb in outputs.items()})
        board.flush()
    return {**board.summary(), "methods": list(labels.values()), "images": len(holdout),
            "data_dir": f"the held-out training photos of {config.train_dir}", "render_size": config.image_size}


def export_checkpoint(config: NoGANConfig, path: str | os.PathLike, average: bool = True) -> RunState:
    """Write the generator of a run's last checkpoint (mid-epoch too): the weight average, or the
    live weights. Reads only the checkpoint and the starting generator, not the photos."""
    recipe = Recipe(config)
    stem = Path(config.out_dir) / "checkpoints" / "last"
    if not stem.with_suffix(".json").exists():
        raise FileNotFoundError(f"no nogan checkpoint in {config.out_dir}")
    saved = load_state(stem, device=recipe.device)
    recipe.load(saved["networks"])
    state = RunState(**saved["run"])
    recipe.export(Path(path), extra={"recipe": "nogan", "phase": state.phase, "epoch": state.epoch,
                                     "step": state.step, "average": average}, average=average)
    return state


def write_temperature(weights: str | os.PathLike, temperature: float, out: str | os.PathLike) -> None:
    """Copy a bins-head generator file to `out` with its annealed-mean temperature set to T."""
    from colorizer.checkpoint import load_generator, save_generator
    from colorizer.model import GeneratorConfig

    state, config, extra = load_generator(weights)
    config = GeneratorConfig.from_dict({**config, "temperature": float(temperature)})  # validates T
    if config.head != "bins":
        raise ValueError(f"{weights} has no bins head: it has no temperature")
    save_generator(out, state, config.to_dict(), extra={**extra, "temperature": config.temperature})
