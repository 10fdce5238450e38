"""The default model's recipe: DeOldify's NoGAN schedule on a frozen pretrained encoder.

    1. generator  the decoder learns on cached encoder features (colorizer.feature_cache):
                  colour classification (Zhang et al. 2016) + L1 + the feature loss, several epochs
    2. critic     the PatchGAN learns to tell the frozen generator's colours from real ones
    3. gan        a short adversarial phase; the generator is written out every few hundred steps,
                  and the snapshot to ship is picked afterwards (val FID, colourfulness, the eye)

Only the decoder and the discriminator train, so every step skips the encoder (the costliest
half of a CPU step). Everything lands in out_dir:
    checkpoints/last.{json,safetensors}   decoder, EMA, D, optimizers, RunState: a restart continues
    log.jsonl                             one line per logged step, per epoch and per snapshot
    generator_epoch_NN.safetensors        the EMA generator after each pre-training epoch
    generator_gan_NNNNN.safetensors       the EMA generator every `snapshot_every` GAN steps

    python -m colorizer nogan --train-dir photos/train --init colorizer/weights/default.safetensors --out-dir RUN

This file is the schedule (config, phases, run folder); colorizer/nogan_networks.py holds the
networks and losses it drives, colorizer/nogan_export.py the temperature sweep and the export.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from colorizer.color import AB_SCALE
from colorizer.checkpoint import load_state, save_state
from colorizer.data import epoch_order, scan_images
from colorizer.feature_cache import FeatureCache
from colorizer.nogan_networks import Recipe, build_critic  # noqa: F401 (build_critic: importable from here too)


@dataclass
class NoGANConfig:
    train_dir: str  # folder tree of colour photos
    init_generator: str  # a pretrained-encoder generator file: its encoder (frozen) and decoder start the run
    out_dir: str  # the run folder; a checkpoint there is resumed
    cache_dir: str | None = None  # encoder feature cache; None = out_dir/feature_cache
    # the generator
    head: str = "bins"  # "bins" (a/b classification) or "tanh" (a/b regression)
    bin_step: int = 10  # bins head: a/b cell side in Lab units
    temperature: float = 0.38  # bins head: annealed-mean temperature written into the generator files
    # data
    image_size: int = 128  # training side; the encoder features are cached at this size
    variants: int = 3  # cached augmentations per photo (variant 0 is the plain photo)
    cache_in_memory: bool = True  # read the cache into memory at the start (~354 kB per photo and variant at
    #                               128 px); False memory-maps it (random reads: slow on most disks)
    max_images: int | None = None  # at most this many training photos (a seeded subset)
    holdout: int = 256  # training photos kept out of training, to score epochs and choose T (never val)
    # phase 1: generator pre-training
    generator_epochs: int = 5  # passes over the training photos
    batch_size: int = 16
    lr: float = 2e-4  # Adam, both phases' start (the paper)
    new_head_lr_scale: float = 10.0  # a head that starts from zero learns this much faster than the decoder
    betas: tuple[float, float] = (0.5, 0.999)  # Adam (the paper)
    rebalance: float = 1.0  # bins head: class rebalancing strength (0.5 the paper's, 1 off)
    lambda_l1: float = 10.0  # L1 of the predicted a/b mean (bins) or of the output (tanh)
    lambda_feature: float = 0.1  # the ImageNet feature loss (colorizer.perceptual); 0 turns it off
    ema_decay: float = 0.999  # moving average of the decoder; what the generator files hold
    # phase 2: critic pre-training
    critic_steps: int = 200  # D steps against the frozen generator
    # phase 3: the adversarial phase
    gan_steps: int = 800  # generator steps; 0 ends the run after the critic
    gan_lr: float = 2e-5  # both networks
    lambda_gan: float = 0.3  # weight of the adversarial term against the generator losses above
    gan_warmup: int = 200  # steps over which the adversarial weight ramps up from 0
    gan_mode: str = "hinge"  # "vanilla", "lsgan" or "hinge"
    spectral_norm: bool = True  # on D's convs (BatchNorm dropped then)
    r1_gamma: float = 0.0  # R1 gradient penalty on real photos; 0 off
    d_downsample: int = 1  # D sees L and a/b average-pooled by this factor (colour, not texture)
    snapshot_every: int = 200  # GAN steps between generator snapshots
    # system
    seed: int = 0
    device: str = "auto"  # "auto" (CUDA when present), "cuda", "cpu"
    threads: int | None = None  # torch CPU threads; None = torch's default
    checkpoint_every: int = 200  # steps between checkpoints (and at every epoch end and phase change)
    log_every: int = 20

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "NoGANConfig":
        """A run folder's config.json (fields this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        if "betas" in data:
            data["betas"] = tuple(data["betas"])
        return cls(**data)


@dataclass
class RunState:
    phase: str = "generator"  # "generator", "critic", "gan", "done"
    epoch: int = 0  # generator epochs finished
    step: int = 0  # steps done in the current epoch or phase
    total_steps: int = 0  # optimisation steps of all phases (D-only steps of the critic phase included)
    history: list = field(default_factory=list)  # per epoch / snapshot: losses and holdout scores


# --------------------------------------------------------------------------------------


class Run:
    """One run folder: the photos, the cache, the recipe, its state and its log."""

    def __init__(self, config: NoGANConfig, log=print, should_stop=None):
        self.config = config
        self.should_stop = should_stop or (lambda: False)  # polled every step: a deadline, a cancel button
        self.out = Path(config.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.say = log
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.recipe = Recipe(config)
        paths = scan_images(config.train_dir, limit=config.max_images, seed=config.seed).paths
        if len(paths) <= config.holdout + config.batch_size:
            raise ValueError(f"{len(paths)} photos are too few for a holdout of {config.holdout} "
                             f"and a batch of {config.batch_size}")
        self.device = self.recipe.device
        cache_dir = config.cache_dir or self.out / "feature_cache"
        self.cache = FeatureCache.build(paths, self.recipe.generator.encoder, cache_dir,
                                        size=config.image_size, variants=config.variants, seed=config.seed,
                                        progress=self._cache_progress, device=self.device,
                                        in_memory=config.cache_in_memory)
        self.holdout, self.train_rows = split_rows(len(paths), config.holdout, config.seed)
        if self.recipe.generator.bins is not None:
            counts = self._bin_counts()
            if config.rebalance < 1:
                self.recipe.generator.bins.set_rebalancing(counts, config.rebalance)
            if self.recipe.new_head:  # start from the colours' prior, not "every colour alike"
                with torch.no_grad():
                    prior = (counts + 1) / (counts + 1).sum()
                    self.recipe.generator.head.bias.copy_(prior.log())
                    self.recipe.ema["head"].bias.copy_(prior.log())
        self.state = RunState()
        stem = self.out / "checkpoints" / "last"
        if stem.with_suffix(".json").exists():
            saved = load_state(stem, device=self.device)
            self.recipe.load(saved["networks"])
            self.state = RunState(**saved["run"])
            self.say(f"resumed: phase {self.state.phase}, epoch {self.state.epoch}, step {self.state.step}")
        (self.out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))

    def _bin_counts(self, sample: int = 2048) -> torch.Tensor:
        """How often each a/b bin occurs in (up to `sample`) training photos: (Q,)."""
        bins = self.recipe.generator.bins
        counts = torch.zeros(bins.count)
        rows = self.train_rows[:sample]
        for start in range(0, len(rows), 64):
            _, _, ab = self.cache.batch(rows[start:start + 64], 0, self.device)
            counts += bins.histogram(F.avg_pool2d(ab, 2)).cpu()
        return counts

    def _cache_progress(self, done: int, total: int) -> None:
        if done % 1024 < 64 or done == total:
            self.say(f"feature cache: {done}/{total}")

    def checkpoint(self) -> None:
        save_state(self.out / "checkpoints" / "last", {"networks": self.recipe.state(), "run": asdict(self.state)})

    def log(self, entry: dict) -> None:
        with open(self.out / "log.jsonl", "a") as handle:
            handle.write(json.dumps({"time": round(time.time(), 1), **entry}) + "\n")

    # ---- phases

    def run(self) -> RunState:
        phases = {"generator": self.pretrain_generator, "critic": self.pretrain_critic, "gan": self.adversarial}
        try:
            while self.state.phase in phases:
                phases[self.state.phase]()
        except Stopped:
            self.checkpoint()
            self.say(f"stopped in phase {self.state.phase} at step {self.state.step}; run again to continue")
        return self.state

    def _poll(self) -> None:
        if self.should_stop():
            raise Stopped

    def _next_phase(self, phase: str) -> None:
        self.state.phase, self.state.step = phase, 0
        self.checkpoint()

    def pretrain_generator(self) -> None:
        c, recipe = self.config, self.recipe
        while self.state.epoch < c.generator_epochs:
            epoch = self.state.epoch
            order = self.train_rows[epoch_order(len(self.train_rows), c.seed, epoch)]
            variants = torch.randint(c.variants, (len(order),), generator=torch.Generator().manual_seed(c.seed + epoch))
            steps = len(order) // c.batch_size
            recipe.decoder.train()
            started, seen, sums = time.time(), 0, {}
            while self.state.step < steps:
                self._poll()
                rows = slice(self.state.step * c.batch_size, (self.state.step + 1) * c.batch_size)
                features, L, ab = self.cache.batch(order[rows], variants[rows], self.device)
                loss, parts, _ = recipe.generator_losses(recipe.predict(features, L), L, ab)
                recipe.opt_g.zero_grad(set_to_none=True)
                loss.backward()
                recipe.opt_g.step()
                recipe.update_ema(self.state.total_steps)
                self.state.step += 1
                self.state.total_steps += 1
                seen += c.batch_size
                for name, value in parts.items():
                    sums[name] = sums.get(name, 0.0) + float(value)
                if self.state.step % c.log_every == 0:
                    rate = seen / (time.time() - started)
                    self.log({"phase": "generator", "epoch": epoch + 1, "step": self.state.step, "of": steps,
                              "photos_per_s": round(rate, 2), **{k: round(float(v), 5) for k, v in parts.items()}})
                if self.state.step % c.checkpoint_every == 0:
                    self.checkpoint()
            scores = self.score_holdout()
            entry = {"phase": "generator", "epoch": epoch + 1, "minutes": round((time.time() - started) / 60, 1),
                     **{k: round(v / max(1, self.state.step), 5) for k, v in sums.items()}, **scores}
            self.state.history.append(entry)
            self.log(entry)
            self.say(json.dumps(entry))
            recipe.export(self.out / f"generator_epoch_{epoch + 1:02d}.safetensors", extra={"recipe": "nogan", **entry})
            self.state.epoch, self.state.step = epoch + 1, 0
            self.checkpoint()
        self._next_phase("critic" if c.critic_steps > 0 else ("gan" if c.gan_steps > 0 else "done"))

    def pretrain_critic(self) -> None:
        c, recipe = self.config, self.recipe
        recipe.discriminator.train()
        while self.state.step < c.critic_steps:
            self._poll()
            features, L, ab = self._random_batch(self.state.step + 10_000_000)
            with torch.no_grad():
                fake = recipe.to_ab(recipe.predict(features, L, recipe.ema), L)
            parts = recipe.backward_d(L, fake, ab)
            self.state.step += 1
            self.state.total_steps += 1
            if self.state.step % c.log_every == 0:
                self.log({"phase": "critic", "step": self.state.step,
                          **{k: round(float(v), 5) for k, v in parts.items()}})
            if self.state.step % c.checkpoint_every == 0:
                self.checkpoint()
        self._next_phase("gan" if c.gan_steps > 0 else "done")

    def adversarial(self) -> None:
        c, recipe = self.config, self.recipe
        for group in recipe.opt_g.param_groups:
            group["lr"] = c.gan_lr
        recipe.decoder.train()
        recipe.discriminator.train()
        while self.state.step < c.gan_steps:
            self._poll()
            features, L, ab = self._random_batch(self.state.step)
            head_output = recipe.predict(features, L)
            loss, parts, fake = recipe.generator_losses(head_output, L, ab)
            parts.update(recipe.backward_d(L, fake, ab))
            weight = c.lambda_gan * min(1.0, (self.state.step + 1) / max(1, c.gan_warmup))
            recipe.discriminator.requires_grad_(False)
            adversarial = recipe.adversarial(L, fake)
            recipe.discriminator.requires_grad_(True)
            recipe.opt_g.zero_grad(set_to_none=True)
            (loss + weight * adversarial).backward()
            parts["G_GAN"] = adversarial.detach()
            recipe.opt_g.step()
            recipe.update_ema(self.state.total_steps)
            self.state.step += 1
            self.state.total_steps += 1
            if self.state.step % c.log_every == 0:
                self.log({"phase": "gan", "step": self.state.step, "gan_weight": round(weight, 4),
                          **{k: round(float(v), 5) for k, v in parts.items()}})
            if self.state.step % c.snapshot_every == 0 or self.state.step == c.gan_steps:
                scores = self.score_holdout()
                entry = {"phase": "gan", "step": self.state.step, **scores}
                self.state.history.append(entry)
                self.log(entry)
                self.say(json.dumps(entry))
                recipe.export(self.out / f"generator_gan_{self.state.step:05d}.safetensors",
                              extra={"recipe": "nogan", **entry})
                recipe.discriminator.train()
                recipe.decoder.train()
            if self.state.step % c.checkpoint_every == 0:
                self.checkpoint()
        self._next_phase("done")

    def _random_batch(self, step: int):
        rng = torch.Generator().manual_seed(self.config.seed * 7919 + step)
        picks = torch.randint(len(self.train_rows), (self.config.batch_size,), generator=rng)
        variants = torch.randint(self.config.variants, (self.config.batch_size,), generator=rng)
        return self.cache.batch(self.train_rows[picks], variants, self.device)

    @torch.no_grad()
    def score_holdout(self) -> dict:
        """Mean a/b L1 (Lab units) and colourfulness of the EMA generator on the held-out training
        photos (plain variant), beside the truth's colourfulness."""
        from colorizer import metrics
        from colorizer.color import model_pair_to_rgb

        recipe = self.recipe
        errors, colourful, truth_colourful = [], [], []
        for start in range(0, len(self.holdout), 32):
            features, L, ab = self.cache.batch(self.holdout[start:start + 32], 0, self.device)
            served = recipe.to_ab(recipe.predict(features, L, recipe.ema), L)
            errors.append((served - ab).abs().mean(dim=(1, 2, 3)) * AB_SCALE)
            colourful.append(metrics.colorfulness(model_pair_to_rgb(L, served)))
            truth_colourful.append(metrics.colorfulness(model_pair_to_rgb(L, ab)))
        return {"holdout_ab_l1": round(float(torch.cat(errors).mean()), 3),  # Lab units
                "holdout_colourfulness": round(float(torch.cat(colourful).mean()), 2),
                "holdout_truth_colourfulness": round(float(torch.cat(truth_colourful).mean()), 2)}


def split_rows(count: int, holdout: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(held-out rows, training rows) of a cache of `count` photos: seeded, the same on every resume."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[:holdout], order[holdout:]


class Stopped(Exception):
    """should_stop() said so: the run saves where it is and returns."""


def train_nogan(config: NoGANConfig, log=print, should_stop=None) -> RunState:
    """Run (or continue) the recipe in config.out_dir until its last phase is done, or until
    should_stop() returns True (then state.phase is not "done"; the same call continues it)."""
    return Run(config, log=log, should_stop=should_stop).run()
