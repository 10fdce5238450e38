"""Colour as classification (Zhang, Isola and Efros, "Colorful Image Colorization", 2016).

The a/b plane is cut into square bins of `step` Lab units; the bins that some sRGB colour
reaches (at any lightness) form the gamut, Q of them (257 for the paper's step of 10 over |a|, |b| <= 110). A
generator with a "bins" head predicts, per pixel, a distribution over these Q colours:

    bins = ColourBins(step=10)                       # centres (Q, 2) in Lab units
    target = bins.soft_encode(ab)                    # (B, K, H, W) indices and weights of the nearby bins
    loss = bins.cross_entropy(logits, target)        # (B, Q, H, W) logits, optionally rebalanced
    ab = bins.annealed_mean(logits, temperature=0.38)  # (B, 2, H, W), normalised like the tanh head

Where L1 regression averages the plausible colours of an object to beige, the distribution
keeps them apart; the annealed mean (the softmax sharpened by 1/T) then picks a vivid colour
while staying spatially smooth. T = 1 is the plain mean, T -> 0 the mode.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from colorizer.color import AB_SCALE, lab_to_rgb

SOFT_SIGMA = 5.0  # Lab units: the Gaussian that spreads a true colour over its neighbouring bins (the paper)


def gamut_grid(step: int) -> torch.Tensor:
    """(G, G) long: the bin index of each grid cell of the a/b plane, -1 outside the sRGB gamut.

    Grid cell (i, j) is centred on a = -AB_SCALE + i * step, b = -AB_SCALE + j * step. A cell is
    in the gamut when some lightness puts some point of the cell inside sRGB.
    """
    if step <= 0 or (2 * AB_SCALE) % step:
        raise ValueError(f"bin step must divide {2 * AB_SCALE:.0f}; got {step}")
    # On the CPU even where a network is being built on the meta device (a file's shapes are checked
    # that way before anything is allocated): the grid is data, not a parameter.
    with torch.device("cpu"):
        return _gamut_grid(step).clone()


@functools.lru_cache(maxsize=8)
def _gamut_grid(step: int) -> torch.Tensor:
    side = int(2 * AB_SCALE // step) + 1
    centres = torch.arange(side, dtype=torch.float64) * step - AB_SCALE  # (G,)
    offsets = torch.linspace(-step / 2, step / 2, 5, dtype=torch.float64)  # probe points across a cell
    a = (centres[:, None] + offsets[None, :]).reshape(-1)  # (G*5,)
    lightness = torch.arange(0, 101, 2, dtype=torch.float64)  # (51,)
    A, B, Lg = torch.meshgrid(a, a, lightness, indexing="ij")  # (G*5, G*5, 51)
    lab = torch.stack([Lg, A, B]).reshape(3, -1, 1).float()
    rgb = lab_to_rgb(lab.unsqueeze(0), clip=False)[0].reshape(3, side * 5, side * 5, -1)
    inside = ((rgb >= 0) & (rgb <= 1)).all(0).any(-1)  # (G*5, G*5): a probe point in gamut at some L
    cell = inside.reshape(side, 5, side, 5).any(3).any(1)  # (G, G)
    grid = torch.full((side, side), -1, dtype=torch.long)
    grid[cell] = torch.arange(int(cell.sum()))
    return grid


def bin_count(step: int) -> int:
    """Q, the number of in-gamut bins for this step (257 for step 10)."""
    return int((gamut_grid(step) >= 0).sum())


class ColourBins(nn.Module):
    """The quantised a/b gamut: soft targets, a (rebalanced) cross-entropy and the annealed mean."""

    def __init__(self, step: int = 10):
        super().__init__()
        self.step = step
        grid = gamut_grid(step)
        side = grid.shape[0]
        i, j = torch.nonzero(grid >= 0, as_tuple=True)  # row-major order: the bin numbering of gamut_grid
        centres = torch.stack([i, j], dim=1).float() * step - AB_SCALE  # (Q, 2) Lab units
        self.register_buffer("centres", centres / AB_SCALE, persistent=False)  # (Q, 2) normalised
        self.register_buffer("grid", grid, persistent=False)  # (G, G)
        self.register_buffer("weights", torch.ones(len(centres)), persistent=False)  # (Q,) rebalancing
        self.side = side

    @property
    def count(self) -> int:
        return self.centres.shape[0]

    # ---- targets

    def soft_encode(self, ab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised ab (B, 2, H, W) -> (indices (B, 16, H, W), weights (B, 16, H, W)).

        Each pixel's colour is spread over the 4x4 grid cells around it with a Gaussian of
        SOFT_SIGMA (the paper uses the 5 nearest bins; past the 4x4 cells the weight is < 1%).
        Cells outside the gamut get weight 0; the weights of a pixel sum to 1.
        """
        ab = ab.float() * AB_SCALE  # Lab units
        u = (ab + AB_SCALE) / self.step  # (B, 2, H, W) grid coordinates
        base = u.floor() - 1  # the 4x4 neighbourhood starts one cell below
        offsets = torch.arange(4, device=ab.device, dtype=ab.dtype)
        ia = (base[:, 0:1, None] + offsets.view(1, 4, 1, 1, 1))  # (B, 4, 1, H, W)
        ib = (base[:, 1:2, None] + offsets.view(1, 1, 4, 1, 1))  # (B, 1, 4, H, W)
        da = (ia - u[:, 0:1, None]) * self.step
        db = (ib - u[:, 1:2, None]) * self.step
        weight = torch.exp(-(da.square() + db.square()) / (2 * SOFT_SIGMA**2))  # (B, 4, 4, H, W)
        ia = ia.long().clamp(0, self.side - 1).expand_as(weight)
        ib = ib.long().clamp(0, self.side - 1).expand_as(weight)
        index = self.grid[ia, ib]  # (B, 4, 4, H, W), -1 outside the gamut
        weight = torch.where(index >= 0, weight, torch.zeros_like(weight))
        weight = weight / weight.sum(dim=(1, 2), keepdim=True).clamp_min(1e-12)
        shape = (ab.shape[0], 16, *ab.shape[-2:])
        return index.clamp_min(0).reshape(shape), weight.reshape(shape)

    def nearest(self, ab: torch.Tensor) -> torch.Tensor:
        """Normalised ab (B, 2, H, W) -> the index of the nearest in-gamut bin (B, H, W)."""
        index, weight = self.soft_encode(ab)
        return index.gather(1, weight.argmax(1, keepdim=True)).squeeze(1)

    # ---- losses and decoding

    def cross_entropy(self, logits: torch.Tensor, target: tuple[torch.Tensor, torch.Tensor],
                      rebalance: bool = False) -> torch.Tensor:
        """Soft-target cross-entropy of logits (B, Q, H, W), averaged over pixels; with `rebalance`
        each pixel counts by the rarity weight of its most likely bin (set_rebalancing)."""
        index, weight = target
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, index)  # (B, 16, H, W)
        loss = -(weight * log_p).sum(1)  # (B, H, W)
        if rebalance:
            loss = loss * self.weights[index.gather(1, weight.argmax(1, keepdim=True)).squeeze(1)]
        return loss.mean()

    def annealed_mean(self, logits: torch.Tensor, temperature: float = 0.38) -> torch.Tensor:
        """Logits (B, Q, H, W) -> normalised ab (B, 2, H, W): the mean of softmax(logits / T)."""
        p = F.softmax(logits.float() / temperature, dim=1)
        return torch.einsum("bqhw,qc->bchw", p, self.centres)

    # ---- class rebalancing

    @torch.no_grad()
    def histogram(self, ab: torch.Tensor) -> torch.Tensor:
        """Counts (Q,) of the nearest bins of normalised ab (B, 2, H, W)."""
        return torch.bincount(self.nearest(ab).flatten(), minlength=self.count).float()

    @torch.no_grad()
    def set_rebalancing(self, counts: torch.Tensor, strength: float = 0.5) -> None:
        """Weights from the bins' empirical counts (Q,): w ~ 1 / ((1 - s) * p_smooth + s / Q)
        normalised to an expected weight of 1. s = 0.5 is the paper's; s = 1 turns it off."""
        if not 0 < strength <= 1:
            raise ValueError("rebalancing strength must be in (0, 1]")
        p = counts.float().to(self.centres.device)
        p = p / p.sum().clamp_min(1)
        # Smooth the distribution over the a/b plane with the paper's Gaussian (sigma 5).
        d2 = torch.cdist(self.centres, self.centres).square() * AB_SCALE**2
        kernel = torch.exp(-d2 / (2 * SOFT_SIGMA**2))
        p = kernel @ p
        p = p / p.sum()
        w = 1 / ((1 - strength) * p + strength / self.count)
        self.weights.copy_(w / (p * w).sum())
