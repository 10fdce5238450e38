"""A feature (perceptual) loss: compare what an ImageNet classifier sees in the predicted colour
photo and in the true one.

DeOldify pre-trains its generator with a VGG feature loss; EfficientNet-Lite0 is the ImageNet
network whose weights ship with this package's dependencies. A per-pixel loss is content with the
average of the plausible colours of an object (beige); a classifier's features change when a
tomato is grey instead of red, so matching them rewards colours that make the object recognisable.

    loss_fn = FeatureLoss()                      # frozen ImageNet Lite0, taps at strides 4, 8, 16
    loss = loss_fn(L, ab_pred, ab_true)          # normalised (B, 1, H, W), (B, 2, H, W), (B, 2, H, W)
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from colorizer.color import model_pair_to_rgb
from colorizer.pretrained_unet import EfficientNetLite0Encoder

TAP_WEIGHTS = (0.0, 1.0, 1.0, 1.0, 0.0)  # strides 2, 4, 8, 16, 32: mid-level features carry object colour


class FeatureLoss(nn.Module):
    def __init__(self, weights: str | None = "imagenet", tap_weights: tuple[float, ...] = TAP_WEIGHTS):
        super().__init__()
        self.network = EfficientNetLite0Encoder(weights).eval()
        self.network.requires_grad_(False)
        self.tap_weights = tap_weights

    def train(self, mode: bool = True) -> "FeatureLoss":
        super().train(mode)
        self.network.eval()  # frozen BatchNorm statistics, always
        return self

    def features(self, L: torch.Tensor, ab: torch.Tensor) -> list[torch.Tensor]:
        rgb = model_pair_to_rgb(L, ab) * 2 - 1  # (B, 3, H, W) in [-1, 1], as Lite0 takes it
        x = self.network.stem(rgb.contiguous(memory_format=torch.channels_last))
        taps = []
        last_tap = max(i for i, w in enumerate(self.tap_weights) if w > 0)
        for index, block in enumerate(self.network.blocks):
            x = block(x)
            if index in self.network._taps:
                taps.append(x)
                if len(taps) > last_tap:
                    break  # deeper blocks would be computed for nothing
        return taps

    def forward(self, L: torch.Tensor, ab_pred: torch.Tensor, ab_true: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.features(L, ab_true)
        predicted = self.features(L, ab_pred)
        loss = ab_pred.new_zeros(())
        for weight, p, t in zip(self.tap_weights, predicted, target):
            if weight > 0:
                loss = loss + weight * F.l1_loss(p.float(), t.float())
        return loss
