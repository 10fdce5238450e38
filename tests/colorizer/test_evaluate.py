import pytest

from colorizer.evaluate import evaluate, format_table
from colorizer.inference import Colorizer

from .conftest import TINY, tiny_generator

METRIC_KEYS = {"psnr", "ssim", "ciede2000", "delta_e_ab", "auc", "colorfulness", "colorfulness_gap", "fid"}


def test_evaluation_returns_every_metric_for_the_model_and_the_gray_baseline(photo_folder, tiny_weights):
    result = evaluate(tiny_weights, photo_folder, baseline="gray", limit=6, device="cpu")
    assert result["images"] == 6
    assert set(result["model"]) == set(result["gray"]) == METRIC_KEYS
    assert all(isinstance(v, float) for v in result["model"].values())
    assert result["gray"]["colorfulness"] < 1.0 < result["colorfulness_truth"]
    assert result["gray"]["colorfulness_gap"] == pytest.approx(-result["colorfulness_truth"], abs=1.0)
    assert 0 <= result["model"]["auc"] <= 1 and result["model"]["fid"] >= 0
    table = format_table(result)
    assert "FID" in table and "CIEDE2000" in table and "gray" in table


def test_evaluation_without_fid_or_baseline(photo_folder):
    result = evaluate(Colorizer(tiny_generator(), TINY, device="cpu"), photo_folder, baseline=None, fid=False,
                      limit=2)
    assert "gray" not in result and "fid" not in result["model"]


def test_evaluation_refuses_unknown_baselines_and_empty_folders(photo_folder, tiny_weights, tmp_path):
    with pytest.raises(ValueError, match="baseline"):
        evaluate(tiny_weights, photo_folder, baseline="sepia")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no colour photos"):
        evaluate(tiny_weights, tmp_path / "empty", fid=False)
