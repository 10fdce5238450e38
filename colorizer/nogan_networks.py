"""The networks, losses and optimizers of a NoGAN run (colorizer.nogan drives them by phase):
the generator's decoder and head training on cached encoder features, their moving average,
and the PatchGAN critic with its adversarial loss.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F

from colorizer.checkpoint import load_generator, save_generator
from colorizer.inference import pick_device
from colorizer.model import (DiscriminatorConfig, GANLoss, GeneratorConfig, PatchDiscriminator, PretrainedUNet,
                             build_generator, init_weights)
from colorizer.perceptual import FeatureLoss

if TYPE_CHECKING:
    from colorizer.nogan import NoGANConfig


class Recipe:
    """The networks, losses and optimizers of one run; phases below drive it."""

    def __init__(self, config: NoGANConfig):
        self.config = config
        self.device = pick_device(config.device)
        state, init_config, _ = load_generator(config.init_generator)
        base = GeneratorConfig.from_dict(init_config)
        if base.arch == "unet":
            raise ValueError("the recipe needs a pretrained-encoder generator (efficientnet_lite0 or resnet18)")
        # Hint inputs are left behind: the recipe caches encoder features of the gray photo alone and
        # retrains the decoder they were fitted to (add them back after: `train --hints --hints-only`).
        self.generator_config = GeneratorConfig.from_dict({**base.to_dict(), "head": config.head,
                                                           "bin_step": config.bin_step,
                                                           "temperature": config.temperature,
                                                           "encoder_weights": None, "hints": False})
        self.generator: PretrainedUNet = build_generator(self.generator_config, load_pretrained=False)
        same_head = base.head == config.head and base.bin_step == config.bin_step
        kept = {k: v.float() for k, v in state.items()
                if (same_head or not k.startswith("head.")) and not k.startswith(("hint_in.", "hint_blend."))}
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
