"""The default model's recipe, as one config: an L1 stage on a pretrained encoder, NoGAN, hint inputs.

    recipe = DefaultRecipe()          # what ships (docs/MODEL_CARD.md)
    recipe = DefaultRecipe().smoke()  # the same chain with tiny networks and a few steps

Stage 1 trains the whole EfficientNet-Lite0 U-Net (ImageNet encoder) on L1 alone with a moving
average of its weights (colorizer.train). Stage 2 freezes that encoder, caches its features and
runs DeOldify's NoGAN schedule on the decoder: colour-classification head with the feature
loss, critic pre-training, a short adversarial phase (colorizer.nogan). Then the colour
temperature is chosen on the run's held-out training photos and written into the generator.
Stage 3 trains its colour-hint inputs alone, every other weight kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class DefaultRecipe:
    # stage 1: the whole generator on L1 (colorizer.train)
    arch: str = "efficientnet_lite0"  # the generator's encoder backbone
    encoder_weights: str | None = "imagenet"  # the encoder's start: "imagenet" (shipped with its package), a file, None
    decoder_widths: tuple[int, ...] = (256, 128, 64, 32, 16)  # decoder channels, deepest first
    l1_image_size: int = 256  # photos are decoded (and trained on) at this side
    l1_epochs: int = 20  # passes over the photos on L1 alone
    l1_batch_size: int = 32  # photos per step
    l1_lr: float = 3e-4  # Adam learning rate
    l1_beta1: float = 0.9  # Adam momentum: the usual one, as no adversary is involved yet
    ema_decay: float = 0.999  # moving average of the weights: what the stage writes out
    val_split: float = 0.05  # share of the photos the stage holds out to watch its epochs (seeded)
    l1_max_steps: int | None = None  # stop the stage after this many steps (None: all its epochs)
    # stage 2: NoGAN on the frozen encoder (colorizer.nogan; the rest of NoGANConfig keeps its defaults)
    nogan_image_size: int = 128  # the encoder features are cached at this side
    nogan_epochs: int = 5  # generator pre-training passes over the cached features
    nogan_batch_size: int = 32  # photos per step
    critic_steps: int = 200  # critic steps against the frozen generator
    gan_steps: int = 800  # adversarial steps; a generator snapshot every snapshot_every
    snapshot_every: int = 200  # adversarial steps between generator snapshots
    holdout: int = 256  # training photos NoGAN keeps out to score its epochs and choose the temperature
    variants: int = 3  # cached augmentations per photo
    # the colour temperature, chosen on the held-out training photos (never the validation photos)
    temperatures: tuple[float, ...] = (0.2, 0.3, 0.38, 0.5, 0.7, 1.0)  # lower is more colourful
    temperature_fid: bool = True  # score FID too when choosing (slower on a CPU)
    # stage 3: the hint inputs alone (colorizer.train --hints --hints-only): the result takes colour hints and,
    # given none, computes exactly what stage 2 made
    hint_image_size: int = 128  # photos are decoded at this side
    hint_epochs: int = 2  # passes over the photos on simulated hints
    hint_lr: float = 2e-4  # Adam learning rate of the hint inputs
    hint_max_steps: int | None = None  # stop the stage after this many steps (None: all its epochs)
    # scoring
    eval_fid: bool = True  # score FID on the validation photos too (slower on a CPU)
    # system
    seed: int = 0  # photo order, splits and initialisation
    device: str = "auto"  # "auto" (CUDA when present), "cuda", "cpu"
    num_workers: int = 4  # photo-decoding processes in stage 1

    def smoke(self) -> "DefaultRecipe":
        """The same chain, shrunk to run in seconds on a CPU: proves the chain works on a machine
        (and its photos) before the long run. Its generator is not worth shipping."""
        return replace(self, encoder_weights=None, decoder_widths=(16, 16, 16, 16, 16), l1_image_size=64,
                       l1_epochs=1, l1_batch_size=2, l1_max_steps=2, val_split=0.2, nogan_image_size=32,
                       nogan_epochs=1, nogan_batch_size=2, critic_steps=2, gan_steps=2, snapshot_every=1, holdout=2,
                       variants=1, temperatures=(0.38, 1.0), temperature_fid=False, hint_image_size=64, hint_epochs=1,
                       hint_max_steps=2, eval_fid=False, device="cpu", num_workers=0)
