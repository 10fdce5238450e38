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
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from colorizer.color import AB_SCALE
from colorizer.checkpoint import load_generator, load_state, save_generator, save_state
from colorizer.data import epoch_order, scan_images
from colorizer.feature_cache import FeatureCache
from colorizer.inference import pick_device
from colorizer.model import (DiscriminatorConfig, GANLoss, GeneratorConfig, PatchDiscriminator, PretrainedUNet,
                             build_generator, init_weights)
from colorizer.perceptual import FeatureLoss


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


class Recipe:
    """The networks, losses and optimizers of one run; phases below drive it."""

    def __init__(self, config: NoGANConfig):
        self.config = config
        self.device = pick_device(config.device)
        state, init_config, _ = load_generator(config.init_generator)
        base = GeneratorConfig.from_dict(init_config)
        if base.arch == "unet":
            raise ValueError("the recipe needs a pretrained-encoder generator (efficientnet_lite0 or resnet18)")
        self.generator_config = GeneratorConfig.from_dict({**base.to_dict(), "head": config.head,
                                                           "bin_step": config.bin_step,
                                                           "temperature": config.temperature,
                                                           "encoder_weights": None})
        self.generator: PretrainedUNet = build_generator(self.generator_config, load_pretrained=False)
        same_head = base.head == config.head and base.bin_step == config.bin_step
        kept = {k: v.float() for k, v in state.items() if same_head or not k.startswith("head.")}
        missing = self.generator.load_state_dict(kept, strict=False).missing_keys
        if [k for k in missing if not k.startswith("head.")]:
            raise ValueError(f"{config.init_generator} does not match its config: missing {missing[:3]}")
        if not same_head:
            # A new head starts from zero (a bins head's bias from the colours' prior: Run sets it).
            nn.init.zeros_(self.generator.head.weight)
            nn.init.zeros_(self.generator.head.bias)
        self.generator.encoder.requires_grad_(False).eval()
        self.generator.to(self.device, memory_format=torch.channels_last)
        # The trained part: the generator's own decoder and head, under the same names.
        self.decoder = nn.ModuleDict({"decoder": self.generator.decoder, "head": self.generator.head})
        self.ema = copy.deepcopy(self.decoder).eval().requires_grad_(False)
        # Adam moves each weight by about lr per step: a head that starts from zero needs a larger lr
        # to reach peaked distributions within an epoch, while the trained decoder needs a small one.
        self.new_head = not same_head
        head_lr = config.lr * (config.new_head_lr_scale if self.new_head else 1.0)
        self.opt_g = torch.optim.Adam([{"params": self.generator.decoder.parameters(), "lr": config.lr},
                                       {"params": self.generator.head.parameters(), "lr": head_lr}],
                                      betas=config.betas)
        self.feature_loss = FeatureLoss().to(self.device) if config.lambda_feature > 0 else None
        self.discriminator = build_critic(config).to(self.device)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.gan_lr, betas=config.betas)
        self.gan_loss = GANLoss(config.gan_mode).to(self.device)

    # ---- the generator's losses

    def predict(self, features: list[torch.Tensor], L: torch.Tensor, modules: nn.Module | None = None
                ) -> torch.Tensor:
        """Head output of the live decoder (or `modules`, e.g. the EMA) on cached features:
        (B, 2, S, S) for "tanh", logits (B, Q, S/2, S/2) for "bins"."""
        return self.generator.decode(features, L, modules or self.decoder)

    def to_ab(self, head_output: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
        """The served a/b (B, 2, S, S): what inference returns for this head output."""
        return self.generator.to_ab(head_output, L.shape[-2:])

    def generator_losses(self, head_output: torch.Tensor, L: torch.Tensor, ab: torch.Tensor
                         ) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """(total, named parts, served a/b (B, 2, S, S)) of the non-adversarial losses."""
        c = self.config
        parts = {}
        bins = self.generator.bins
        if bins is not None:
            target = F.avg_pool2d(ab, 2)  # (B, 2, S/2, S/2): the head's resolution
            parts["G_CE"] = bins.cross_entropy(head_output, bins.soft_encode(target), rebalance=c.rebalance < 1)
            mean = bins.annealed_mean(head_output, 1.0)  # the calibrated mean, not the sharpened one
            parts["G_L1"] = F.l1_loss(mean, target)
            total = parts["G_CE"] + c.lambda_l1 * parts["G_L1"]
        else:
            parts["G_L1"] = F.l1_loss(torch.tanh(head_output), ab)
            total = c.lambda_l1 * parts["G_L1"]
        served = self.to_ab(head_output, L)
        if self.feature_loss is not None:
            parts["G_feat"] = self.feature_loss(L, served, ab)
            total = total + c.lambda_feature * parts["G_feat"]
        return total, {k: v.detach() for k, v in parts.items()}, served

    def update_ema(self, step: int) -> None:
        """Move the average toward the live weights. Its decay warms up as (1 + step) / (10 + step):
        at a fixed 0.999 the average would still be 59 % the starting weights after a 530-step epoch."""
        decay = min(self.config.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for ema, live in zip(self.ema.parameters(), self.decoder.parameters()):
                ema.lerp_(live, 1 - decay)
            for ema, live in zip(self.ema.buffers(), self.decoder.buffers()):
                ema.copy_(live)

    # ---- the discriminator

    def critic_input(self, L: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.config.d_downsample
        if k > 1:
            return F.avg_pool2d(L, k), F.avg_pool2d(ab, k)
        return L, ab

    def backward_d(self, L: torch.Tensor, fake_ab: torch.Tensor, real_ab: torch.Tensor) -> dict:
        """D learns real (L, ab) pairs as real and the generator's as fake (the paper's backward_D)."""
        real_L, real = self.critic_input(L, real_ab)
        fake_L, fake = self.critic_input(L, fake_ab.detach())
        if self.config.r1_gamma > 0:
            real = real.detach().requires_grad_(True)
        real_logits = self.discriminator(real_L, real)
        loss_real = self.gan_loss(real_logits, True)
        loss_fake = self.gan_loss(self.discriminator(fake_L, fake), False)
        loss = (loss_real + loss_fake) * 0.5
        parts = {"D_real": loss_real.detach(), "D_fake": loss_fake.detach()}
        if self.config.r1_gamma > 0:
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            penalty = grad.square().sum(dim=(1, 2, 3)).mean()
            loss = loss + 0.5 * self.config.r1_gamma * penalty
            parts["D_R1"] = penalty.detach()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return parts

    def adversarial(self, L: torch.Tensor, fake_ab: torch.Tensor) -> torch.Tensor:
        fake_L, fake = self.critic_input(L, fake_ab)
        return self.gan_loss(self.discriminator(fake_L, fake), True, for_discriminator=False)

    # ---- files

    def export(self, path: Path, extra: dict, average: bool = True) -> None:
        """The full generator (frozen encoder + the EMA decoder and head, or the live ones) as an fp16
        generator file."""
        state = self.generator.state_dict()
        if average:
            for name, tensor in self.ema.state_dict().items():
                state[name] = tensor  # "decoder.*" and "head.*" name the same tensors in both
        save_generator(path, state, self.generator_config.to_dict(), extra=extra)

    def state(self) -> dict:
        return {"decoder": self.decoder.state_dict(), "ema": self.ema.state_dict(),
                "opt_g": self.opt_g.state_dict(), "discriminator": self.discriminator.state_dict(),
                "opt_d": self.opt_d.state_dict()}

    def load(self, state: dict) -> None:
        self.decoder.load_state_dict(state["decoder"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_d.load_state_dict(state["opt_d"])


def build_critic(config: NoGANConfig) -> PatchDiscriminator:
    """The 70x70 PatchGAN, optionally with spectral norm on every conv (and then no BatchNorm)."""
    net = PatchDiscriminator(DiscriminatorConfig())
    init_weights(net)
    if config.spectral_norm:
        layers = []
        for module in net.model:
            if isinstance(module, nn.BatchNorm2d):
                continue
            if isinstance(module, nn.Conv2d):
                module = nn.utils.parametrizations.spectral_norm(module)
            layers.append(module)
        net.model = nn.Sequential(*layers)
    return net.to(memory_format=torch.channels_last)


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
    return board.summary()


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
