import numpy as np
import pytest
import torch

from colorizer import color


def lab_of(*rgb):
    return color.rgb_to_lab(torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1)).flatten().tolist()


def test_white_has_lightness_100_and_no_colour():
    L, a, b = lab_of(1.0, 1.0, 1.0)
    assert L == pytest.approx(100, abs=0.01) and a == pytest.approx(0, abs=0.01) and b == pytest.approx(0, abs=0.01)


def test_pure_red_has_its_textbook_lab_values():
    assert lab_of(1.0, 0.0, 0.0) == pytest.approx([53.24, 80.09, 67.20], abs=0.02)


def test_rgb_survives_a_lab_round_trip():
    rgb = torch.rand(2, 3, 8, 8)
    assert torch.allclose(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-4)


def test_the_network_sees_both_channels_in_minus_one_to_one():
    rgb = torch.rand(4, 3, 16, 16)
    rgb[0] = 0  # black
    rgb[1] = 1  # white
    rgb[2, 0], rgb[2, 1:] = 0, 1  # cyan: strongly negative a
    L, ab = color.rgb_to_model_pair(rgb)
    assert L.min() >= -1 and L.max() <= 1 + 1e-6 and ab.abs().max() <= 1
    assert L[0].max() == pytest.approx(-1, abs=1e-4) and L[1].min() == pytest.approx(1, abs=1e-4)
    assert torch.allclose(color.model_pair_to_rgb(L, ab), rgb, atol=2e-3)


def test_gray_levels_know_their_lightness():
    tables = color.gray_levels(8)
    assert tables.lightness(torch.tensor([0, 255])).tolist() == pytest.approx([0, 100], abs=1e-3)
    assert tables.lightness(torch.tensor([119])).item() == pytest.approx(lab_of(119 / 255, 119 / 255, 119 / 255)[0],
                                                                        abs=0.01)


def test_compose_matches_kornia_for_colours_inside_the_gamut():
    levels = torch.randint(0, 256, (40, 50), dtype=torch.uint8)
    ab = torch.randn(2, 40, 50) * 12
    out = color.compose_srgb(levels, color.gray_levels(8), ab)  # (40, 50, 3) uint8
    lab = torch.cat([color.gray_levels(8).lightness(levels)[None], ab])[None]
    reference = color.lab_to_rgb(lab, clip=False)[0]
    inside = ((reference >= 0) & (reference <= 1)).all(dim=0)
    assert inside.float().mean() > 0.5
    got = torch.from_numpy(out).permute(2, 0, 1).float() / 255
    assert (got - reference)[:, inside].abs().max() * 255 <= 0.6  # rounding only


def test_compose_keeps_the_lightness_of_out_of_gamut_colours():
    levels = torch.arange(256, dtype=torch.uint8).view(16, 16)
    ab = torch.tensor([110.0, -110.0]).view(2, 1, 1).expand(2, 16, 16)  # far outside sRGB everywhere
    out = torch.from_numpy(color.compose_srgb(levels, color.gray_levels(8), ab)).permute(2, 0, 1)[None].float() / 255
    lightness = color.rgb_to_lab(out)[0, 0]
    assert (lightness - color.gray_levels(8).lightness(levels)).abs().max() < 1.0
    # pulled towards gray, not clipped into another hue: a > 0 and b < 0 survive where there is room
    lab = color.rgb_to_lab(out)[0, :, 5:12]
    assert (lab[1] > 5).all() and (lab[2] < -5).all()


def test_compose_upsamples_low_resolution_colour_like_bilinear_interpolation():
    levels = torch.full((30, 45), 140, dtype=torch.uint8)
    ab = torch.randn(2, 6, 9) * 8
    out = torch.from_numpy(color.compose_srgb(levels, color.gray_levels(8), ab)).permute(2, 0, 1)[None].float() / 255
    expected = torch.nn.functional.interpolate(ab[None], size=(30, 45), mode="bilinear", align_corners=False)[0]
    assert (color.rgb_to_lab(out)[0, 1:] - expected).abs().max() < 1.0


def test_compose_handles_tiny_and_non_finite_inputs():
    out = color.compose_srgb(torch.tensor([[0]], dtype=torch.uint8), color.gray_levels(8),
                             torch.tensor([[[float("nan")]], [[float("inf")]]]))
    assert out.shape == (1, 1, 3) and out.tolist() == [[[0, 0, 0]]]


def test_rgb_luminance_levels_are_the_cie_luminance():
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    levels = color.rgb8_to_linear_levels(rgb[..., 0], rgb[..., 1], rgb[..., 2])
    lightness = color.linear_levels().lightness(levels)
    expected = color.rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255)[0, 0]
    assert (lightness - expected).abs().max() < 0.02

