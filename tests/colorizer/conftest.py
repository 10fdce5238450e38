"""Tiny photos and tiny networks: the engine's tests run on two CPU cores in seconds."""

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer.checkpoint import save_generator
from colorizer.model import GeneratorConfig, build_generator

TINY = GeneratorConfig(base_width=8, num_downs=5)  # ~130k parameters, sides a multiple of 32


def colour_photo(seed: int, size: tuple[int, int] = (64, 64)) -> Image.Image:
    """A small colourful picture: four corner colours blended, with a contrasting square."""
    rng = np.random.default_rng(seed)
    width, height = size
    y = np.linspace(0, 1, height)[:, None, None]
    x = np.linspace(0, 1, width)[None, :, None]
    corners = rng.uniform(0, 1, (4, 3))
    pixels = ((1 - y) * (1 - x) * corners[0] + (1 - y) * x * corners[1] + y * (1 - x) * corners[2]
              + y * x * corners[3]) * 255
    pixels[height // 4:height // 2, width // 3:2 * width // 3] = rng.uniform(0, 255, 3)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(10):
        colour_photo(i).save(folder / ("sub" if i % 2 else "") / f"{i:02d}.png")
    return folder


def tiny_generator(seed: int = 0):
    torch.manual_seed(seed)
    return build_generator(TINY)


def vivid_generator(scale: float, seed: int = 1):
    """A tiny generator whose conv weights are scaled up: saturated, dropout-sensitive colours."""
    generator = tiny_generator(seed)
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                module.weight.mul_(scale)
    return generator


@pytest.fixture
def tiny_weights(tmp_path):
    path = tmp_path / "tiny.safetensors"
    save_generator(path, tiny_generator().state_dict(), TINY.to_dict(), extra={"name": "tiny"})
    return path


TINY_HINTS = GeneratorConfig(base_width=8, num_downs=5, hints=True)


def hint_pass_through_generator():
    """A tiny hint-capable U-Net set by hand so that its a/b is tanh(the hinted a/b) on hinted 2x2 blocks
    and 0 (gray) elsewhere: the outermost conv averages (+a, -a, +b, -b) over each 2x2 block (ReLU keeps
    the signs apart), the last transposed conv spreads them back; every other weight is zero."""
    generator = build_generator(TINY_HINTS).eval()
    with torch.no_grad():
        for tensor in generator.state_dict().values():
            if tensor.is_floating_point():
                tensor.zero_()
        down, up = generator.model.model[0], generator.model.model[3]  # (8, 4, 4, 4), (16, 2, 4, 4)
        for channel, (source, sign) in enumerate([(1, 1.0), (1, -1.0), (2, 1.0), (2, -1.0)]):
            down.weight[channel, source, 1:3, 1:3] = 0.25 * sign
            up.weight[channel, channel // 2, 1:3, 1:3] = sign
        for module in generator.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_var.fill_(1.0)
    return generator
