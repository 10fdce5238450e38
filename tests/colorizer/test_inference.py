import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import color
from colorizer.inference import MAX_RENDER_SIZE, Colorizer, network_size

from .conftest import TINY, colour_photo, tiny_generator, vivid_generator


@pytest.fixture
def colorizer():
    return Colorizer(tiny_generator(), TINY, device="cpu")


@pytest.fixture
def vivid_colorizer():
    """A tiny generator pushed to saturated, dropout-sensitive colours."""
    generator = vivid_generator(8)
    return Colorizer(generator, TINY, device="cpu")


def lightness(image: Image.Image) -> torch.Tensor:
    rgb = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    return color.rgb_to_lab(rgb)[0, 0]


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (3000, 40), (40, 1000)])
def test_odd_sizes_come_back_at_full_resolution(colorizer, size):
    result = colorizer.colorize(colour_photo(0, size).convert("L"))
    assert result.size == size and result.mode == "RGB"


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK", "1", "F"])
def test_every_input_mode_colorizes(colorizer, mode):
    source = colour_photo(1, (48, 40))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(source.convert("L"), dtype=np.uint16) * 257)
    elif mode == "F":
        image = Image.fromarray(np.asarray(source.convert("L"), dtype=np.float32) / 255)
    else:
        image = source.convert(mode)
    assert image.mode == mode
    result = colorizer.colorize(image)
    assert result.size == (48, 40)
    assert result.mode == ("RGBA" if mode in ("LA", "RGBA") else "RGB")
    expected = lightness(source.convert("L")) if mode not in ("RGB", "RGBA", "P", "CMYK", "1") else None
    if mode == "1":
        expected = lightness(source.convert("1").convert("L"))
    elif mode in ("RGB", "RGBA"):
        expected = lightness(source)  # a colour photo is treated as its luminance
    if expected is not None:
        assert (lightness(result) - expected).abs().max() < 1.0


def test_alpha_survives(colorizer):
    image = colour_photo(2, (32, 32)).convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize((32, 32)))
    result = colorizer.colorize(image)
    assert np.array_equal(np.asarray(result.getchannel("A")), np.asarray(image.getchannel("A")))


def test_exif_orientation_is_applied(colorizer):
    image = colour_photo(3, (60, 30)).convert("L")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    buffer = __import__("io").BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    result = colorizer.colorize(Image.open(buffer))
    assert result.size == (30, 60)
    upright = image.transpose(Image.Transpose.ROTATE_270)
    assert (lightness(result) - lightness(upright)).abs().mean() < 1.5  # JPEG loss only


def test_the_output_keeps_the_input_lightness_even_for_vivid_colours(vivid_colorizer):
    gray = colour_photo(4, (160, 120)).convert("L")
    result = vivid_colorizer.colorize(gray)
    rgb = np.asarray(result, dtype=np.int16)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 20  # it is colourful
    assert (lightness(result) - lightness(gray)).abs().max() < 1.0


def test_sixteen_bit_input_keeps_its_lightness(colorizer):
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    image = Image.fromarray(ramp)
    assert image.mode == "I;16"
    result = colorizer.colorize(image)
    expected = color.gray_levels(16).lightness(torch.from_numpy(ramp.astype(np.int32)))
    assert (lightness(result) - expected).abs().max() < 1.0


def test_seeded_variations_are_reproducible_and_differ(vivid_colorizer):
    gray = colour_photo(5, (64, 64)).convert("L")
    first = np.asarray(vivid_colorizer.colorize(gray, seed=1))
    again = np.asarray(vivid_colorizer.colorize(gray, seed=1))
    other = np.asarray(vivid_colorizer.colorize(gray, seed=2))
    plain = np.asarray(vivid_colorizer.colorize(gray))
    assert np.array_equal(first, again)
    assert np.abs(first.astype(int) - other).mean() > 1
    assert np.array_equal(plain, np.asarray(vivid_colorizer.colorize(gray)))  # no seed: deterministic
    assert all(not m.training for m in vivid_colorizer.generator.modules())  # dropout is off again


def test_a_batch_gives_what_single_calls_give(colorizer):
    images = [colour_photo(i, size).convert("L") for i, size in enumerate([(64, 64), (64, 64), (50, 90)])]
    batch = colorizer.colorize_batch(images)
    for image, result in zip(images, batch):
        single = np.asarray(colorizer.colorize(image), dtype=int)
        assert np.abs(np.asarray(result, dtype=int) - single).max() <= 1


def test_render_size_is_validated(colorizer):
    with pytest.raises(ValueError, match="render size"):
        colorizer.colorize(colour_photo(0), render_size=MAX_RENDER_SIZE + 1)


def test_network_size_keeps_aspect_and_multiple():
    assert network_size(768, 1024, 256, 32) == (224, 288)
    assert network_size(1, 1, 256, 32) == (256, 256)
    height, width = network_size(40, 3000, 256, 32)
    assert height == 32 and width % 32 == 0


def test_extreme_strips_cost_at_most_four_render_sizes_per_side():
    assert network_size(1, 100_000, 256, 256) == (256, 1024)  # the paper U-Net's sides are multiples of 256
    assert network_size(100_000, 1, 256, 32) == (1024, 32)
    assert network_size(40, 3000, 512, 32) == (64, 2048)


def test_a_long_thin_strip_colorizes_at_full_size(colorizer):
    strip = Image.new("L", (20_000, 3), 128)
    result = colorizer.colorize(strip)
    assert result.size == (20_000, 3) and result.mode == "RGB"
