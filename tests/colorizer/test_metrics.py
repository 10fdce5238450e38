import math

import numpy as np
import pytest
import torch

from colorizer import metrics


def lab(*values):
    return torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1)


@pytest.mark.parametrize("first, second, expected", [  # Sharma, Wu & Dalal (2005), table 1
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
])
def test_ciede2000_matches_the_published_test_pairs(first, second, expected):
    assert metrics.ciede2000(lab(*first), lab(*second)).item() == pytest.approx(expected, abs=1e-4)


def test_ab_error_ignores_lightness():
    assert metrics.delta_ab(lab(20, 3, 4), lab(90, 0, 0)).item() == pytest.approx(5.0)


def test_auc_is_one_for_a_perfect_guess_and_falls_with_the_error():
    zero = torch.zeros(1, 8, 8)
    assert metrics.ab_auc(zero).item() == pytest.approx(1.0)
    assert metrics.ab_auc(torch.full((1, 8, 8), 75.0)).item() == pytest.approx(76 / 151)
    assert metrics.ab_auc(torch.full((1, 8, 8), 500.0)).item() == 0.0


def test_colorfulness_of_gray_is_zero_and_of_colour_is_not():
    gray = torch.rand(1, 1, 16, 16).expand(1, 3, 16, 16)
    assert metrics.colorfulness(gray).item() == pytest.approx(0.0, abs=1e-3)
    assert metrics.colorfulness(torch.rand(1, 3, 16, 16)).item() > 30


def test_psnr_and_ssim_reward_likeness():
    image = torch.rand(2, 3, 32, 32)
    noisy = (image + torch.randn_like(image) * 0.1).clamp(0, 1)
    assert metrics.psnr(image, image).min() > 90
    assert 15 < metrics.psnr(noisy, image).mean() < 25
    assert metrics.ssim(image, image).min() == pytest.approx(1.0, abs=1e-4)
    assert metrics.ssim(noisy, image).max() < 0.95


def test_frechet_distance_is_zero_for_the_same_features_and_grows_with_a_shift():
    features = np.random.default_rng(0).normal(size=(30, 8))
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    assert metrics.frechet_distance(features, features + 1.0) == pytest.approx(8.0, abs=1e-6)
    assert math.isnan(metrics.frechet_distance(features[:1], features))
