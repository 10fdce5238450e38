"""Colour intensity: a/b scaled before the merge, the photo's luminance untouched."""

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import color
from colorizer.inference import Colorizer

from .conftest import TINY, colour_photo, vivid_generator


@pytest.fixture
def vivid_colorizer():
    """A tiny generator pushed to saturated, dropout-sensitive colours."""
    generator = vivid_generator(4)
    return Colorizer(generator, TINY, device="cpu")


def lab(image: Image.Image) -> torch.Tensor:
    rgb = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    return color.rgb_to_lab(rgb)[0]


def test_intensity_scales_the_colour_and_keeps_the_luminance(vivid_colorizer):
    photo = colour_photo(3, (96, 64)).convert("L")

    results = {k: lab(vivid_colorizer.colorize(photo, render_size=64, intensity=k)) for k in (0.5, 1.0, 1.5)}

    chroma = {k: value[1:].norm(dim=0).mean().item() for k, value in results.items()}
    assert chroma[0.5] < chroma[1.0] < chroma[1.5]
    assert chroma[0.5] == pytest.approx(chroma[1.0] / 2, rel=0.15)
    for value in results.values():
        assert torch.allclose(value[0], results[1.0][0], atol=1.0)  # L in 0..100, 8-bit rounding


def test_intensity_one_is_the_standard_result(vivid_colorizer):
    photo = colour_photo(3, (96, 64)).convert("L")

    assert np.array_equal(np.array(vivid_colorizer.colorize(photo, render_size=64)),
                          np.array(vivid_colorizer.colorize(photo, render_size=64, intensity=1.0)))


def test_an_intensity_out_of_range_is_refused(vivid_colorizer):
    with pytest.raises(ValueError, match="intensity"):
        vivid_colorizer.colorize(Image.new("L", (8, 8)), render_size=64, intensity=3.0)
