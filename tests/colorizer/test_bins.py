import pytest
import torch

from colorizer.bins import ColourBins, bin_count, gamut_grid
from colorizer.color import AB_SCALE, rgb_to_lab
from colorizer.model import GeneratorConfig, build_generator


@pytest.fixture(scope="module")
def bins():
    return ColourBins(step=10)


def test_the_gamut_keeps_only_bins_that_some_srgb_colour_reaches(bins):
    assert bin_count(10) == bins.count == 257
    grid = gamut_grid(10)
    assert grid[0, 0] == -1  # a = b = -110: no sRGB colour is that green and that blue at once
    centre = grid.shape[0] // 2
    assert grid[centre, centre] >= 0  # gray
    # the sRGB primaries, the most saturated colours there are, all land in the gamut
    primaries = rgb_to_lab(torch.eye(3).T.reshape(1, 3, 3, 1))[:, 1:]  # (1, 2, 3, 1) a/b of red, green, blue
    index, weight = bins.soft_encode(primaries / AB_SCALE)
    assert (weight.sum(1) > 0.99).all()


def test_a_step_that_does_not_tile_the_plane_is_refused():
    with pytest.raises(ValueError, match="must divide"):
        gamut_grid(7)


def test_soft_targets_sum_to_one_and_peak_at_the_nearest_bin(bins):
    ab = torch.rand(2, 2, 5, 5) * 0.4 - 0.2  # well inside the gamut
    index, weight = bins.soft_encode(ab)
    assert index.shape == weight.shape == (2, 16, 5, 5)
    assert torch.allclose(weight.sum(1), torch.ones(2, 5, 5), atol=1e-5)
    nearest = bins.centres[bins.nearest(ab)]  # (2, 5, 5, 2)
    distance = (nearest.permute(0, 3, 1, 2) - ab).abs().max() * AB_SCALE
    assert distance <= 5 + 1e-3  # half a step


def test_the_annealed_mean_runs_from_the_mean_to_the_mode(bins):
    logits = torch.zeros(1, bins.count, 1, 1)
    logits[0, 10] = 3.0
    logits[0, 200] = 2.0
    mean = bins.annealed_mean(logits, temperature=1.0)
    p = torch.softmax(logits[0, :, 0, 0], 0)
    assert torch.allclose(mean[0, :, 0, 0], p @ bins.centres, atol=1e-5)
    mode = bins.annealed_mean(logits, temperature=0.02)
    assert torch.allclose(mode[0, :, 0, 0], bins.centres[10], atol=1e-4)


def test_cross_entropy_prefers_logits_that_put_mass_on_the_true_colour(bins):
    ab = torch.full((1, 2, 4, 4), 0.3)
    target = bins.soft_encode(ab)
    right = torch.zeros(1, bins.count, 4, 4)
    right[:, bins.nearest(ab)[0, 0, 0]] = 5.0
    wrong = torch.zeros(1, bins.count, 4, 4)
    wrong[:, 0] = 5.0
    assert bins.cross_entropy(right, target) < bins.cross_entropy(wrong, target)


def test_rebalancing_weights_rare_colours_up_and_common_ones_down(bins):
    ab = torch.zeros(1, 2, 8, 8)
    ab[..., :2] = 0.5  # a few saturated pixels among many gray ones
    counts = bins.histogram(ab)
    bins.set_rebalancing(counts, strength=0.5)
    gray, saturated = bins.nearest(ab)[0, 0, 7], bins.nearest(ab)[0, 0, 0]
    assert bins.weights[gray] < bins.weights[saturated] < bins.weights.max()  # rarer counts more
    with pytest.raises(ValueError):
        bins.set_rebalancing(counts, strength=0)


def test_a_bins_generator_returns_bounded_ab_at_the_input_size():
    config = GeneratorConfig(arch="efficientnet_lite0", decoder_widths=(16, 8, 8, 8, 8), head="bins")
    net = build_generator(config).eval()
    assert len(net.decoder) == 4  # the full-resolution block is not built
    with torch.no_grad():
        ab = net(torch.rand(2, 1, 64, 96) * 2 - 1)
    assert ab.shape == (2, 2, 64, 96) and ab.abs().max() <= 1


def test_the_bins_head_is_refused_for_the_paper_unet_and_bad_temperatures():
    with pytest.raises(ValueError, match="pretrained-encoder"):
        GeneratorConfig(arch="unet", head="bins")
    with pytest.raises(ValueError, match="temperature"):
        GeneratorConfig(arch="efficientnet_lite0", head="bins", temperature=0)
    with pytest.raises(ValueError, match="head"):
        GeneratorConfig(arch="efficientnet_lite0", head="softmax")


def test_a_bins_generator_file_passes_the_shape_checks_that_build_on_the_meta_device(tmp_path):
    from colorizer.checkpoint import load_generator, save_generator
    from colorizer.inference import Colorizer

    from colorizer.bins import _gamut_grid

    config = GeneratorConfig(arch="efficientnet_lite0", decoder_widths=(16, 8, 8, 8, 8), head="bins")
    save_generator(tmp_path / "g.safetensors", build_generator(config).state_dict(), config.to_dict())
    _gamut_grid.cache_clear()  # the first grid of the process is computed while the checks build on meta
    state, loaded, _ = load_generator(tmp_path / "g.safetensors")
    assert loaded["head"] == "bins" and "head.weight" in state
    assert Colorizer.load(tmp_path / "g.safetensors", device="cpu").config.head == "bins"
