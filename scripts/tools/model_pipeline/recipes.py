"""A recipe ("row" of the issue's table): a generator and the training stages it goes through,
each with its share of the row's wall-clock time. The recipes themselves live at the top of
scripts/tools/default_model.py."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

STAGE_KINDS = ("l1", "gan", "nogan")


@dataclass(frozen=True)
class Stage:
    kind: str  # "l1": the generator alone on L1 (the paper's pre-training); "gan": GAN + lambda_l1 * L1 (pix2pix);
    #            "nogan": colorizer.nogan from the previous stage's generator (frozen encoder, cached features)
    share: float  # share of the row's training time; the stage ends at its deadline or after `epochs`
    epochs: int  # at most this many epochs over the row's photos
    batch_size: int = 16  # photos per step
    lr: float = 2e-4  # Adam learning rate, generator and discriminator (the paper: 2e-4)
    beta1: float = 0.5  # Adam momentum (the paper: 0.5)
    lambda_l1: float = 100.0  # weight of L1 against the GAN loss (the paper: 100)
    ema_decay: float = 0.0  # moving average of the generator's weights, exported at the end; 0 = off (the paper)
    options: tuple[tuple[str, object], ...] = ()  # "nogan": further NoGANConfig fields, e.g. (("gan_steps", 800),)

    def __post_init__(self):
        if self.kind not in STAGE_KINDS:
            raise ValueError(f"unknown stage kind {self.kind!r}; expected one of {STAGE_KINDS}")


@dataclass(frozen=True)
class Recipe:
    name: str  # names its files: row2.tar, row2.safetensors.part0, ...
    title: str  # how the metrics table calls it
    share: float  # share of the training budget (time a faster row leaves over goes to the later ones)
    generator: dict  # GeneratorConfig fields; encoder_weights "imagenet" means the pack's converted weights
    stages: tuple[Stage, ...]  # run in order; each later stage starts from the generator the previous one wrote
    max_images: int | None = None  # train on a seeded subset of this many photos; None = all of them
    returns_weights: bool = True  # its fp16 weights come back (in parts); False: only its val predictions
    metadata: dict = field(default_factory=dict)  # anything else worth recording beside the results


def tiny(recipe: Recipe) -> Recipe:
    """The same recipe shrunk for a CPU smoke run: tiny networks, a few photos, one short epoch."""
    generator = dict(recipe.generator)
    if generator.get("arch", "unet") == "unet":
        generator.update(base_width=8, num_downs=5)
    else:
        generator.update(decoder_widths=(16, 16, 16, 16, 16))
    stages = tuple(replace(stage, epochs=1, batch_size=2, options=tuple(
        {**dict(stage.options), "critic_steps": 2, "gan_steps": 2, "snapshot_every": 1, "holdout": 2}.items())
        if stage.kind == "nogan" else stage.options) for stage in recipe.stages)
    return replace(recipe, generator=generator, stages=stages,
                   max_images=None if recipe.max_images is None else min(recipe.max_images, 6))


def split_seconds(available: float, shares: list[float]) -> float:
    """Seconds for the first of `shares` when `available` seconds remain for all of them."""
    total = sum(shares)
    if total <= 0:
        raise ValueError("shares must add up to more than 0")
    return max(0.0, available) * shares[0] / total
