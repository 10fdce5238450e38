"""User colour hints in the engine: hint-capable generators, simulated and user hints, the API."""

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import color
from colorizer.checkpoint import load_generator, save_generator
from colorizer.hints import MAX_HINTS, HintError, encode_hints, sample_hints, truth_hints, with_hint_inputs
from colorizer.inference import Colorizer
from colorizer.model import GeneratorConfig, build_generator

from .conftest import TINY, TINY_HINTS, colour_photo, hint_pass_through_generator, tiny_generator

TINY_RESNET = GeneratorConfig(arch="resnet18", decoder_widths=(16, 16, 8, 8, 8), dropout=0.0)
TINY_LITE = GeneratorConfig(arch="efficientnet_lite0", decoder_widths=(16, 16, 8, 8, 8), dropout=0.0, head="bins")


def hint_capable_copy(generator, config):
    hinted_config = GeneratorConfig.from_dict({**config.to_dict(), "hints": True})
    hinted = build_generator(hinted_config, load_pretrained=False)
    hinted.load_state_dict(with_hint_inputs(generator.state_dict(), hinted_config))
    return hinted.eval()


@pytest.mark.parametrize("config", [TINY, TINY_RESNET, TINY_LITE], ids=["unet", "resnet18", "efficientnet_lite0-bins"])
def test_it_starts_a_hint_capable_generator_identical_to_the_one_it_came_from(config):
    torch.manual_seed(0)
    original = build_generator(config, load_pretrained=False).eval()
    hinted = hint_capable_copy(original, config)
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = original(L)
        assert torch.allclose(hinted(L), expected, atol=1e-6)
        assert torch.allclose(hinted(L, torch.zeros(2, 3, 64, 64)), expected, atol=1e-6)
        some_hints = torch.zeros(2, 3, 64, 64)
        some_hints[:, :, 10:15, 10:15] = 0.5
        assert torch.allclose(hinted(L, some_hints), expected, atol=1e-6)  # zero-initialised: not yet listening


def test_it_simulates_hints_as_patches_carrying_the_true_mean_colour():
    real_ab = torch.rand(64, 2, 32, 32) * 2 - 1
    hints = sample_hints(real_ab, torch.Generator().manual_seed(0))
    counts = hints[:, 2].flatten(1).sum(1)
    assert (counts == 0).any() and (counts > 0).any()  # often none, often some
    assert set(hints[:, 2].unique().tolist()) <= {0.0, 1.0}
    assert (hints[:, :2] * (1 - hints[:, 2:])).abs().max() == 0  # colour only under the mask
    one = truth_hints(real_ab[:1], 1, torch.Generator().manual_seed(3))
    mask = one[0, 2].bool()
    assert mask.sum() == 25  # one 5x5 patch
    assert torch.allclose(one[0, :2][:, mask][:, 0], real_ab[0][:, mask].mean(1), atol=1e-6)


def test_it_refuses_bad_hints_with_a_clear_error(tmp_path):
    photo = colour_photo(0, (64, 48))
    hinted = Colorizer(hint_pass_through_generator(), TINY_HINTS, device="cpu")
    plain = Colorizer(tiny_generator(), TINY, device="cpu")
    bad = {"outside": [(64, 10, (1, 2, 3))], "negative": [(-1, 10, (1, 2, 3))], "not a triple": [(1, 2)],
           "colour out of range": [(1, 2, (0, 0, 256))], "colour not whole": [(1, 2, (0.5, 0, 0))],
           "not a list": "10,10,#ff0000", "too many": [(1, 1, (0, 0, 0))] * (MAX_HINTS + 1)}
    for name, hints in bad.items():
        with pytest.raises(HintError):
            hinted.colorize(photo, hints=hints)
    with pytest.raises(HintError, match="does not take colour hints"):
        plain.colorize(photo, hints=[(1, 1, (255, 0, 0))])
    assert issubclass(HintError, ValueError)
    assert plain.colorize(photo, hints=[]).size == photo.size  # no hints: as today
    assert hinted.colorize(photo, hints=[(1, 1, (255, 0, 0))] * MAX_HINTS).size == photo.size


def test_it_colours_the_hinted_place_by_construction_and_keeps_the_photo_luminance():
    photo = Image.fromarray(np.full((96, 128), 128, np.uint8), "L")
    colorizer = Colorizer(hint_pass_through_generator(), TINY_HINTS, device="cpu")
    without = np.asarray(colorizer.colorize(photo, render_size=64)).astype(int)
    with_hint = np.asarray(colorizer.colorize(photo, render_size=64, hints=[(100, 20, (200, 40, 40))])).astype(int)
    assert np.abs(without[..., 0] - without[..., 2]).max() <= 1  # gray without hints
    assert with_hint[20, 100, 0] - with_hint[20, 100, 2] > 40  # red where the hint is
    assert np.abs(with_hint[80, 20, 0] - with_hint[80, 20, 2]) <= 1  # and nowhere far from it
    lightness = color.rgb_to_lab(torch.from_numpy(with_hint).permute(2, 0, 1)[None].float() / 255)[0, 0]
    expected = color.rgb_to_lab(torch.full((1, 3, 1, 1), 128 / 255))[0, 0, 0, 0]
    assert (lightness - expected).abs().max() < 1.0  # the photo's own luminance


def test_it_maps_hints_in_upright_photo_pixels_to_the_render_size_through_exif_rotation(tmp_path):
    stored = Image.fromarray(np.full((40, 80), 128, np.uint8), "L")  # landscape as stored...
    exif = stored.getexif()
    exif[0x0112] = 6  # ...shown rotated 90 degrees clockwise: upright it is 40 wide, 80 high
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif.tobytes(), quality=95)
    colorizer = Colorizer(hint_pass_through_generator(), TINY_HINTS, device="cpu")
    with Image.open(path) as image:
        result = np.asarray(colorizer.colorize(image, render_size=64, hints=[(30, 70, (40, 200, 40))])).astype(int)
    assert result.shape[:2] == (80, 40)
    assert result[70, 30, 1] - result[70, 30, 0] > 30  # green where the upright photo was clicked
    assert abs(result[10, 10, 1] - result[10, 10, 0]) <= 2
    encoded = encode_hints([(30.0, 70.0, (40, 200, 40))], (80, 40), (128, 64))  # (3, h, w)
    assert encoded[2, 112, 48] == 1 and encoded[2].sum() == 9


def test_a_saved_hint_capable_generator_reloads_as_one(tmp_path):
    path = tmp_path / "hints.safetensors"
    save_generator(path, hint_pass_through_generator().state_dict(), TINY_HINTS.to_dict())
    assert Colorizer.load(path, device="cpu").takes_hints
    _, config, _ = load_generator(path)
    assert config["hints"] is True
