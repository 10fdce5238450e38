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
