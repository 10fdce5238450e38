"""The paper's update rule (Isola et al., pix2pix): one discriminator step, then one generator step,
on every batch; and the exponential moving average of the generator that a run exports.

    model = Pix2Pix(generator, discriminator, config, device)
    losses = model.optimize(L, real_ab)  # (4,) in LOSS_NAMES order

A new generator loss is a term in backward_G, one more entry in what optimize returns and its name
in LOSS_NAMES: progress events, log.jsonl and history follow LOSS_NAMES (monitor.plot_curves
names its panels).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F

from colorizer.model import GANLoss, UNetGenerator
from colorizer.precision import autocast

if TYPE_CHECKING:
    from colorizer.train_config import TrainConfig

LOSS_NAMES = ("D_real", "D_fake", "G_GAN", "G_L1")  # what Pix2Pix.optimize returns, in this order
ADVERSARIAL_LOSS_NAMES = ("D_real", "D_fake", "G_GAN")  # computed only when D trains (zeros, reported None, else)


def set_requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


class Pix2Pix:
    """Generator, discriminator, their optimisers, and one step of the paper's training."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, config: TrainConfig, device: torch.device,
                 mixed_precision: bool | None = None):
        cuda = device.type == "cuda"
        # bf16 autocast + channels_last on CUDA (fp32 on the CPU); False gives the plain fp32 baseline.
        self.mixed_precision = cuda if mixed_precision is None else mixed_precision and cuda
        self.channels_last = config.channels_last
        if self.channels_last is None:
            self.channels_last = self.mixed_precision if cuda else not isinstance(generator, UNetGenerator)
        self.G, self.D = generator.to(device), discriminator.to(device)
        if self.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.G_forward = torch.compile(self.G) if config.compile and cuda else self.G
        self.D_forward = torch.compile(self.D) if config.compile and cuda else self.D
        self.criterion = GANLoss(config.gan_mode).to(device)
        adam = dict(lr=config.lr, betas=(config.beta1, config.beta2), fused=True if cuda else None)
        self.opt_G = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_D = torch.optim.Adam(self.D.parameters(), **adam)
        self.lambda_l1 = config.lambda_l1
        self.device = device

    def autocast(self):
        return autocast(self.device, enabled=self.mixed_precision)

    def backward_D(self, L: torch.Tensor, real_ab: torch.Tensor, fake_ab: torch.Tensor):
        """D learns to call (L, real ab) real and (L, G(L)) fake; the two halves averaged."""
        with self.autocast():
            loss_D_fake = self.criterion(self.D_forward(L, fake_ab.detach()), False)
            loss_D_real = self.criterion(self.D_forward(L, real_ab), True)
            loss_D = (loss_D_fake + loss_D_real) * 0.5
        loss_D.backward()
        return loss_D_real.detach(), loss_D_fake.detach()

    def backward_G(self, L: torch.Tensor, real_ab: torch.Tensor, fake_ab: torch.Tensor, adversarial: bool):
        """G learns to fool D while staying near the truth: GAN + lambda * L1 (L1 alone in stage 1)."""
        with self.autocast():
            loss_G_L1 = F.l1_loss(fake_ab.float(), real_ab) * self.lambda_l1
            if adversarial:
                loss_G_GAN = self.criterion(self.D_forward(L, fake_ab), True, for_discriminator=False)
            else:
                loss_G_GAN = torch.zeros((), device=L.device)
            loss_G = loss_G_GAN + loss_G_L1
        loss_G.backward()
        return loss_G_GAN.detach(), loss_G_L1.detach()

    def optimize(self, L: torch.Tensor, real_ab: torch.Tensor, adversarial: bool = True,
                 hints: torch.Tensor | None = None) -> torch.Tensor:
        """One step on a batch: L (B, 1, S, S), real ab (B, 2, S, S), both normalised; a hint-capable
        G also gets the simulated hints (B, 3, S, S) (colorizer.hints.sample_hints).
        Returns the losses (4,) D_real, D_fake, G_GAN, G_L1 (zeros for D in stage 1), on the device."""
        if self.channels_last:
            L = L.contiguous(memory_format=torch.channels_last)
            real_ab = real_ab.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            fake_ab = self.G_forward(L) if hints is None else self.G_forward(L, hints)  # (B, 2, S, S)
        zero = torch.zeros((), device=L.device)
        loss_D_real = loss_D_fake = zero
        if adversarial:
            set_requires_grad(self.D, True)
            self.opt_D.zero_grad(set_to_none=True)
            loss_D_real, loss_D_fake = self.backward_D(L, real_ab, fake_ab)
            self.opt_D.step()
            set_requires_grad(self.D, False)  # G's step needs no gradients for D's weights
        self.opt_G.zero_grad(set_to_none=True)
        loss_G_GAN, loss_G_L1 = self.backward_G(L, real_ab, fake_ab, adversarial)
        self.opt_G.step()
        return torch.stack([loss_D_real, loss_D_fake, loss_G_GAN, loss_G_L1])


class EMA:
    """An exponential moving average of the generator, with a warm-up so short runs still move."""

    def __init__(self, generator: nn.Module, decay: float):
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(list(self.model.parameters()), list(generator.parameters()), 1 - decay)
        torch._foreach_copy_(list(self.model.buffers()), list(generator.buffers()))  # BatchNorm statistics
