import warnings

import torch

from colorizer.precision import autocast


def test_bf16_autocast_only_on_cuda_and_only_when_enabled():
    x = torch.ones(2, 2)
    with autocast(torch.device("cpu")):
        assert (x @ x).dtype == torch.float32  # the CPU stays fp32: bf16 there is slow without AMX/AVX-512
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available" on a CPU-only machine
        assert isinstance(autocast(torch.device("cuda")), torch.autocast)
        assert not isinstance(autocast(torch.device("cuda"), enabled=False), torch.autocast)
