"""The networks of the paper: a U-Net generator, a 70x70 PatchGAN discriminator, a U-Net
whose encoder is a pretrained classification backbone, and the GAN loss.

The U-Net on a pretrained backbone lives in colorizer/pretrained_unet.py; build_generator
builds either kind from a GeneratorConfig.

All generators map the L channel, normalised to [-1, 1], to the a/b channels, normalised to
[-1, 1] by a tanh: (B, 1, H, W) -> (B, 2, H, W). A hint-capable one (GeneratorConfig.hints) also
takes a hint tensor (B, 3, H, W) (colorizer.hints): forward(L, hints); None means no hints. H and W must be multiples of
`GeneratorConfig.size_multiple`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from colorizer.pretrained_unet import EfficientNetLite0Encoder, PretrainedUNet, ResNet18Encoder  # noqa: F401

ARCHITECTURES = ("unet", "resnet18", "efficientnet_lite0")
HEADS = ("tanh", "bins")


@dataclass
class GeneratorConfig:
    arch: str = "unet"  # "unet" (the paper's pix2pix U-Net), "resnet18" or "efficientnet_lite0" (pretrained encoder)
    in_channels: int = 1  # L
    out_channels: int = 2  # a, b
    base_width: int = 64  # unet: width of the first encoder layer (C64); doubles up to 8x base_width
    num_downs: int = 8  # unet: number of stride-2 encoder layers; 8 takes 256x256 down to 1x1
    dropout: float = 0.5  # dropout of the innermost decoder blocks: the paper's only source of noise
    decoder_widths: tuple[int, ...] = (256, 128, 96, 64, 32)  # pretrained-encoder decoder, from 1/16 up to 1/1
    encoder_weights: str | None = None  # at training start: "imagenet" (efficientnet_lite0) or a file path; None = random
    head: str = "tanh"  # pretrained-encoder U-Net output: "tanh" (a/b regression) or "bins" (a/b classification)
    bin_step: int = 10  # bins head: side of the quantised a/b cells in Lab units (Zhang et al. 2016: 10)
    temperature: float = 0.38  # bins head: annealed-mean temperature; 1 = the mean, -> 0 the mode
    hints: bool = False  # takes user colour hints: (a, b, mask) beside L (colorizer.hints; Zhang et al. 2017)

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown generator arch {self.arch!r}; expected one of {ARCHITECTURES}")
        if self.encoder_weights == "imagenet" and self.arch != "efficientnet_lite0":
            raise ValueError('encoder_weights="imagenet" ships only for efficientnet_lite0 (nothing is downloaded); '
                             f"give {self.arch} a weights file")
        self.decoder_widths = tuple(self.decoder_widths)
        if self.head not in HEADS:
            raise ValueError(f"unknown generator head {self.head!r}; expected one of {HEADS}")
        if self.head == "bins" and self.arch == "unet":
            raise ValueError('the "bins" head is for the pretrained-encoder U-Nets')
        if not 0.01 <= self.temperature <= 1:
            raise ValueError("temperature must be between 0.01 and 1")

    @property
    def size_multiple(self) -> int:
        """Input sides must be a multiple of this (the total downsampling of the encoder)."""
        return 2**self.num_downs if self.arch == "unet" else 32

    def to_dict(self) -> dict:
        data = asdict(self)
        data["decoder_widths"] = list(self.decoder_widths)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GeneratorConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class DiscriminatorConfig:
    in_channels: int = 3  # L + ab: the discriminator judges (condition, colour) pairs
    base_width: int = 64  # C64-C128-C256-C512
    num_layers: int = 3  # stride-2 layers after the first; 3 gives the 70x70 receptive field

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DiscriminatorConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --------------------------------------------------------------------------------------
# The paper's U-Net, built from one recursive skip block as in pix2pix.


class UNetSkipBlock(nn.Module):
    """down -> [inner block] -> up, with the block's input concatenated to its output.

    Encoder side: LeakyReLU(0.2) then a 4x4 stride-2 conv (BatchNorm but on the outermost
    and innermost). Decoder side: ReLU, 4x4 stride-2 transposed conv, BatchNorm, optional
    dropout. The outermost block ends in a tanh and does not concatenate.
    """

    def __init__(self, outer: int, inner: int, in_channels: int | None = None, submodule: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False, dropout: float = 0.0):
        super().__init__()
        self.outermost = outermost
        in_channels = outer if in_channels is None else in_channels
        down_conv = nn.Conv2d(in_channels, inner, kernel_size=4, stride=2, padding=1, bias=False)
        if outermost:
            up_conv = nn.ConvTranspose2d(inner * 2, outer, kernel_size=4, stride=2, padding=1)
            layers = [down_conv, submodule, nn.ReLU(True), up_conv, nn.Tanh()]
        elif innermost:
            # No BatchNorm after the innermost down-conv, as in pix2pix: its output is 1x1, where
            # batch statistics of a small batch are degenerate (and undefined at batch size 1).
            up_conv = nn.ConvTranspose2d(inner, outer, kernel_size=4, stride=2, padding=1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.ReLU(True), up_conv, nn.BatchNorm2d(outer)]
        else:
            up_conv = nn.ConvTranspose2d(inner * 2, outer, kernel_size=4, stride=2, padding=1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.BatchNorm2d(inner), submodule,
                      nn.ReLU(True), up_conv, nn.BatchNorm2d(outer)]
        if dropout > 0 and not outermost:
            layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)  # skip connection


class UNetGenerator(nn.Module):
    """Encoder C64-C128-C256-C512-C512-C512-C512-C512, decoder CD512-CD512-CD512-C512-C256-C128-C64."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        if config.num_downs < 5:
            raise ValueError("the U-Net needs at least 5 downsamplings (C64..C512)")
        w = config.base_width
        block = UNetSkipBlock(w * 8, w * 8, innermost=True, dropout=config.dropout)
        for _ in range(config.num_downs - 5):  # the C512 layers between C256 and the innermost
            block = UNetSkipBlock(w * 8, w * 8, submodule=block, dropout=config.dropout)
        # Only the 3 innermost decoder blocks (CD512 x3) carry dropout, as in pix2pix.
        self._limit_dropout(block, keep=3)
        block = UNetSkipBlock(w * 4, w * 8, submodule=block)
        block = UNetSkipBlock(w * 2, w * 4, submodule=block)
        block = UNetSkipBlock(w, w * 2, submodule=block)
        # Hints are concatenated after L: the first conv's extra input channels (zero when made from
        # a generator without hints, colorizer.hints.with_hint_inputs) see (a, b, mask).
        self.hints = config.hints
        in_channels = config.in_channels + (3 if config.hints else 0)
        self.model = UNetSkipBlock(config.out_channels, w, in_channels=in_channels, submodule=block,
                                   outermost=True)

    @staticmethod
    def _limit_dropout(block: nn.Module, keep: int) -> None:
        dropouts = [m for m in block.modules() if isinstance(m, nn.Dropout)]
        # modules() reaches a block's submodule before the block's own Dropout, so the list
        # runs inner to outer: the first `keep` are the first decoder layers (CD512 x3).
        # (pytorch-CycleGAN-and-pix2pix spares the innermost one instead; the paper does not.)
        for module in dropouts[keep:]:
            module.p = 0.0

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:  # -> (B, 2, H, W)
        if self.hints:  # L (B, 1, H, W), hints (B, 3, H, W)
            hints = torch.zeros_like(L).expand(-1, 3, -1, -1) if hints is None else hints.to(L.dtype)
            L = torch.cat([L, hints], dim=1)  # (B, 4, H, W)
        return self.model(L)


# --------------------------------------------------------------------------------------
# Discriminator and loss.


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN, C64-C128-C256-C512: one real/fake logit per overlapping patch.

    No normalisation on the first and last blocks, no activation at the end (the loss
    applies the sigmoid).
    """

    def __init__(self, config: DiscriminatorConfig | None = None):
        super().__init__()
        config = config or DiscriminatorConfig()
        w = config.base_width
        layers = [nn.Conv2d(config.in_channels, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        width = w
        for n in range(1, config.num_layers + 1):
            previous, width = width, w * min(2**n, 8)
            stride = 2 if n < config.num_layers else 1
            layers += [nn.Conv2d(previous, width, 4, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:  # -> (B, 1, H/8 - 2, W/8 - 2)
        return self.model(torch.cat([L, ab], dim=1))


class GANLoss(nn.Module):
    """The adversarial loss against a constant target; labels live in buffers so they follow .to()."""

    def __init__(self, mode: str = "vanilla", real_label: float = 1.0, fake_label: float = 0.0):
        super().__init__()
        if mode not in ("vanilla", "lsgan", "hinge"):
            raise ValueError(f"unknown GAN loss {mode!r}")
        self.mode = mode
        self.register_buffer("real_label", torch.tensor(real_label))
        self.register_buffer("fake_label", torch.tensor(fake_label))

    def forward(self, logits: torch.Tensor, target_is_real: bool, for_discriminator: bool = True) -> torch.Tensor:
        logits = logits.float()
        if self.mode == "hinge":
            if not for_discriminator:
                return -logits.mean()
            return F.relu(1 - logits).mean() if target_is_real else F.relu(1 + logits).mean()
        target = (self.real_label if target_is_real else self.fake_label).expand_as(logits)
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(logits, target)


# --------------------------------------------------------------------------------------


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix initialisation: conv weights ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def build_generator(config: GeneratorConfig, load_pretrained: bool = True) -> nn.Module:
    """A freshly initialised generator. `load_pretrained=False` skips backbone weights (they
    are about to be overwritten by a checkpoint anyway)."""
    if config.arch == "unet":
        net = UNetGenerator(config)
        init_weights(net)
        return net
    net = PretrainedUNet(config, load_pretrained=load_pretrained)
    init_weights(net.decoder)
    init_weights(net.head)
    if not (load_pretrained and config.encoder_weights):
        init_weights(net.encoder) if config.arch == "efficientnet_lite0" else _kaiming(net.encoder)
    return net


def _kaiming(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def build_discriminator(config: DiscriminatorConfig | None = None) -> PatchDiscriminator:
    net = PatchDiscriminator(config)
    init_weights(net)
    return net


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def receptive_field(config: DiscriminatorConfig | None = None) -> int:
    """Receptive field, in input pixels, of one output logit of the PatchGAN (70 by default)."""
    config = config or DiscriminatorConfig()
    strides = [2] * config.num_layers + [1, 1]  # stride-2 convs, the stride-1 C512, the final conv
    field = 1
    for stride in reversed(strides):
        field = (field - 1) * stride + 4  # every conv is 4x4
    return field
