"""What a training run is (colorizer.train runs it): its config, its result, the state a
checkpoint saves, and its stages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from colorizer.model import DiscriminatorConfig, GeneratorConfig
from colorizer.pix2pix import LOSS_NAMES


@dataclass
class TrainConfig:
    # data
    train_dir: str = "data/train"  # folder tree of colour photos (grayscale and unreadable files are skipped)
    out_dir: str = "runs/colorizer"  # the run folder: checkpoints, logs, samples, final generator
    val_dir: str | None = None  # validation photos; None holds out val_split of train_dir
    val_split: float = 0.05  # share of train_dir held out for validation when val_dir is None (seeded)
    max_images: int | None = None  # use at most this many photos of train_dir (a seeded subset, before the split)
    image_size: int = 256  # photos are decoded at image_size x image_size (the paper: 256)
    crop_size: int | None = None  # side of the training crops; None = image_size. Smaller trains on native-scale
    #                               patches (with min/max_crop_scale near (crop_size/image_size)**2), cheaper per step
    min_crop_scale: float = 0.5  # random resized crop keeps at least this share of the photo's area
    max_crop_scale: float = 1.0  # ... and at most this share
    max_rotation: float = 10.0  # random rotation in degrees, either way (the paper's augmentation)
    # networks
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)  # ignored when resuming or init_generator
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)  # the 70x70 PatchGAN
    init_generator: str | None = None  # generator .safetensors to fine-tune from; its config wins over `generator`
    hints: bool = False  # make the generator hint-capable (colorizer.hints): one without hint inputs gains them,
    #                      zero-initialised; a hint-capable generator trains on simulated hints either way
    hints_only: bool = False  # train only the hint inputs (pretrained-encoder generators): every other weight
    #                           and BatchNorm statistic stays, so with no hints it is exactly the given generator
    # optimisation
    l1_epochs: int = 0  # stage 1: the generator alone on L1 (the paper pre-trains its ResNet18 U-Net so)
    gan_epochs: int = 20  # stage 2: alternating D and G steps on GAN + lambda_l1 * L1
    batch_size: int = 16  # photos per step (capped at the number of training photos)
    lr: float = 2e-4  # Adam learning rate of both networks (the paper)
    beta1: float = 0.5  # Adam momentum (the paper)
    beta2: float = 0.999  # Adam second moment (the paper)
    lambda_l1: float = 100.0  # weight of L1 against the GAN loss (the paper)
    gan_mode: str = "vanilla"  # "vanilla" (the paper), "lsgan" or "hinge"
    ema_decay: float = 0.999  # exponential moving average of the generator's weights, exported; 0 turns it off
    max_steps: int | None = None  # stop after this many steps in all (quick runs, tests)
    # system
    seed: int = 0  # seeds initialisation, the split, shuffling, augmentation and dropout
    device: str = "auto"  # "auto" (CUDA when present), "cuda", "cuda:1", "cpu"
    compile: bool = False  # torch.compile both networks (CUDA; pays off on long runs)
    channels_last: bool | None = None  # NHWC tensors; None: on CUDA, and on the CPU for pretrained encoders
    #                                    (their depthwise convs train ~40% faster; the U-Net's do not)
    num_workers: int = 4  # DataLoader processes decoding photos (when not cached)
    cache_images: bool | None = None  # decode once, keep on the device; None: on CUDA when it takes < 1/4 of memory
    resume: bool = True  # continue from out_dir/checkpoints when it holds a checkpoint; False starts over
    checkpoint_every: int = 1  # epochs between checkpoints (the last epoch, a cancel and a max_steps stop always save)
    # reporting
    log_every: int = 10  # steps between log lines and "step" progress events
    val_images: int = 64  # validation photos scored at the end of each epoch
    sample_count: int = 6  # columns of the sample grids
    progress_bar: bool = True  # tqdm on stderr

    def to_dict(self) -> dict:
        data = asdict(self)
        data["generator"] = self.generator.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        if isinstance(data.get("generator"), dict):
            data["generator"] = GeneratorConfig.from_dict(data["generator"])
        if isinstance(data.get("discriminator"), dict):
            data["discriminator"] = DiscriminatorConfig.from_dict(data["discriminator"])
        return cls(**data)


@dataclass
class TrainResult:
    generator_path: str  # the final generator (fp16, EMA weights when ema_decay > 0): Colorizer.load reads it
    history: list[dict]  # one entry per finished epoch: stage, losses, val metrics, timing
    val_metrics: dict  # the latest validation metrics: l1, psnr, ab_error
    sample_grid: str | None  # the latest sample grid (PNG)
    curves: str | None  # the loss curves (PNG)
    checkpoint_dir: str  # where train(resume=True) continues from
    cancelled: bool  # should_stop() ended the run early
    global_step: int = 0  # optimisation steps done, over all sessions
    data: dict = field(default_factory=dict)  # what the photo scans kept and skipped, per folder


@dataclass
class TrainState:
    """Where a run stands. A checkpoint's state.json holds exactly these fields (and the config),
    so a cancelled or crashed run resumes at the step it saved."""

    epoch: int = 0  # epochs finished over all stages: the 0-based index of the epoch in progress
    step_in_epoch: int = 0  # steps done in the epoch in progress (a cancel checkpoints mid-epoch)
    global_step: int = 0  # optimisation steps done, over all sessions
    history: list[dict] = field(default_factory=list)  # one record per finished epoch: TrainResult.history
    epoch_sums: list[float] = field(default_factory=lambda: [0.0] * len(LOSS_NAMES))  # the epoch in progress's
    #                                                      loss sums, LOSS_NAMES order: its running means resume

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainState":
        """From a state.json: other keys ("config") are ignored, missing ones take their defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def count_step(self) -> None:
        self.step_in_epoch += 1
        self.global_step += 1

    def finish_epoch(self, epoch: int, record: dict) -> None:
        self.history.append(record)
        self.epoch, self.step_in_epoch, self.epoch_sums = epoch + 1, 0, [0.0] * len(LOSS_NAMES)


@dataclass(frozen=True)
class Stage:
    """A span of epochs trained one way. A new phase is one more Stage in `stages` (with a flag
    Pix2Pix reads if it trains differently), not a new branch in the epoch loop."""

    name: str  # the `stage` of progress events and history records: "l1" | "gan"
    first_epoch: int  # the run's 0-based epoch where this stage begins
    epochs: int  # how many epochs it lasts (0: skipped)
    adversarial: bool  # D trains and G meets the GAN loss; False: G alone on L1, no D_* / G_GAN losses

    def epoch_in_stage(self, epoch: int) -> int:
        """1-based epoch number within the stage."""
        return epoch - self.first_epoch + 1


def stages(config: TrainConfig) -> list[Stage]:
    """Stage 1, the generator alone on L1 (the paper pre-trains its ResNet18 U-Net so); stage 2,
    the paper's alternating D and G steps on GAN + lambda * L1."""
    return [Stage("l1", 0, config.l1_epochs, adversarial=False),
            Stage("gan", config.l1_epochs, config.gan_epochs, adversarial=True)]
