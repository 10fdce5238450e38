"""Mixed precision: the one place that decides when the networks run in bf16.

bf16 autocast on CUDA only. On the CPU it stays fp32: bf16 autocast there is fast only on CPUs
with AMX or AVX-512 (bf16) and several times slower on the rest, which a web server cannot assume.
"""

from __future__ import annotations

import contextlib

import torch


def autocast(device: torch.device, enabled: bool = True):
    """A context that runs the ops inside it in bf16 on a CUDA device; a no-op on the CPU or when not enabled."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)  # bf16: fp32's range, so no loss scaling
    return contextlib.nullcontext()
