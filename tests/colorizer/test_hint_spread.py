"""Spreading hints over their regions (colorizer.hint_spread): the normalised convolution, and the gate
that a hint-capable pretrained-encoder network learns."""

import torch

from colorizer.hint_spread import GATE_GAIN, SCALES, HintBlend, spread_hints
from colorizer.model import GeneratorConfig, build_generator

TINY_LITE = GeneratorConfig(arch="efficientnet_lite0", decoder_widths=(16, 16, 8, 8, 8), dropout=0.0, hints=True)


def one_hint(a: float, b: float, size: int = 128, at: tuple[int, int] = (20, 30), side: int = 5) -> torch.Tensor:
    hints = torch.zeros(1, 3, size, size)
    rows, columns = slice(at[0], at[0] + side), slice(at[1], at[1] + side)
    hints[0, 0, rows, columns], hints[0, 1, rows, columns], hints[0, 2, rows, columns] = a, b, 1.0
    return hints


def test_a_hints_colour_spreads_around_it_with_confidence_that_falls_with_distance():
    spread, confidence = spread_hints(one_hint(0.4, -0.2))

    assert spread.shape == (1, 2 * len(SCALES), 128, 128) and confidence.shape == (1, len(SCALES), 128, 128)
    for scale in range(len(SCALES)):
        near = spread[0, 2 * scale:2 * scale + 2, 24, 34]
        assert torch.allclose(near, torch.tensor([0.4, -0.2]), atol=1e-4)  # one hint: its colour, unchanged
        assert confidence[0, scale, 22, 32] > 0.9 > 0.1 > confidence[0, scale, 120, 120]
    assert confidence[0, 1, 60, 70] > confidence[0, 0, 60, 70]  # the large scale reaches further


def test_two_hints_meet_in_a_weighted_average_and_no_hints_give_no_confidence():
    hints = one_hint(0.5, 0.0, at=(60, 10)) + one_hint(-0.5, 0.0, at=(60, 110))
    spread, _ = spread_hints(hints)
    assert spread[0, 2, 62, 12] > 0.3 and spread[0, 2, 62, 112] < -0.3 and abs(spread[0, 2, 62, 62]) < 0.05

    _, confidence = spread_hints(torch.zeros(2, 3, 64, 64))
    assert confidence.abs().max() == 0


def test_a_closed_gate_changes_nothing_and_an_open_one_moves_colour_toward_the_hint():
    blend = HintBlend(feature_channels=8)
    ab, features, hints = torch.zeros(1, 2, 128, 128), torch.randn(1, 8, 128, 128), one_hint(0.4, -0.2)
    assert torch.equal(blend(ab, features, hints), ab)  # zero-initialised

    with torch.no_grad():
        blend.gate.bias.fill_(1 / GATE_GAIN)  # fully open at both scales
    moved = blend(ab, features, hints)
    assert moved[0, 0, 40, 50] > 0.2 and moved[0, 1, 40, 50] < -0.1  # well outside the 5x5 patch
    assert moved.abs().max() <= 1


def test_a_hint_capable_network_with_an_open_gate_colours_the_region_around_a_hint():
    torch.manual_seed(0)
    network = build_generator(TINY_LITE, load_pretrained=False).eval()
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    hints = one_hint(0.6, 0.3, size=64, at=(30, 30), side=3)
    with torch.no_grad():
        assert torch.equal(network(L, hints), network(L))  # nothing learned yet: hints change nothing
        network.hint_blend.gate.bias.fill_(1 / GATE_GAIN)
        moved = network(L, hints) - network(L)
    assert moved[0, 0, 20:44, 20:44].mean() > 0.1  # a region, not only the hinted pixels
