import pytest
import torch

from colorizer.perceptual import FeatureLoss


@pytest.mark.slow
def test_the_feature_loss_is_zero_for_the_true_colours_and_pulls_others_toward_them():
    torch.manual_seed(0)
    loss_fn = FeatureLoss()  # the shipped ImageNet weights
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    truth = torch.rand(2, 2, 32, 32) * 0.6 - 0.3
    assert float(loss_fn(L, truth, truth)) == 0.0
    guess = torch.zeros_like(truth, requires_grad=True)
    loss = loss_fn(L, guess, truth)
    loss.backward()
    assert loss > 0 and guess.grad.abs().sum() > 0
    with torch.no_grad():
        stepped = guess - 0.01 * guess.grad.sign()
    assert loss_fn(L, stepped, truth) < loss


def test_the_loss_network_stays_frozen_in_training_mode():
    loss_fn = FeatureLoss(weights=None).train()
    assert not loss_fn.network.training
    assert not any(p.requires_grad for p in loss_fn.parameters())
